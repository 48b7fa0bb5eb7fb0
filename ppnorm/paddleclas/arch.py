"""PaddleClas's ``Arch`` section: the network's name, ``class_num`` (with ``Global.class_num``'s precedence),
``use_first_short_conv``, ``use_sync_bn`` and ``pretrained``, translated as PaddleClas reads them."""
import os

from ..engine.config.keys import ConfigError
from ..models import pretrained as pretrained_module
from ..models.registry import MODELS
from .names import ARCHS

PADDLECLAS_CLASS_NUM = 1000  # the class_num default of PaddleClas's ResNet and DenseNet builders
PADDLECLAS_DENSENET_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/{}_pretrained.pdparams"


def translate_arch(arch, global_section, source, notes):
    """``Arch`` -> ppnorm's model name and options; ``class_num`` (here or in Global) -> ``num_classes``."""
    name = arch.get("name")
    if name in MODELS:  # a ppnorm config with a PaddleClas-only section or key (a habit from PaddleClas)
        raise ConfigError(f"{source}: Arch.name={name!r} is ppnorm's own name, but the file reads as a PaddleClas "
                          f"config: it has a section or key only PaddleClas's have (AMP, Infer, Loss.Train, "
                          f"Arch.class_num, Global.image_shape, DataLoader.*.sampler ...); remove it, or give a "
                          f"PaddleClas Arch.name ({', '.join(ARCHS)})")
    if name not in ARCHS:
        raise ConfigError(f"{source}: Arch.name={name!r} is not a model ppnorm has; PaddleClas names it translates: "
                          f"{', '.join(ARCHS)}")
    if ARCHS[name] not in MODELS:
        raise ConfigError(f"{source}: Arch.name={name} needs ppnorm's '{ARCHS[name]}', which this ppnorm's model zoo "
                          f"lacks; registered: {', '.join(MODELS.names())}")
    out = {"name": ARCHS[name], "num_classes": _class_num(arch, global_section, notes)}
    out.update(_first_short_conv(name, arch.pop("use_first_short_conv", True), source))
    for key, value in arch.items():
        if key == "pretrained":
            _pretrained(value, name, out, global_section, notes)
        elif key == "input_image_channel":
            out["in_channels"] = value
        elif key == "use_sync_bn":
            _sync_bn(value, global_section, notes)
        elif key not in ("name", "class_num"):
            out[key] = value  # ppnorm's model options (norm, act, ...); the model checks them
    return out


def _first_short_conv(name, value, source):
    """PaddleClas's ResNets give the first block a 1x1 shortcut unless ``use_first_short_conv: False``.

    That changes ResNet18/34 (ppnorm's ``first_projection``); the bottleneck ResNets need it (PaddleClas
    cannot build them without it) and ppnorm's ``*_vd`` always have it.
    """
    if not name.startswith("ResNet"):
        return {}
    if name in ("ResNet18", "ResNet34"):
        return {"first_projection": bool(value)}
    if not value:
        why = ("ppnorm's resnet*_vd always have that shortcut" if name.endswith("_vd") else
               "its first block changes the channel count and needs that shortcut")
        raise ConfigError(f"{source}: Arch.use_first_short_conv=False is not supported for {name}: {why}; "
                          f"remove the key")
    return {}


def _class_num(arch, global_section, notes):
    """PaddleClas's rule: ``Arch.class_num`` wins; ``Global.class_num`` (deprecated) fills it in when absent.

    Either way PaddleClas warns once. Given nowhere, its ResNet/DenseNet builders default to 1000 classes.
    """
    if "class_num" in global_section:
        legacy = global_section["class_num"]
        if "class_num" in arch:
            notes.warn(f"Global.class_num is deprecated, use Arch.class_num; Global.class_num={legacy} is "
                       f"ignored, Arch.class_num={arch['class_num']} is used")
        else:
            arch["class_num"] = legacy
            notes.warn(f"Global.class_num is deprecated, use Arch.class_num; Arch.class_num is set to {legacy}")
    given = arch.get("class_num")
    return PADDLECLAS_CLASS_NUM if given is None else given


def _sync_bn(value, global_section, notes):
    """``Arch.use_sync_bn`` -> ``Global.sync_bn`` on a GPU; elsewhere PaddleClas ignores it with a warning."""
    if not value:
        return
    if global_section.get("device") == "gpu":
        global_section.setdefault("sync_bn", True)
    else:
        notes.warn(f"Arch.use_sync_bn is ignored on device {global_section.get('device')!r} (SyncBatchNorm needs "
                   f"a GPU)")


def _pretrained(value, name, arch_out, global_section, notes):
    """``Arch.pretrained``: a path loads like Global.pretrained_model; ``True``: PaddleClas's cached download.

    PaddleClas loads Global.pretrained_model after Arch.pretrained, so a given Global.pretrained_model wins.
    ``True`` uses ``~/.paddleclas/weights/<Arch.name>_pretrained.pdparams`` when it is there (ppnorm never
    downloads); otherwise the model starts from random weights and the notes say where to put the file.
    """
    if value in (False, None):
        return
    if "pretrained" in MODELS.options(arch_out["name"]):
        arch_out["pretrained"] = value
    elif global_section.get("pretrained_model"):
        return
    elif value is True:
        cached = os.path.join(os.path.expanduser(pretrained_module.PADDLECLAS_CACHE), f"{name}_pretrained.pdparams")
        if os.path.isfile(cached):
            global_section["pretrained_model"] = cached
            return
        url = (pretrained_module.PADDLECLAS_URL if name.startswith("ResNet") else PADDLECLAS_DENSENET_URL).format(name)
        notes.add("Arch.pretrained", value, f"not downloaded (ppnorm never downloads); the model starts from random "
                                            f"weights: put {url} at {cached} (PaddleClas's cache) or give "
                                            f"-o Global.pretrained_model=<.pdparams>")
    else:
        global_section["pretrained_model"] = value
