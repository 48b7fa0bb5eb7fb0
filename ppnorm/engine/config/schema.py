"""The training config's schema (every section and key, with defaults and limits) and its validation.

Validation checks every value the config can hold, including the ones that depend on each other
(warmup against epochs, Piecewise milestones, registered names and options), so builders never meet
a bad value.
"""
from __future__ import annotations

import copy

from ...data import DATASETS, build_transforms
from ...models.registry import MODELS
from ...nn import NormSpec, check_norm_position
from ...registry import unknown_message
from ..hook_api import HOOKS, check_priority
from ..loss import LOSSES
from ..optim import OPTIMIZERS, SCHEDULES
from .imports import CUSTOM_IMPORTS
from .keys import NUMBER, ConfigError, Key, check_numbers, check_value, did_you_mean, expand_home, fill_defaults

MAX_SEED = 2 ** 32 - 1  # numpy and paddle seeds are 32-bit


def _loader_schema(batch_size, shuffle, drop_last):
    return {
        "dataset": Key(None, dict, help="{name: digits, split: train, ...}: a data set and its options"),
        "transforms": Key([], list, help="[{RandomCrop: {size: 8, padding: 1}}, {Normalize: {...}}]"),
        "batch_size": Key(batch_size, int, minimum=1, help="samples per device per step"),
        "shuffle": Key(shuffle, bool),
        "drop_last": Key(drop_last, bool),
        "num_workers": Key(0, int, minimum=0, maximum=256, help="data-loading processes (0: in the training process)"),
    }


