"""paddle.hub entry points: ``paddle.hub.load(DIR, "resnet18", source="local", num_classes=10)``.

DIR is a clone's root (its hubconf.py re-exports this module) or an installed package's folder,
``os.path.dirname(ppnorm.__file__)``."""
import ppnorm

dependencies = ["paddle", "numpy"]


def _entry(name):
    def build(**kwargs):
        return ppnorm.build_model(name, **kwargs)

    build.__name__ = name
    build.__doc__ = f"ppnorm {name}; keyword arguments: {', '.join(ppnorm.models.model_options(name))}."
    return build


for _name in ppnorm.list_models():
    globals()[_name] = _entry(_name)
