"""Config -> model: fills in what the data set knows (classes, channels) and applies Global switches."""
import paddle

from ..data import input_kind
from ..models import build_model
from ..errors import NormOptionError
from .checkpoint import load_pretrained
from .config import ConfigError
from .distributed import check_norm_supported


def input_layout(config):
    """The layout batches must have for ``Arch``: its ``data_format`` (NCHW unless the config says NHWC)."""
    return config["Arch"].get("data_format", "NCHW")


TRAIN_DATA = "DataLoader.Train.dataset"
# what a model takes / a data set yields (``input_kind``; images when a class does not say)
INPUT_KINDS = {"image": "images [C, H, W]", "sequence": "sequences [C, L] with a separate mask",
               "sequence+mask": "padded sequences [C + 1, L] whose last channel is the padding mask"}


WHOLE_MODEL_FIX = ("eval and export load the trained model whole: give the run's own config.yaml "
                   "(-c <output_dir>/config.yaml, which records Arch.num_classes and Global.class_names) or the "
                   "Arch the weights were trained with")


def check_input_kind(model, dataset, name, where=TRAIN_DATA):
    """A one-line :class:`ConfigError` when ``model`` cannot read what ``dataset`` yields."""
    wants, gives = input_kind(model), input_kind(dataset)
    if wants == gives:
        return
    fix = {"image": "give it a sequence data set (dataset name: waveforms) or use an image model (e.g. resnet20)",
           "sequence+mask": "use Arch.name=seq_conv1d with Arch.mask_channel: true"}.get(gives, "")
    raise ConfigError(f"Arch.name={name} takes {INPUT_KINDS[wants]} but {where} yields {INPUT_KINDS[gives]}"
                      + (f"; {fix}" if fix else ""))


def model_from_config(config, dataset, where=TRAIN_DATA):
    """Build ``Arch`` for ``dataset``: ``num_classes``/``in_channels`` default to the data set's.

    ``Global.pretrained_skip`` and ``pretrained_skip_mismatched`` apply to training only: eval and export
    (``where`` the eval set) load a trained model whole; skipping its fc there would evaluate a random classifier.
    """
    arch = dict(config["Arch"])
    image, _ = dataset[0]
    arch.setdefault("num_classes", dataset.num_classes)
    arch.setdefault("in_channels", int(image.shape[0]))
    largest = int(max(dataset.labels))
    if arch["num_classes"] <= largest:
        raise ConfigError(f"Arch.num_classes={arch['num_classes']} but {where} has labels up to {largest}; "
                          f"set Arch.num_classes={largest + 1} or more")
    try:
        model = build_model(arch)
    except NormOptionError as error:  # name the config key that fixes it, not the factory's argument
        key = f"Arch.norm_options.{error.option}"
        raise ConfigError(f"{key}: {error}: -o {key}={error.suggestion}") from None
    except ValueError as error:
        raise ConfigError(f"Arch: {error}") from None
    check_input_kind(model, dataset, arch["name"], where)  # before channels: a sequence is no "2-channel image"
    if arch["in_channels"] != image.shape[0]:
        raise ConfigError(f"Arch.in_channels={arch['in_channels']} but {where} has {image.shape[0]}-channel "
                          f"samples; set Arch.in_channels={image.shape[0]}")
    settings = config["Global"]
    if settings["sync_bn"]:
        model = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    check_norm_supported(model, settings["device"])
    if settings["pretrained_model"] and where == TRAIN_DATA:
        load_pretrained(settings["pretrained_model"], model, settings["pretrained_skip"],
                        skip_mismatched=settings.get("pretrained_skip_mismatched", False))
    elif settings["pretrained_model"]:
        load_pretrained(settings["pretrained_model"], model, fix=WHOLE_MODEL_FIX)
    return model
