"""Experiment configs: the engine's YAML loader (``_base_``, ``-o`` overrides) with the experiment's own schema.

A config names the experiment and overrides some of its ``DEFAULTS``; ``quick: true`` applies the
experiment's ``QUICK`` settings (what the tests run) before the file's own ``params``.
"""
import copy

from ..engine.config import ConfigError, _did_you_mean, apply_override, load_with_bases

TOP_LEVEL = {"experiment": None, "output_dir": None, "seed": 0, "quick": False, "use_visualdl": True, "params": {}}


def _check_param(name, value, default, source):
    if isinstance(default, bool) or default is None:
        ok = default is None or isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{source}: params.{name} must be like its default {default!r} "
                          f"({type(default).__name__}), got {value!r}")
    return value


def resolve_experiment_config(raw, experiments, source="config"):
    """Validate a raw experiment config against the registry; returns (module, settings, params)."""
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(f"{source}: unknown key '{key}'{_did_you_mean(key, TOP_LEVEL)}; "
                              f"valid keys: {', '.join(TOP_LEVEL)}")
    name = raw.get("experiment")
    if name not in experiments:
        raise ConfigError(f"{source}: experiment must be one of {', '.join(sorted(experiments))}, got {name!r}"
                          f"{_did_you_mean(name, experiments)}")
    module = experiments[name]
    settings = {key: copy.deepcopy(raw.get(key, default)) for key, default in TOP_LEVEL.items()}
    settings["output_dir"] = settings["output_dir"] or f"output/experiments/{name}"
    if not isinstance(settings["seed"], int) or not isinstance(settings["quick"], bool):
        raise ConfigError(f"{source}: seed must be an integer and quick true or false")
    given = settings["params"] or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{source}: params must be a mapping of {name}'s settings, got {given!r}")
    params = copy.deepcopy(module.DEFAULTS)
    if settings["quick"]:
        params.update(copy.deepcopy(module.QUICK))
    for key, value in given.items():
        if key not in module.DEFAULTS:
            raise ConfigError(f"{source}: unknown key 'params.{key}' for {name}{_did_you_mean(key, module.DEFAULTS)}; "
                              f"valid keys: {', '.join(module.DEFAULTS)}")
        params[key] = _check_param(key, value, module.DEFAULTS[key], source)
    return module, settings, params


def load_experiment_config(path, overrides, experiments):
    raw = load_with_bases(path)
    for override in overrides:
        apply_override(raw, override)
    return resolve_experiment_config(raw, experiments, path)
