"""ONNX, from the optional extra ``pip install -e ".[onnx]"``: convert an exported model with paddle2onnx,
run it with onnxruntime.

The conversion reads the ``inference.json`` (PIR program) + ``inference.pdiparams`` that
``paddle.jit.save`` writes (paddle 3.0.0 and 3.3.1 both write these two files; paddle2onnx 2.1.0 converts
either, and translates an old ``.pdmodel`` first) and returns the ONNX bytes, which are written to a new
file only (never over an existing one).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import List, Optional

import numpy as np

from ..errors import first_line
from .predictor import PredictorError

ONNX_FILE = "model.onnx"
OPSET = 13  # paddle2onnx raises it by itself when an operator needs a newer one
INSTALL = 'pip install paddle2onnx==2.1.0 onnxruntime (in a clone: pip install -e ".[onnx]")'
EXTRA_MODULES = ("paddle2onnx", "onnxruntime")


class OnnxError(PredictorError):
    """The ONNX extra is missing, a conversion failed, or a ``model.onnx`` cannot be loaded."""


def require(module: str, flag: str) -> ModuleType:
    """Import ``module`` of the ONNX extra, or one line naming ``flag`` and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise OnnxError(f"{flag} needs {module}, which cannot be imported ({first_line(error)}); "
                        f"install the ONNX extra: {INSTALL}") from None


def require_extra(flag: str) -> List[ModuleType]:
    """Check every module of the extra up front (before minutes of work that would end in an ImportError)."""
    return [require(module, flag) for module in EXTRA_MODULES]


def convert(graph: str, params: str, target: str, opset: int = OPSET) -> Optional[int]:
    """paddle2onnx ``graph`` + ``params`` into the new file ``target``; returns the opset in the model."""
    paddle2onnx = require("paddle2onnx", "--format onnx")
    try:
        data = paddle2onnx.export(graph, params, save_file=None, opset_version=opset, enable_onnx_checker=True)
    except (Exception, SystemExit) as error:  # paddle2onnx logs its reason, then calls sys.exit(-1)
        import paddle

        raise OnnxError(f"paddle2onnx {getattr(paddle2onnx, '__version__', '?')} could not convert {graph} "
                        f"with paddle {paddle.__version__} ({_reason(error)}); its messages above say why "
                        f"(ppnorm is tested with paddle2onnx==2.1.0)") from None
    if not data:
        raise OnnxError(f"paddle2onnx returned an empty model for {graph}; its messages above say why")
    with open(target, "xb") as handle:  # "x": a file that exists already is never replaced
        handle.write(data)
    return _opset_of(data)


def _reason(error):
    if isinstance(error, SystemExit):
        return f"it exited with status {error.code}"
    return first_line(error)


def _opset_of(data):
    import onnx

    model = onnx.load_from_string(data)
    return max((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), default=None)


def onnx_file(model_dir: str) -> str:
    """``model_dir/model.onnx``, or an error saying how to write it."""
    path = os.path.join(model_dir, ONNX_FILE)
    if not os.path.isfile(path):
        raise OnnxError(f"{model_dir}: no {ONNX_FILE}; export it with tools/export.py --format onnx "
                        f"(or -o Export.format=onnx)")
    return path


class OnnxPredictor:
    """``OnnxPredictor(model_dir)(batch) -> logits``: an onnxruntime CPU session on ``model.onnx``."""

    def __init__(self, model_dir: str, cpu_threads: int = 1) -> None:
        ort = require("onnxruntime", "--backend onnxruntime")
        path = onnx_file(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only (not the notes on initializers the converter left)
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail / InvalidProtobuf / RuntimeException
            raise OnnxError(f"cannot load {path} with onnxruntime: {first_line(error)[:160]}; the file is "
                            f"truncated or damaged, export the model again") from None
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.input_name: np.ascontiguousarray(batch, dtype="float32")}
        return self.session.run(None, feed)[0]
