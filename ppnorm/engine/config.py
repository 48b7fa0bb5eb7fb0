"""The one config loader: YAML with ``_base_`` inheritance, ``-o Section.key=value`` overrides, validation.

Every key is checked before anything runs: an unknown key names the closest valid one, a wrong
type or value names the key, what was given and what is expected. Override values are parsed as
YAML scalars/lists (``-o Global.epochs=3``, ``-o Metric.topk=[1,3]``), never evaluated as code.
"""
import copy
import difflib
import os

import yaml

from ..data import DATASETS, build_transforms
from ..models.registry import MODELS
from ..nn import NORM_KINDS


class ConfigError(ValueError):
    """A config file or override is malformed or invalid; the message says which key and what to change."""


class Key:
    """One config key: its default, accepted type, and optional choices / lower bound."""

    def __init__(self, default, kind, choices=None, minimum=None, optional=False, help=""):
        self.default, self.kind, self.choices, self.minimum = default, kind, choices, minimum
        self.optional = optional or default is None
        self.help = help


def _loader_schema(batch_size, shuffle, drop_last):
    return {
        "dataset": Key(None, dict, help="{name: digits, split: train, ...}: a data set and its options"),
        "transforms": Key([], list, help="[{RandomCrop: {size: 8, padding: 1}}, {Normalize: {...}}]"),
        "batch_size": Key(batch_size, int, minimum=1, help="samples per device per step"),
        "shuffle": Key(shuffle, bool),
        "drop_last": Key(drop_last, bool),
        "num_workers": Key(0, int, minimum=0, help="data-loading processes (0: in the training process)"),
    }


SCHEMA = {
    "Global": {
        "device": Key("cpu", str, choices=("cpu", "gpu")),
        "epochs": Key(30, int, minimum=1),
        "seed": Key(0, int, minimum=0),
        "output_dir": Key("output", str, help="checkpoints, logs and the resolved config go here"),
        "save_interval": Key(0, int, minimum=0, help="write epoch_N every N epochs (0: only latest/best)"),
        "eval_interval": Key(1, int, minimum=1),
        "print_batch_step": Key(10, int, minimum=1),
        "use_visualdl": Key(True, bool),
        "checkpoints": Key(None, str, help="resume from this prefix, e.g. output/x/latest"),
        "pretrained_model": Key(None, str, help="load weights from this prefix / .pdparams"),
        "pretrained_skip": Key([], list, help="parameter-name prefixes not loaded from pretrained_model, e.g. [fc]"),
        "sync_bn": Key(False, bool, help="convert every BatchNorm to SyncBatchNorm (multi-GPU)"),
        "amp_level": Key(None, str, choices=("O1", "O2"), help="automatic mixed precision on GPU"),
        "cpu_threads": Key(None, int, minimum=1, help="threads for Paddle's CPU kernels (default: all cores)"),
    },
    "Arch": Key(None, dict, help="name: a registered model, plus its options (norm, act, ...)"),
    "Loss": {
        "name": Key("CrossEntropy", str, choices=("CrossEntropy",)),
        "label_smoothing": Key(0.0, float, minimum=0.0),
    },
    "Optimizer": {
        "name": Key("Momentum", str, choices=("SGD", "Momentum", "Adam", "AdamW")),
        "momentum": Key(0.9, float, minimum=0.0),
        "nesterov": Key(False, bool),
        "beta1": Key(0.9, float, minimum=0.0),
        "beta2": Key(0.999, float, minimum=0.0),
        "weight_decay": Key(0.0, float, minimum=0.0),
        "no_weight_decay_on_norm_and_bias": Key(False, bool),
        "grad_clip": Key(None, float, minimum=0.0, help="clip the global gradient norm to this value"),
        "lr": {
            "name": Key("Cosine", str, choices=("Constant", "Piecewise", "Cosine", "OneCycle")),
            "learning_rate": Key(0.1, float, minimum=0.0, help="base (OneCycle: maximum) learning rate"),
            "warmup_epochs": Key(0, float, minimum=0.0),
            "warmup_start_lr": Key(0.0, float, minimum=0.0),
            "decay_epochs": Key([], list, help="Piecewise: epochs at which lr is multiplied by gamma"),
            "gamma": Key(0.1, float, minimum=0.0),
            "eta_min": Key(0.0, float, minimum=0.0, help="Cosine: final learning rate"),
        },
    },
    "DataLoader": {
        "Train": _loader_schema(64, True, True),
        "Eval": _loader_schema(256, False, False),
    },
    "Metric": {"topk": Key([1, 5], list, help="top-k accuracies to report; the first is the headline")},
    "Export": {
        "save_dir": Key(None, str, help="where tools/export.py writes the inference model (default: "
                                        "<Global.output_dir>/inference)"),
        "fuse_bn": Key(True, bool, help="fold every BatchNorm that follows a conv into that conv"),
        "tolerance": Key(1e-4, float, minimum=0.0, help="largest allowed |exported - trained| logit difference"),
    },
}
_SECTIONS_REQUIRED = ("Arch", "DataLoader")


