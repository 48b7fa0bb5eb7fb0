"""The class names a model was trained on, carried by the run: ``Global.class_names`` in its config.yaml
and ``class_names`` in each checkpoint's ``.pdstates``; eval, export and infer label data by them."""
import os

from ..data import DataError, align_to_classes
from ..weights import CheckpointError, read_file, strip_suffix
from .config import ConfigError

FOREIGN_FIX = "evaluate on folders of the trained classes (or some of them), or give the run's own config.yaml"


def saved_class_names(prefix):
    """The ``class_names`` stored in ``<prefix>.pdstates``, or None (no such file, or saved without them)."""
    path = strip_suffix(prefix) + ".pdstates"
    if not prefix or not os.path.isfile(path):
        return None
    states = read_file(path, "training states")
    names = states.get("class_names") if isinstance(states, dict) else None
    return [str(name) for name in names] if isinstance(names, (list, tuple)) else None


def _listed(names):
    return "[" + ", ".join(map(str, names[:20])) + (", ..." if len(names) > 20 else "") + "]"


def trained_class_names(config):
    """``(names, where they come from)`` of the model ``Global.pretrained_model`` holds: ``Global.class_names``
    (a run's config.yaml) and/or the checkpoint's ``.pdstates``; ``(None, None)`` when neither says."""
    settings = config["Global"]
    from_config = settings.get("class_names")
    weights = settings["pretrained_model"]
    from_checkpoint = saved_class_names(weights) if weights else None
    if from_config and from_checkpoint and list(from_config) != from_checkpoint:
        raise ConfigError(f"Global.class_names {_listed(from_config)} differ from the classes "
                          f"{_listed(from_checkpoint)} that {strip_suffix(weights)}.pdstates was trained on; use "
                          f"that run's own config.yaml, or remove Global.class_names")
    if from_config:
        return list(from_config), "Global.class_names"
    if from_checkpoint:
        return from_checkpoint, f"{strip_suffix(weights)}.pdstates"
    return None, None


def align_eval_data(config, dataset, where="DataLoader.Eval.dataset"):
    """Relabel the eval ``dataset`` by the trained class names (when known); returns them or None."""
    names, source = trained_class_names(config)
    if names is not None:
        align_to_classes(dataset, names, config["Arch"].get("num_classes", len(names)), where,
                         f"the trained model ({source})", FOREIGN_FIX)
    return names


def training_class_names(config, dataset, where="DataLoader.Train.dataset"):
    """The class names a training run predicts: ``Global.class_names`` when set (``dataset`` is relabelled
    by them), else the training set's; a resumed checkpoint must have been trained on the same."""
    names = config["Global"].get("class_names")
    if names:
        align_to_classes(dataset, names, None, where, "Global.class_names",
                         "train on those classes, or remove Global.class_names (and Arch.num_classes) "
                         "to train a new model")
    names = [str(name) for name in (names or dataset.classes)]
    prefix = config["Global"]["checkpoints"]
    resumed = saved_class_names(prefix) if prefix else None
    if resumed is not None and resumed != names:
        raise CheckpointError(f"Global.checkpoints={prefix} was trained on classes {_listed(resumed)} but {where} "
                              f"has {_listed(names)}; resume with the same training classes or start a new run")
    return names


def check_outside_image_folders(path, key, config):
    """A one-line :class:`DataError` when ``path`` (an output directory) lies inside an ``image_folder`` root:
    its files would become a class folder of the next run."""
    if not path:
        return
    real = os.path.realpath(path)
    for mode in ("Train", "Eval"):
        spec = config["DataLoader"][mode]["dataset"] or {}
        root = spec.get("root")
        if not root:
            continue
        real_root = os.path.realpath(os.path.expanduser(str(root)))
        if real == real_root and spec.get("name") != "image_folder":
            raise DataError(f"{key}={path} is DataLoader.{mode}.dataset.root: a run's files would mix with the data; "
                            f"choose a directory outside that data root")
        inside = real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)
        if spec.get("name") == "image_folder" and inside:
            raise DataError(f"{key}={path} is inside DataLoader.{mode}.dataset.root={root}: its files would become "
                            f"a class of the next run; choose a directory outside that data root")
