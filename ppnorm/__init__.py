"""ppnorm: see how normalization and dropout behave, and train ResNet / DenseNet with any norm layer.

Importing ppnorm loads only the layers and models; the training engine, VisualDL and matplotlib
are imported by the tools and experiments that need them.
"""
__version__ = "0.1.0"

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

from . import boot as _boot  # noqa: E402

_boot.start()  # a tool process: a deleted working directory is one line; stop signals wait until Paddle is in

# The user's OMP_NUM_THREADS as it was before Paddle was imported (Paddle sets it to 1 when unset); the
# ``ppnorm`` command reads it here, as the tools in tools/ read it before they import anything.
USER_OMP_NUM_THREADS = _os.environ.get("OMP_NUM_THREADS") if "paddle" not in _sys.modules else None

from .quiet import quiet_known_warnings  # noqa: E402  (before Paddle is imported: it warns at import)

quiet_known_warnings()

from .compat import require_paddle  # noqa: E402

require_paddle()  # no Paddle, or one older than 3.0.0: one ImportError line with the install command

from . import models, nn  # noqa: E402
from .models import build_model, list_models  # noqa: E402

__all__ = ["__version__", "build_model", "list_models", "models", "nn"]
