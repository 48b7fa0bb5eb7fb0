"""PaddleClas's own package, imported as it imports itself (``ppcls``): to build its networks, e.g. to save
weights in its format. Not needed to read its configs or weights."""
import importlib
import importlib.util
import os
import sys

PADDLECLAS_INSTALL = "pip install --no-deps paddleclas==2.6.0 six requests tqdm"


def import_ppcls(module="ppcls.arch.backbone"):
    """A module of the installed ``paddleclas`` package (it imports itself as ``ppcls``), its logger set up.

    Only needed to build PaddleClas's own networks (e.g. to save weights in its format); without the
    package it is a one-line ImportError with the install command.
    """
    spec = importlib.util.find_spec("paddleclas")
    if spec is None or spec.origin is None:
        raise ImportError(f"importing {module} needs the paddleclas package, which is not installed: "
                          f"{PADDLECLAS_INSTALL} (--no-deps: paddleclas pins numpy==1.24.4; keep yours)")
    root = os.path.dirname(spec.origin)
    if root not in sys.path:
        sys.path.insert(0, root)
    importlib.import_module("ppcls.utils.logger").init_logger()
    return importlib.import_module(module)