SCHEMA = {
    "Global": {
        "device": Key("cpu", str, choices=("cpu", "gpu")),
        "epochs": Key(30, int, minimum=1),
        "seed": Key(0, int, minimum=0, maximum=MAX_SEED),
        "output_dir": Key("output", str, help="checkpoints, logs and the resolved config go here"),
        "save_interval": Key(0, int, minimum=0, help="write epoch_N every N epochs (0: only latest/best)"),
        "eval_interval": Key(1, int, minimum=1),
        "print_batch_step": Key(10, int, minimum=1),
        "use_visualdl": Key(True, bool),
        "checkpoints": Key(None, str, help="resume from this prefix, e.g. output/x/latest"),
        "overwrite": Key(False, bool, help="start a new run in an output_dir that already holds another run's "
                                           "latest/best_model, replacing them (default: that is an error)"),
        "pretrained_model": Key(None, str, help="load weights from this prefix / .pdparams"),
        "pretrained_skip": Key([], list, items=Key(None, str),
                               help="parameter-name prefixes not loaded from pretrained_model, e.g. [fc]"),
        "pretrained_skip_mismatched": Key(False, bool, help="training: keep tensors whose shape differs from "
                                                            "pretrained_model's as initialized (PaddleClas configs)"),
        "class_names": Key(None, list, items=Key(None, str, optional=False),
                           help="the classes the model predicts, in label order; training writes them into the "
                                "run's config.yaml and checkpoints, and eval/export/infer label data by them"),
        "sync_bn": Key(False, bool, help="convert every BatchNorm to SyncBatchNorm (multi-GPU)"),
        "amp_level": Key(None, str, choices=("O1", "O2"), help="automatic mixed precision on GPU"),
        "cpu_threads": Key(None, int, minimum=1, maximum=1024, help="threads for Paddle's CPU kernels (default: all cores)"),
        "custom_imports": CUSTOM_IMPORTS,
    },
    "Arch": Key(None, dict, help="name: a registered model, plus its options (norm, act, ...)"),
    "Loss": {
        "name": Key("CrossEntropy", str, choices=LOSSES),
        "label_smoothing": Key(0.0, float, minimum=0.0, below=1.0),
    },
    "Optimizer": {
        "name": Key("Momentum", str, choices=OPTIMIZERS),
        "momentum": Key(0.9, float, minimum=0.0, below=1.0),
        "nesterov": Key(False, bool),
        "beta1": Key(0.9, float, minimum=0.0, below=1.0),
        "beta2": Key(0.999, float, minimum=0.0, below=1.0),
        "weight_decay": Key(0.0, float, minimum=0.0),
        "no_weight_decay_on_norm_and_bias": Key(False, bool),
        "grad_clip": Key(None, float, minimum=0.0, help="clip the global gradient norm to this value"),
        "lr": {
            "name": Key("Cosine", str, choices=SCHEDULES),
            "learning_rate": Key(0.1, float, minimum=0.0, help="base (OneCycle: maximum) learning rate"),
            "warmup_epochs": Key(0, float, minimum=0.0, help="must be shorter than Global.epochs"),
            "warmup_start_lr": Key(0.0, float, minimum=0.0),
            "decay_epochs": Key([], list, items=Key(None, NUMBER, minimum=0),
                                help="Piecewise: epochs at which lr is multiplied by gamma"),
            "gamma": Key(0.1, float, minimum=0.0),
            "eta_min": Key(0.0, float, minimum=0.0, help="Cosine: final learning rate"),
        },
    },
    "DataLoader": {
        "Train": _loader_schema(64, True, True),
        "Eval": _loader_schema(256, False, False),
    },
    "EMA": {"decay": Key(0.0, float, minimum=0.0, below=1.0,
                         help="evaluate and save an exponential moving average of the weights and BatchNorm "
                              "statistics (ema = d*ema + (1-d)*w after each step, d = min(decay, (1+t)/(10+t))); "
                              "0: off, e.g. 0.999")},
    "Metric": {"topk": Key([1, 5], list, items=Key(None, int, minimum=1), nonempty=True,
                           help="top-k accuracies to report; the first is the headline")},
    "Export": {
        "save_dir": Key(None, str, help="where tools/export.py writes the inference model (default: "
                                        "<Global.output_dir>/inference)"),
        "fuse_bn": Key(True, bool, help="fold every BatchNorm that follows a conv into that conv"),
        "tolerance": Key(1e-4, float, minimum=0.0, help="largest allowed |exported - trained| logit difference"),
        "format": Key("paddle", str, choices=("paddle", "onnx"),
                      help="onnx: also write model.onnx (paddle2onnx; pip install -e \".[onnx]\")"),
    },
    "Hooks": Key([], list, items=Key(None, dict, optional=False),
                 help="hooks added to the default ones: [{name: <registered hook>, priority: 0-100 (lower runs "
                      "first, default the hook's own), <its options>}]; see ppnorm.engine.hook_api"),
}
_SECTIONS_REQUIRED = ("Arch", "DataLoader")


