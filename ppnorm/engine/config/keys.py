"""Config keys: what one value may hold, checked with one-line errors, and default filling for a schema.

A schema is a dict whose values are :class:`Key` (a leaf) or another dict (a section). The same
machinery checks the training configs (:mod:`.schema`) and the experiment configs
(:mod:`ppnorm.experiments.config`).
"""
from __future__ import annotations

import copy
import math
import os
from typing import Any, List, Optional, Tuple

from ...registry import did_you_mean  # the one "did you mean" helper, re-exported for config users

__all__ = ["MAX_INT", "NUMBER", "ConfigError", "Key", "as_kind", "check_known_keys", "check_numbers", "check_value",
           "describe_schema", "did_you_mean", "expand_home", "expand_user", "fill_defaults", "type_name"]


class ConfigError(ValueError):
    """A config file or override is malformed or invalid; the message says which key and what to change."""


NUMBER = (int, float)  # a Key kind: an integer or a float, kept as given
# The largest integer anywhere in a config (seeds are 32-bit unsigned: the widest use), so a huge count is a one-line
# error here instead of an OverflowError deep in a tool; keys passed to C ints set smaller maxima of their own.
MAX_INT = 2 ** 32 - 1


class Key:
    """One config key: its default, accepted type and limits.

    ``minimum``/``maximum`` are inclusive bounds, ``below`` an exclusive upper bound; ``items`` is a
    :class:`Key` every list element must satisfy; ``choices`` is a tuple or a registry (its names when a value is
    checked); ``nonempty`` refuses an empty list; ``kind=object``
    accepts any value.
    """

    def __init__(self, default: Any, kind: Any, choices: Any = None, minimum: Optional[float] = None,
                 maximum: Optional[float] = None, below: Optional[float] = None, items: Optional[Key] = None,
                 nonempty: bool = False, optional: Optional[bool] = None, help: str = "") -> None:
        self.default, self.kind, self.choices = default, kind, choices
        self.minimum, self.maximum, self.below = minimum, maximum, below
        self.items, self.nonempty = items, nonempty
        self.optional = default is None if optional is None else optional  # None may stand for 'unset'
        self.help = help

    def describe(self) -> str:
        """``int >= 1, default 30: help`` for listings such as ``--help-config``."""
        limits = [f">= {self.minimum}"] if self.minimum is not None else []
        limits += [f"<= {self.maximum}"] if self.maximum is not None else []
        limits += [f"< {self.below}"] if self.below is not None else []
        limits += [f"one of {', '.join(map(str, choice_names(self.choices)))}"] if self.choices else []
        kind = "number" if self.kind == NUMBER else getattr(self.kind, "__name__", str(self.kind))
        text = " ".join([kind] + limits)
        return f"{text}, default {self.default!r}" + (f": {self.help}" if self.help else "")


def choice_names(choices: Any) -> Any:
    """The valid values of a key: its tuple, or a registry's names as they are now (``Global.custom_imports``
    may have added some since the schema was built)."""
    return choices.names() if callable(getattr(choices, "names", None)) else choices


def type_name(kind: Any) -> str:
    names = {int: "an integer", float: "a number", NUMBER: "a number", bool: "true or false", str: "a string", list: "a list",
             dict: "a mapping"}
    return names.get(kind, f"a {getattr(kind, '__name__', kind)}")


def as_kind(kind: Any, value: Any) -> Tuple[Any, bool]:
    """``(value, ok)``: ``value`` as ``kind`` if it is one (ints are numbers; bools are not integers)."""
    if kind is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            return float(value), True
        except ValueError:
            return value, False
    if isinstance(value, bool) and kind not in (bool, object):
        return value, False
    if kind is float and isinstance(value, int):
        return float(value), True
    return value, isinstance(value, kind)


