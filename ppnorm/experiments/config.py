"""Experiment configs: the engine's loader (``_base_``, ``-o`` overrides) with :class:`Key` schemas.

A config names the experiment and overrides some of its ``DEFAULTS``; ``quick: true`` applies the
experiment's ``QUICK`` settings (what the tests run) before the file's own ``params``. Each entry of
``DEFAULTS`` becomes a :class:`Key` of its default's type (list items too, when they share one type).
"""
import copy

from .data import check_data, is_default
from .i18n import LANGS
from ..engine.config import (MAX_SEED, ConfigError, Key, as_kind, check_known_keys, check_numbers, check_value,
                             did_you_mean, expand_home, fill_defaults, load_raw, type_name)

# params that count something: 0 or less can only be a mistake
_COUNTS = {"epochs", "batch_size", "seeds", "steps", "samples", "mc_samples", "layers", "width", "channels",
           "eval_every", "precise_batches"}


def settings_schema(experiments):
    """The top level of an experiment config."""
    return {
        "experiment": Key(None, str, choices=tuple(sorted(experiments)), optional=False,
                          help="the experiment to run (tools/experiment.py --list)"),
        "output_dir": Key(None, str, help="default: output/experiments/<experiment>"),
        "seed": Key(0, int, minimum=0, maximum=MAX_SEED),
        "quick": Key(False, bool, help="the experiment's QUICK settings (seconds, for tests)"),
        "use_visualdl": Key(True, bool),
        "lang": Key("en", str, choices=LANGS, help="language of report.md, tables and charts (zh: Chinese)"),
        "claims": Key({}, dict, optional=True, help="pre-registered claims: {claim id: {metric, a, b, side, margin, "
                      "sesoi, paired}} overriding the experiment's declaration"),
        "params": Key({}, dict, optional=True, help="overrides of the experiment's DEFAULTS"),
        "tuning": Key({}, dict, optional=True, help="pre-registered tuning (--tune): {param: {values, metric, where, "
                      "goal: min|max, params}} scored on a validation split"),
        "data": Key(None, object, help="the data set: a name or {name: cifar10, data_file: ...} (default digits; "
                    "see ppnorm/experiments/data.py)"),
    }


def _kind(value):
    return object if value is None else type(value)


def param_key(name, default):
    """A :class:`Key` for one ``DEFAULTS`` entry, typed like its default."""
    items = None
    if isinstance(default, list) and default and len({_kind(v) for v in default}) == 1:
        items = Key(None, _kind(default[0]))
    minimum = 1 if name in _COUNTS and isinstance(default, int) else None
    return Key(default, _kind(default), items=items, minimum=minimum, optional=True)


def _check_param(name, key, value, source):
    if value is not None and not as_kind(key.kind, value)[1]:
        raise ConfigError(f"{source}: params.{name} must be like its default {key.default!r} "
                          f"({type_name(key.kind)}), got {value!r}")
    return check_value(f"params.{name}", key, value, source)


def _check_takes_data(name, module, data, source):
    """A module takes ``data`` when its ``DATA`` is True; a string ``DATA`` says why it cannot; no ``DATA``: digits only."""
    takes = getattr(module, "DATA", None)
    if takes is True or is_default(data):
        return
    why = takes if isinstance(takes, str) else "it trains on digits only (not yet ported to ctx.data)"
    raise ConfigError(f"{source}: data: experiment {name} takes no data set option: {why}")


_TUNING_KEYS = ("values", "metric", "where", "goal", "params")


def _check_tuning(tuning, keys, source):
    """Each tuned param is one of ``keys`` (the experiment's params) with values valid for it, a metric, a goal."""
    for param, spec in tuning.items():
        where = f"{source}: tuning.{param}"
        if param not in keys:
            raise ConfigError(f"{where}: not a param of this experiment{did_you_mean(param, keys)}")
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list) or not spec["values"] \
                or not isinstance(spec.get("metric"), str):
            raise ConfigError(f"{where}: give {{values: [a list], metric: <a metric of the cell>}}")
        unknown = sorted(set(spec) - set(_TUNING_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'; valid: {', '.join(_TUNING_KEYS)}")
        if spec.get("goal", "min") not in ("min", "max"):
            raise ConfigError(f"{where}.goal must be min or max, got {spec['goal']!r}")
        if not isinstance(spec.get("where", {}), dict) or not isinstance(spec.get("params", {}), dict):
            raise ConfigError(f"{where}: where and params are mappings, e.g. where: {{norm: gn}}")
        spec["values"] = [_check_param(param, keys[param], value, where) for value in spec["values"]]
        check_known_keys(keys, spec.get("params", {}), f"tuning.{param}.params", source)
        spec["params"] = {k: _check_param(k, keys[k], v, where) for k, v in spec.get("params", {}).items()}


def resolve_experiment_config(raw, experiments, source="config"):
    """Validate a raw experiment config against the registry; returns (module, settings, params)."""
    settings = fill_defaults(settings_schema(experiments), expand_home(raw, source), "", source)
    name = settings["experiment"]
    module = experiments[name]
    settings["output_dir"] = settings["output_dir"] or f"output/experiments/{name}"
    settings["params"] = settings["params"] or {}  # 'params:' left empty
    settings["data"] = check_data(settings["data"], source)
    _check_takes_data(name, module, settings["data"], source)
    keys = {key: param_key(key, default) for key, default in module.DEFAULTS.items()}
    params = copy.deepcopy(module.DEFAULTS)
    if settings["quick"]:
        params.update(copy.deepcopy(module.QUICK))
    check_known_keys(keys, settings["params"], "params", source, owner=f" for {name}")
    for key, value in settings["params"].items():
        params[key] = _check_param(key, keys[key], value, source)
    check_numbers(params, source, "params")  # inside lists and mappings too: finite, and no count beyond a C int
    settings["claims"] = settings["claims"] or {}
    settings["tuning"] = settings["tuning"] or {}
    _check_tuning(settings["tuning"], keys, source)
    declared = getattr(module, "EXPERIMENT", None)
    if declared is not None:
        declared.resolve(params, settings["claims"], source)  # a bad claim or param fails here, before any run
    elif settings["claims"]:
        raise ConfigError(f"{source}: claims: {name} does not declare its claims as data (not on the framework yet)")
    return module, settings, params


def load_experiment_config(path, overrides, experiments):
    return resolve_experiment_config(load_raw(path, overrides), experiments, path)
