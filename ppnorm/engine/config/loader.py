"""Reading configs: YAML files with ``_base_`` inheritance, ``-o Section.key=value`` overrides, dumping.

YAML is only ever read with ``yaml.safe_load`` (see :mod:`.unique_yaml`, which also refuses a key given
twice in one mapping): a config or an override holds plain data, never a Python object (``!!python/...``
tags are refused); the one way a config runs code is the user's own list ``Global.custom_imports``
(:mod:`.imports`). Override values are parsed as YAML scalars/lists (``-o Global.epochs=3``,
``-o Metric.topk=[1,3]``); everything after the first ``=`` is the value.

A mapping in a file may say ``_delete_: true`` to replace the mapping it inherits from its
``_base_`` instead of merging into it (mmengine's convention), e.g. switching a data set::

    _base_: ../digits/resnet20.yaml
    DataLoader:
      Train:
        dataset: {_delete_: true, name: image_folder, root: data/train}
"""
from __future__ import annotations

import copy
import os
from typing import Any, Iterable, List

import yaml

from ...config_files import configs_dir, not_found_hint, resolve_config, shipped_config
from .dialects import find_dialect
from .imports import import_custom, resolve_files
from .keys import ConfigError, expand_user
from .overrides import parse_override
from .schema import SCHEMA, validate
from .unique_yaml import DuplicateKeyError, OversizedError, safe_load_unique, yaml_problem

__all__ = ["apply_override", "check_config_target", "dump_config", "load_config", "load_raw", "load_with_bases",
           "merge", "parse_override", "read_yaml", "save_config"]

DELETE = "_delete_"
MAX_BASE_DEPTH = 32  # _base_ files inheriting from _base_ files: ppnorm's own configs use at most 2


def read_yaml(path: str) -> dict:
    """Read one YAML file as a mapping; a missing, binary or malformed file is a one-line error."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            data = safe_load_unique(handle)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) YAML file; give a .yaml config") from None
    except DuplicateKeyError as error:
        raise ConfigError(f"{path}: key {error.key!r} is given twice in one mapping, at lines {error.first} and "
                          f"{error.second} (YAML would silently keep the second); keep one") from None
    except OversizedError as error:
        raise ConfigError(f"{path}: refused: the YAML {error}; a config is plain settings") from None
    except RecursionError:
        raise ConfigError(f"{path}: refused: the YAML is nested too deeply to be a config") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError(f"{where}: malformed YAML: {yaml_problem(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections (Global, Arch, ...), "
                          f"got {type(data).__name__}")
    return data


def merge(base: dict, override: dict) -> dict:
    """Deep-merge dicts; lists and scalars in ``override`` replace those in ``base``.

    A mapping in ``override`` holding ``_delete_: true`` replaces the one in ``base`` whole.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and value.get(DELETE) is True:
            merged[key] = strip_delete(value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = strip_delete(value)
    return merged


def strip_delete(value: Any) -> Any:
    """A deep copy of ``value`` without ``_delete_`` markers (they mean nothing without a base)."""
    if isinstance(value, dict):
        return {k: strip_delete(v) for k, v in value.items() if k != DELETE}
    return copy.deepcopy(value)


def _base_paths(path: str, bases: Any) -> List[str]:
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"{path}: _base_ must be a config file name or a list of them, got {bases!r}")
    return [_base_file(path, base) for base in bases]


def _base_file(path: str, base: str) -> str:
    """A ``_base_`` entry: relative to the including file, with ``~`` expanded; else a shipped config's name."""
    base = expand_user(base, f"{path}: _base_") if base.startswith("~") else base
    candidate = os.path.join(os.path.dirname(path), base)
    if os.path.exists(candidate):
        return candidate
    return shipped_config(base) or candidate


def load_with_bases(path: str, _seen: tuple = ()) -> dict:
    """A YAML file merged over its ``_base_`` file(s), resolved relative to it."""
    path = os.path.abspath(path)
    if path in _seen:
        raise ConfigError(f"{path}: _base_ inheritance loops back to this file")
    if len(_seen) >= MAX_BASE_DEPTH:
        raise ConfigError(f"{_seen[0]}: _base_ chain is more than {MAX_BASE_DEPTH} files deep (at {path}); "
                          f"inherit from fewer files")
    data = read_yaml(path)
    resolve_files(data, os.path.dirname(path), path)  # a .py in Global.custom_imports is relative to its file
    if "_base_" not in data:
        return strip_delete(data)
    merged = {}
    for base in _base_paths(path, data.pop("_base_")):
        merged = merge(merged, load_with_bases(base, _seen + (path,)))
    return merge(merged, data)


