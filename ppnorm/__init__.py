"""ppnorm: see how normalization and dropout behave, and train ResNet / DenseNet with any norm layer.

Importing ppnorm loads only the layers and models; the training engine, VisualDL and matplotlib
are imported by the tools and experiments that need them.
"""
__version__ = "0.1.0"

from .quiet import quiet_known_warnings  # noqa: E402  (before Paddle is imported: it warns at import)

quiet_known_warnings()

from .compat import require_paddle  # noqa: E402

require_paddle()  # no Paddle, or one older than 3.0.0: one ImportError line with the install command

from . import models, nn  # noqa: E402
from .models import build_model, list_models  # noqa: E402

__all__ = ["__version__", "build_model", "list_models", "models", "nn"]
