"""ppnorm: see how normalization and dropout behave, and train ResNet / DenseNet with any norm layer.

Importing ppnorm loads only the layers and models; the training engine, VisualDL and matplotlib
are imported by the tools and experiments that need them.
"""
import os as _os
import sys as _sys

__version__ = "0.1.0"

# Importing paddle sets OMP_NUM_THREADS=1 when it is unset; remember whether the user set it
# (None: unset, or paddle was imported first and we cannot tell). See ppnorm.engine.threads.
USER_OMP_NUM_THREADS = None if "paddle" in _sys.modules else _os.environ.get("OMP_NUM_THREADS")

from . import models, nn  # noqa: E402
from .models import build_model, list_models  # noqa: E402

__all__ = ["__version__", "build_model", "list_models", "models", "nn"]
