"""Model zoo: ResNet and DenseNet with a switchable norm layer, behind one registry."""
from . import densenet, resnet, sequence, simple  # noqa: F401  (registers the models)
from .base import ConvClassifier
from .convert import from_paddle_vision, from_paddleclas, to_ppnorm
from .densenet import DenseNet
from .registry import build_model, list_models, model_options, register_model
from .resnet import BasicBlock, BottleneckBlock, ResNet
from .simple import MLP, SimpleCNN

__all__ = ["MLP", "BasicBlock", "BottleneckBlock", "ConvClassifier", "DenseNet", "ResNet", "SimpleCNN", "build_model",
           "from_paddle_vision", "from_paddleclas", "list_models", "model_options", "register_model", "to_ppnorm"]
