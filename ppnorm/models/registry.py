"""The model registry: a name maps to a model class plus the fixed arguments of that variant."""
import difflib
import inspect

_MODELS = {}


def register_model(name, cls, defaults=None, **fixed):
    """Register ``name`` as ``cls(**fixed, **defaults, **user_kwargs)``; users may override ``defaults``."""
    if name in _MODELS:
        raise ValueError(f"model '{name}' is registered twice")
    _MODELS[name] = (cls, fixed, dict(defaults or {}))


def list_models():
    """Sorted names of every registered model."""
    return sorted(_MODELS)


def model_options(name):
    """The keyword arguments a user may pass for model ``name``."""
    cls, fixed, _ = _lookup(name)
    names = []
    for klass in cls.__mro__:  # follow **options up to the base class that names them
        params = inspect.signature(klass.__init__).parameters.values()
        names += [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return [n for n in names if n not in fixed]


def _lookup(name):
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), _MODELS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"unknown model '{name}'{hint}; see ppnorm.list_models()")
    return _MODELS[name]


def build_model(name_or_config, **kwargs):
    """Build a registered model: ``build_model("resnet20", num_classes=10, norm="gn")``.

    Also accepts a config dict ``{"name": "resnet20", "num_classes": 10, ...}``; keyword arguments
    override the dict's entries.
    """
    if isinstance(name_or_config, dict):
        config = dict(name_or_config)
        if "name" not in config:
            raise ValueError("model config needs a 'name' key, e.g. {'name': 'resnet20'}")
        name = config.pop("name")
        kwargs = {**config, **kwargs}
    else:
        name = name_or_config
    cls, fixed, defaults = _lookup(name)
    valid = model_options(name)
    for key in kwargs:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown option '{key}' for model '{name}'{hint}; valid: {', '.join(valid)}")
    return cls(**fixed, **{**defaults, **kwargs})
