"""The model registry and its public helpers."""
from ..registry import Registry

MODELS = Registry("model")


def register_model(name, cls, defaults=None, **fixed):
    """Register ``name`` as ``cls(**fixed, **defaults, **user_kwargs)``."""
    return MODELS.register(name, cls, defaults, **fixed)


def list_models():
    """Sorted names of every registered model."""
    return MODELS.names()


def model_options(name):
    """The keyword arguments a user may pass for model ``name``."""
    return MODELS.options(name)


def build_model(name_or_config, **kwargs):
    """Build a registered model: ``build_model("resnet20", num_classes=10, norm="gn")``.

    Also accepts a config dict ``{"name": "resnet20", "num_classes": 10, ...}``; keyword arguments
    override the dict's entries.
    """
    if isinstance(name_or_config, dict):
        config = dict(name_or_config)
        if "name" not in config:
            raise ValueError("model config needs a 'name' key, e.g. {'name': 'resnet20'}")
        name_or_config = config.pop("name")
        kwargs = {**config, **kwargs}
    return MODELS.build(name_or_config, **kwargs)
