"""The model registry and its public helpers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from ..registry import Registry
from .pretrained import load_pretrained, pretrained_file

if TYPE_CHECKING:
    import paddle

MODELS = Registry("model")


def register_model(name: str, cls: Any, defaults: Optional[dict] = None, **fixed: Any) -> Any:
    """Register ``name`` as ``cls(**fixed, **defaults, **user_kwargs)``."""
    return MODELS.register(name, cls, defaults, **fixed)


def list_models() -> List[str]:
    """Sorted names of every registered model."""
    return MODELS.names()


def model_options(name: str) -> List[str]:
    """The keyword arguments a user may pass for model ``name``."""
    return MODELS.options(name)


def build_model(name_or_config: Union[str, Dict[str, Any]], **kwargs: Any) -> paddle.nn.Layer:
    """Build a registered model: ``build_model("resnet20", num_classes=10, norm="gn")``.

    Also accepts a config dict ``{"name": "resnet20", "num_classes": 10, ...}``; keyword arguments
    override the dict's entries. ``pretrained=True`` loads the model's ImageNet weights from Paddle's
    download cache (see :mod:`ppnorm.models.pretrained`), ``pretrained="<file>"`` a ppnorm checkpoint,
    ``paddle.vision`` or PaddleClas ``.pdparams``; ``pretrained_skip=["fc"]`` leaves layers out.
    """
    if isinstance(name_or_config, dict):
        config = dict(name_or_config)
        if "name" not in config:
            raise ValueError("model config needs a 'name' key, e.g. {'name': 'resnet20'}")
        name_or_config = config.pop("name")
        kwargs = {**config, **kwargs}
    pretrained, skip = kwargs.pop("pretrained", False), kwargs.pop("pretrained_skip", ())
    file = pretrained_file(name_or_config, pretrained) if pretrained else None  # a bad value fails before building
    model = MODELS.build(name_or_config, **kwargs)
    if file:
        load_pretrained(file, model, skip)
    return model