def _did_you_mean(word, candidates):
    close = difflib.get_close_matches(str(word), list(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_yaml(path):
    """Read one YAML file; malformed YAML is a one-line error with file and line."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else path
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections (Global, Arch, ...), "
                          f"got {type(data).__name__}")
    return data


def merge(base, override):
    """Deep-merge dicts; lists and scalars in ``override`` replace those in ``base``."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_with_bases(path, _seen=()):
    """A YAML file merged over its ``_base_`` file(s), resolved relative to it."""
    path = os.path.abspath(path)
    if path in _seen:
        raise ConfigError(f"{path}: _base_ inheritance loops back to this file")
    data = read_yaml(path)
    bases = data.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else bases
    merged = {}
    for base in bases:
        merged = merge(merged, load_with_bases(os.path.join(os.path.dirname(path), base), _seen + (path,)))
    return merge(merged, data)


def apply_override(config, override):
    """Apply one ``Section.key=value`` override; the value is parsed as YAML."""
    if "=" not in override:
        raise ConfigError(f"override '{override}' must look like Section.key=value, e.g. Global.epochs=3")
    dotted, raw = override.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    keys = dotted.strip().split(".")
    node = config
    for index, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{override}': {'.'.join(keys[:index + 1])} is a value, not a section")
        node = child
    node[keys[-1]] = value


def _type_name(kind):
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list",
            dict: "a mapping"}[kind]


def _check_value(dotted, key, value, source):
    if value is None:
        if key.optional:
            return None
        raise ConfigError(f"{source}: {dotted} must be set ({_type_name(key.kind)})")
    if key.kind is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            value = float(value)
        except ValueError:
            pass
    ok = isinstance(value, key.kind) and not (key.kind is int and isinstance(value, bool))
    if key.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{source}: {dotted} must be {_type_name(key.kind)}, got {value!r} "
                          f"({type(value).__name__})")
    if key.choices and value not in key.choices:
        raise ConfigError(f"{source}: {dotted} must be one of {', '.join(map(str, key.choices))}, got {value!r}"
                          f"{_did_you_mean(value, key.choices)}")
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(f"{source}: {dotted} must be >= {key.minimum}, got {value!r}")
    return value


def _fill(schema, data, prefix, source):
    """Check ``data`` against ``schema`` and return it with the defaults filled in."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix} must be a section (a mapping), got {data!r}")
    for key in data:
        if key not in schema:
            raise ConfigError(f"{source}: unknown key '{prefix}.{key}'{_did_you_mean(key, schema)}; "
                              f"valid keys in {prefix}: {', '.join(schema)}")
    out = {}
    for name, spec in schema.items():
        dotted = f"{prefix}.{name}"
        if isinstance(spec, dict):
            out[name] = _fill(spec, data.get(name), dotted, source)
        else:
            out[name] = _check_value(dotted, spec, copy.deepcopy(data.get(name, spec.default)), source)
    return out


def _check_registered(registry, spec, where, source):
    """A ``{name: ..., options}`` mapping whose name and options a registry knows."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"{source}: {where} needs a 'name' (one of {', '.join(registry.names())})")
    options = {k: v for k, v in spec.items() if k != "name"}
    try:
        registry.check_options(spec["name"], options, where=f"{where} '{spec['name']}'")
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None


def validate(raw, source="config"):
    """Return the complete config (defaults filled in) or raise a one-line :class:`ConfigError`."""
    for section in raw:
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section '{section}'{_did_you_mean(section, SCHEMA)}; "
                              f"valid sections: {', '.join(SCHEMA)}")
    for section in _SECTIONS_REQUIRED:
        if section not in raw:
            raise ConfigError(f"{source}: the '{section}' section is missing")
    config = {}
    for section, spec in SCHEMA.items():
        if isinstance(spec, dict):
            config[section] = _fill(spec, raw.get(section), section, source)
        else:
            config[section] = copy.deepcopy(raw.get(section))
    _check_registered(MODELS, config["Arch"], "Arch", source)
    norm = config["Arch"].get("norm", "bn")
    if norm not in NORM_KINDS:
        raise ConfigError(f"{source}: Arch.norm must be one of {', '.join(NORM_KINDS)}, got {norm!r}"
                          f"{_did_you_mean(norm, NORM_KINDS)}")
    for mode in ("Train", "Eval"):
        loader = config["DataLoader"][mode]
        _check_registered(DATASETS, loader["dataset"], f"DataLoader.{mode}.dataset", source)
        try:
            build_transforms(loader["transforms"], f"DataLoader.{mode}.transforms")
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{source}: {error}") from None
    topk = config["Metric"]["topk"]
    if not topk or not all(isinstance(k, int) and k >= 1 for k in topk):
        raise ConfigError(f"{source}: Metric.topk must be a list of integers >= 1, got {topk!r}")
    if config["Global"]["amp_level"] and config["Global"]["device"] != "gpu":
        raise ConfigError(f"{source}: Global.amp_level={config['Global']['amp_level']} needs Global.device=gpu "
                          f"(AMP is for GPUs); remove it to train on CPU")
    return config


def load_config(path, overrides=()):
    """Load a config file (with ``_base_``), apply ``-o`` overrides, validate, fill in defaults."""
    raw = load_with_bases(path)
    for override in overrides or ():
        apply_override(raw, override)
    source = path + (" with -o overrides" if overrides else "")
    return validate(raw, source)


def dump_config(config):
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def save_config(config, output_dir):
    """Write the resolved config as output_dir/config.yaml (atomically)."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "config.yaml")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(dump_config(config))
    os.replace(tmp, path)
    return path
