"""Deployment: export to a static inference model (BatchNorm folded), run it with paddle.inference."""
from .export import ExportError, export_model
from .predictor import Predictor, load_inference_config

__all__ = ["ExportError", "Predictor", "export_model", "load_inference_config"]
