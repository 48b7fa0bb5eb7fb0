"""Model zoo: ResNet and DenseNet with a switchable norm layer, behind one registry.

Every module of this package is imported here, so a new file that calls ``register_model`` is a new model."""
from ..registry import import_submodules

import_submodules(__name__, __path__)

from .base import ConvClassifier
from .convert import from_paddle_vision, from_paddleclas, to_ppnorm
from .densenet import DenseNet
from .registry import build_model, list_models, model_options, register_model
from .resnet import BasicBlock, BottleneckBlock, ResNet
from .simple import MLP, SimpleCNN

__all__ = ["MLP", "BasicBlock", "BottleneckBlock", "ConvClassifier", "DenseNet", "ResNet", "SimpleCNN", "build_model",
           "from_paddle_vision", "from_paddleclas", "list_models", "model_options", "register_model", "to_ppnorm"]