def apply_override(config: dict, override: str) -> None:
    """Apply one ``Section.key=value`` override to the raw ``config`` mapping, in place."""
    keys, value = parse_override(override)
    node = config
    for index, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{override}': {'.'.join(keys[:index + 1])} is a value, not a section")
        node = child
    if isinstance(node.get(keys[-1]), dict) and value is None:  # would silently reset every key of the section
        raise ConfigError(f"override '{override}': {'.'.join(keys)} is a section and null would drop all its keys; "
                          f"set them one by one ({'.'.join(keys)}.key=value) or give a mapping ({'.'.join(keys)}={{...}})")
    node[keys[-1]] = strip_delete(value) if isinstance(value, dict) else value


def config_file(path: str) -> str:
    """The file ``path`` names: a path on disk, else a shipped config's name (``digits/resnet20``)."""
    resolved = resolve_config(str(path))
    if not os.path.isfile(resolved):
        raise ConfigError(f"config file not found: {resolved}; {not_found_hint()}")
    return resolved


def load_raw(path: str, overrides: Iterable[str] = ()) -> dict:
    """The config file (with ``_base_``) with ``-o`` overrides applied, not yet validated."""
    raw = load_with_bases(config_file(path))
    for override in overrides or ():
        apply_override(raw, override)
    return raw


def load_config(path: str, overrides: Iterable[str] = ()) -> dict:
    """Load a config file (with ``_base_``), apply ``-o`` overrides, import ``Global.custom_imports``
    (:mod:`.imports`), validate, fill in defaults.

    A config in another layout (a dialect, e.g. PaddleClas's; :mod:`.dialects`) takes ``-o`` in its own key
    names and is translated first.
    """
    path = config_file(path)
    source = path + (" with -o overrides" if overrides else "")
    raw = load_with_bases(path)
    dialect = find_dialect(raw)
    if dialect is not None:
        raw = dialect.translate(raw, overrides, source)
    else:
        for override in overrides or ():
            apply_override(raw, override)
    resolve_files(raw, _overrides_folder(path), source)  # -o entries: relative to the -c file's folder
    import_custom(raw, source)  # before validation: the config may name what these modules register
    return validate(raw, source)


def _overrides_folder(path: str) -> str:
    """Where a relative ``.py`` of ``-o Global.custom_imports`` is: the ``-c`` file's folder, or the working
    directory for a shipped config (``-c digits/resnet20``), whose folder in ppnorm holds nothing of the user's."""
    folder, shipped = os.path.dirname(os.path.realpath(path)), configs_dir()
    inside = shipped is not None and os.path.commonpath([folder, str(shipped)]) == str(shipped)
    return os.getcwd() if inside else os.path.dirname(os.path.abspath(path))


def dump_config(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


WRITTEN_BY = ("# ppnorm: the resolved config of the run in this directory, written by tools/train.py "
              "(rewritten whenever a run trains here)\n")
CONFIG_NAME = "config.yaml"
ADDED_SECTIONS = ("Hooks",)  # sections a resolved config of an older version (without WRITTEN_BY) does not have


def written_by_ppnorm(path: str) -> bool:
    """True when ``path`` holds a config :func:`save_config` wrote: its first line says so, or (runs of older
    versions) it is a complete resolved config (every section, no ``_base_``) whose text is exactly its own
    dump (no comments, ppnorm's layout)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if text.startswith(WRITTEN_BY):
            return True
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    older = [section for section in SCHEMA if section not in ADDED_SECTIONS]  # the sections older versions wrote
    return isinstance(data, dict) and list(data) in (list(SCHEMA), older) and text == dump_config(data)


def check_config_target(output_dir: str) -> str:
    """Refuse an ``output_dir/config.yaml`` ppnorm did not write (e.g. the user's own ``-c`` file, with its
    ``_base_`` and comments): the resolved config must never replace it."""
    path = os.path.join(output_dir, CONFIG_NAME)
    if os.path.lexists(path) and not (os.path.isfile(path) and written_by_ppnorm(path)):
        raise ConfigError(f"{path} was not written by ppnorm (your own config?) and training would replace it with "
                          f"the resolved config; nothing was changed: keep your config outside Global.output_dir "
                          f"(e.g. configs/), or train into another --output_dir")
    return path


def save_config(config: dict, output_dir: str) -> str:
    """Write the resolved config as output_dir/config.yaml (atomically, marked as ppnorm's by its first line);
    a config.yaml ppnorm did not write is never replaced (see :func:`check_config_target`)."""
    os.makedirs(output_dir, exist_ok=True)
    path = check_config_target(output_dir)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(WRITTEN_BY + dump_config(config))
    except OSError:  # e.g. a full disk: leave no half-written temporary behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, path)
    return path
