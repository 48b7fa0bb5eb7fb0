"""Pretrained weights: the file of ``pretrained=True`` and :func:`load_pretrained`, the one loader of weight files.

``pretrained=True`` is the ImageNet weight file of a model name, found where Paddle caches downloads; ppnorm never
downloads. ``resnet*`` and ``densenet*`` use the files (and URLs) of
``paddle.vision.models``; ``resnet*_vd`` use PaddleClas's. The file is looked for in Paddle's
weight cache (``paddle.utils.download.WEIGHTS_HOME``, ``~/.cache/paddle/hapi/weights``), then in
PaddleClas's (``~/.paddleclas/weights``).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Union

from ..weights import CheckpointError, load_line, load_strict, read_file, strip_suffix
from .convert import to_ppnorm

if TYPE_CHECKING:
    import paddle

PADDLECLAS_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/{}_pretrained.pdparams"
PADDLECLAS_CACHE = os.path.join("~", ".paddleclas", "weights")


def weight_urls() -> Dict[str, str]:
    """``{model name: download URL}`` for every name with published ImageNet weights."""
    from paddle.vision.models import densenet, resnet
    urls = {name: url for name, (url, _md5) in {**resnet.model_urls, **densenet.model_urls}.items()
            if name.startswith(("resnet1", "resnet3", "resnet5", "densenet"))}
    for depth in (18, 34, 50, 101, 152):
        urls[f"resnet{depth}_vd"] = PADDLECLAS_URL.format(f"ResNet{depth}_vd")
    return urls


def cache_dirs() -> List[str]:
    """Where downloaded weights are looked for: Paddle's cache first, then PaddleClas's."""
    from paddle.utils import download
    return [download.WEIGHTS_HOME, os.path.expanduser(PADDLECLAS_CACHE)]


def pretrained_file(name: str, pretrained: Union[bool, str]) -> str:
    """The weight file for ``build_model(name, pretrained=...)``: ``True`` -> the cached file, a str -> itself."""
    if isinstance(pretrained, str):
        return pretrained
    if pretrained is not True:
        raise ValueError(f"pretrained must be True, False or a path to a .pdparams file, got {pretrained!r}")
    urls = weight_urls()
    if name not in urls:
        raise ValueError(f"pretrained=True: no published ImageNet weights for '{name}' (there are for "
                         f"{', '.join(sorted(urls))}); pass pretrained='<path to .pdparams>'")
    filename = urls[name].rsplit("/", 1)[-1]
    for folder in cache_dirs():
        if os.path.isfile(os.path.join(folder, filename)):
            return os.path.join(folder, filename)
    raise FileNotFoundError(f"pretrained=True: {filename} is not in {cache_dirs()[0]} (ppnorm does not download): "
                            f"download {urls[name]} and put it there, or pass pretrained='<path to .pdparams>'")


def load_pretrained(path: str, model: paddle.nn.Layer, skip: Sequence[str] = (), skip_mismatched: bool = False,
                    fix: Optional[str] = None) -> str:
    """Load weights from ``path`` (prefix or .pdparams); ``skip`` lists parameter-name prefixes to leave out.

    ppnorm checkpoints, ``paddle.vision.models`` and PaddleClas ResNet / ResNet_vd / DenseNet
    state_dicts are recognised by their keys and renamed to ppnorm's names. A missing parameter or
    a shape mismatch is an error unless its name starts with one of ``skip``; ``skip_mismatched``
    keeps tensors of another shape as initialized (PaddleClas's way); ``fix`` is the advice of a shape
    mismatch error (see :func:`~ppnorm.weights.load_strict`). Prints one line (see
    :func:`~ppnorm.weights.load_line`) and returns it.
    """
    file = strip_suffix(path) + ".pdparams"
    if not os.path.isfile(file):
        raise CheckpointError(f"Global.pretrained_model: {file} not found")
    state = read_file(file, "weights")
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} holds a {type(state).__name__}, not a state_dict of weights")
    try:
        state, source = to_ppnorm(state)
    except ValueError as error:
        raise CheckpointError(f"{file}: {error}") from None
    reshaped = [] if skip_mismatched else None
    loaded, skipped = load_strict(model, state, f"{file} ({source})", skip, reshaped, fix)
    line = load_line(file, source, loaded, skipped, skip, reshaped or ())
    print(line, flush=True)
    return line