def _check_registered(registry, spec, where, source):
    """A ``{name: ..., options}`` mapping whose name and options a registry knows."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"{source}: {where} needs a 'name' (one of {', '.join(registry.names())})")
    options = {k: v for k, v in spec.items() if k != "name"}
    try:
        registry.check_options(spec["name"], options, where=f"{where} '{spec['name']}'")
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None


def _check_arch(arch, source):
    """The model is registered, takes the given options, its norm_position is valid and its norm spec builds."""
    _check_registered(MODELS, arch, "Arch", source)
    try:
        check_norm_position(arch.get("norm_position", "before_act"))
    except ValueError as error:
        raise ConfigError(f"{source}: Arch.{error}") from None
    if not {"norm", "norm_options", "data_format"} & set(arch) or "norm_options" not in MODELS.options(arch["name"]):
        return  # a model without norm_options (seq_conv1d) picks and checks its own norms
    kind = arch.get("norm", "bn")
    try:
        NormSpec(kind, arch.get("norm_options"), arch.get("data_format", "NCHW"))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{source}: Arch norm {kind!r}: {error}") from None


def _check_hooks(hooks, source):
    """Each ``Hooks`` entry names a registered hook, gives only its options and a valid priority."""
    for index, spec in enumerate(hooks):
        where = f"Hooks[{index}]"
        if isinstance(spec, dict) and "name" in spec and spec["name"] not in HOOKS:  # name the entry's position
            unknown = unknown_message(HOOKS.kind, spec["name"], HOOKS.names(), HOOKS.valid)
            raise ConfigError(f"{source}: {where}: {unknown}")
        _check_registered(HOOKS, {k: v for k, v in spec.items() if k != "priority"}, where, source)
        if "priority" in spec:
            try:
                check_priority(spec["priority"], f"{where} '{spec['name']}'")
            except ValueError as error:
                raise ConfigError(f"{source}: {error}") from None


def _check_data(loaders, source):
    for mode in ("Train", "Eval"):
        loader = loaders[mode]
        _check_registered(DATASETS, loader["dataset"], f"DataLoader.{mode}.dataset", source)
        try:
            build_transforms(loader["transforms"], f"DataLoader.{mode}.transforms")
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{source}: {error}") from None


def _check_schedule(lr, epochs, source):
    """What the LR schedule needs from its values together: warmup inside the run, sorted milestones.

    Only a Constant rate may warm up for the whole run (a linear ramp; PaddleClas's capped warm-up).
    """
    if lr["warmup_epochs"] > epochs or (lr["warmup_epochs"] == epochs and lr["name"] != "Constant"):
        raise ConfigError(f"{source}: Optimizer.lr.warmup_epochs={lr['warmup_epochs']} covers the whole run "
                          f"(Global.epochs={epochs}); make it smaller than Global.epochs")
    if lr["name"] == "OneCycle" and lr["warmup_epochs"]:
        raise ConfigError(f"{source}: Optimizer.lr.warmup_epochs does not combine with OneCycle (it warms up "
                          f"by itself); remove it")
    milestones = lr["decay_epochs"]
    if lr["name"] == "Piecewise" and (not milestones or any(a >= b for a, b in zip(milestones, milestones[1:]))):
        raise ConfigError(f"{source}: Optimizer.lr.decay_epochs must be a non-empty, strictly increasing list "
                          f"of epochs for Piecewise, e.g. [10, 20], got {milestones!r}")


def _check_sections(raw, source):
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a config must be a mapping of sections (Global, Arch, ...)")
    for section in raw:
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section '{section}'{did_you_mean(section, SCHEMA)}; "
                              f"valid sections: {', '.join(SCHEMA)}")
    for section in _SECTIONS_REQUIRED:
        if section not in raw:
            raise ConfigError(f"{source}: the '{section}' section is missing")


def validate(raw: dict, source: str = "config") -> dict:
    """Return the complete config (defaults filled in) or raise a one-line :class:`ConfigError`."""
    _check_sections(raw, source)
    raw = expand_home(raw, source)
    config = {}
    for section, spec in SCHEMA.items():
        if isinstance(spec, dict):
            config[section] = fill_defaults(spec, raw.get(section), section, source)
        else:
            config[section] = copy.deepcopy(raw.get(section, spec.default))
    check_numbers(config, source)  # the free-form sections too (Arch options, data set options)
    names = config["Global"].get("class_names") or []
    repeated = sorted({str(n) for n in names if [str(m) for m in names].count(str(n)) > 1})
    if repeated:
        raise ConfigError(f"{source}: Global.class_names names {repeated[0]!r} more than once; each class needs its "
                          f"own name")
    if 1 not in config["Metric"]["topk"]:
        raise ConfigError(f"{source}: Metric.topk must include 1 (top-1 chooses best_model and is the [Done] line), "
                          f"got {config['Metric']['topk']}; e.g. Metric.topk=[1, 5]")
    _check_arch(config["Arch"], source)
    _check_hooks(check_value("Hooks", SCHEMA["Hooks"], config["Hooks"], source), source)
    _check_data(config["DataLoader"], source)
    _check_schedule(config["Optimizer"]["lr"], config["Global"]["epochs"], source)
    if config["Global"]["amp_level"] and config["Global"]["device"] != "gpu":
        raise ConfigError(f"{source}: Global.amp_level={config['Global']['amp_level']} needs Global.device=gpu "
                          f"(AMP is for GPUs); remove it to train on CPU")
    return config
