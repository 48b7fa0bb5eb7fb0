"""Deployment: export to a static inference model (BatchNorm folded), run it with paddle.inference, or
convert it to ONNX and run it with onnxruntime (the optional extra ``pip install -e ".[onnx]"``)."""
from .export import ExportError, export_model
from .onnx import OnnxError, OnnxPredictor
from .predictor import Predictor, load_inference_config

__all__ = ["ExportError", "OnnxError", "OnnxPredictor", "Predictor", "export_model", "load_inference_config"]