def _check_number(dotted, value, source):
    """Numbers are finite (.nan / .inf never reach a learning rate) and integers fit a C int."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {dotted} must be a finite number, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ConfigError(f"{source}: {dotted} must be at most {MAX_INT} in size, got {value!r}")


def expand_user(path: str, where: Optional[str] = None) -> str:
    """``~``, ``~/...`` and ``~user/...`` as a shell expands them; an unknown user is a one-line error that starts
    with ``where`` (the file and key) when given."""
    expanded = os.path.expanduser(path)
    if expanded.startswith("~"):
        user = path[1:].split("/", 1)[0]
        prefix = f"{where}={path}" if where else path
        raise ConfigError(f"{prefix}: there is no user {user!r} whose home '~{user}' could stand for; write the path "
                          f"in full, or with ~/ for your own home")
    return expanded


def expand_home(value: Any, source: Optional[str] = None, dotted: str = "") -> Any:
    """:func:`expand_user` on every string of a config value that starts with ``~`` and has no space (a path),
    lists and mappings included; an error names ``source`` (the file) and the key."""
    if isinstance(value, str) and value.startswith("~") and " " not in value:
        return expand_user(value, f"{source}: {dotted}" if source and dotted else dotted or None)
    if isinstance(value, list):
        return [expand_home(item, source, f"{dotted}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {name: expand_home(item, source, f"{dotted}.{name}" if dotted else str(name))
                for name, item in value.items()}
    return value


def _check_range(dotted, key, value, source):
    choices = choice_names(key.choices)
    if choices and value not in choices:
        raise ConfigError(f"{source}: {dotted} must be one of {', '.join(map(str, choices))}, got {value!r}"
                          f"{did_you_mean(value, choices)}")
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(f"{source}: {dotted} must be >= {key.minimum}, got {value!r}")
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(f"{source}: {dotted} must be <= {key.maximum}, got {value!r}")
    if key.below is not None and value >= key.below:
        raise ConfigError(f"{source}: {dotted} must be < {key.below}, got {value!r}")
    _check_number(dotted, value, source)


def check_value(dotted: str, key: Key, value: Any, source: str) -> Any:
    """Return ``value`` checked against ``key`` (ints become floats where a number belongs)."""
    if value is None:
        if key.optional:
            return None
        raise ConfigError(f"{source}: {dotted} must be set ({type_name(key.kind)})")
    value, ok = as_kind(key.kind, value)
    if not ok:
        raise ConfigError(f"{source}: {dotted} must be {type_name(key.kind)}, got {value!r} "
                          f"({type(value).__name__})")
    if key.kind is list:
        if key.nonempty and not value:
            raise ConfigError(f"{source}: {dotted} must not be empty")
        if key.items is not None:
            value = [check_value(f"{dotted}[{i}]", key.items, item, source) for i, item in enumerate(value)]
        return value
    _check_range(dotted, key, value, source)
    return value


def check_numbers(value: Any, source: str, dotted: str = "") -> None:
    """Every number anywhere in a raw config (free-form sections and option mappings included) is finite and fits
    a C int; the first that is not is a one-line error naming its key."""
    if isinstance(value, dict):
        for name, item in value.items():
            check_numbers(item, source, _join(dotted, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_numbers(item, source, f"{dotted}[{index}]")
    else:
        _check_number(dotted, value, source)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else str(name)


def check_known_keys(schema: dict, data: dict, prefix: str, source: str, owner: str = "") -> None:
    """One line for the first key of the mapping ``data`` that ``schema`` lacks, naming the closest one."""
    for key in data:
        if key not in schema:
            where = f" in {prefix}" if prefix else ""
            raise ConfigError(f"{source}: unknown key '{_join(prefix, key)}'{owner}{did_you_mean(key, schema)}; "
                              f"valid keys{where}: {', '.join(schema)}")


def fill_defaults(schema: dict, data: Optional[dict], prefix: str, source: str) -> dict:
    """Check the section ``data`` against ``schema``; return a copy with every default filled in.

    ``prefix`` is the section's dotted name in messages ("" for the top level).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix or 'a config'} must be a section (a mapping), got {data!r}")
    check_known_keys(schema, data, prefix, source)
    out = {}
    for name, spec in schema.items():
        dotted = _join(prefix, name)
        if isinstance(spec, dict):
            out[name] = fill_defaults(spec, data.get(name), dotted, source)
        else:
            out[name] = check_value(dotted, spec, copy.deepcopy(data.get(name, spec.default)), source)
    return out


def describe_schema(schema: dict, prefix: str = "") -> List[str]:
    """One line per key: ``Section.key  int >= 1, default 30: help``."""
    lines = []
    for name, spec in schema.items():
        dotted = f"{prefix}.{name}" if prefix else name
        if isinstance(spec, dict):
            lines += describe_schema(spec, dotted)
        else:
            lines.append(f"{dotted:45s} {spec.describe()}")
    return lines
