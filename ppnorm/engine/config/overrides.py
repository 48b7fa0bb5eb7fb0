"""``-o Section.key=value`` overrides: the text parsed into keys and a YAML value (never code).

Both readers of overrides use :func:`parse_override`: the loader for ppnorm's configs and the config dialects
(e.g. ``ppnorm.paddleclas.translator``, with list indices). Everything after the first ``=`` is the value.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import yaml

from .keys import ConfigError
from .unique_yaml import DuplicateKeyError, OversizedError, safe_load_unique, yaml_problem


def parse_override(override: str) -> Tuple[List[str], Any]:
    """``"Section.key=value"`` -> ``(["Section", "key"], value)``; the value is YAML, never code."""
    if "=" not in override:
        raise ConfigError(f"override '{override}' must look like Section.key=value, e.g. Global.epochs=3")
    dotted, raw = override.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"override '{override}': '{dotted}' is not a dotted key like Section.key")
    try:
        value = safe_load_unique(raw) if raw.strip() else None
    except DuplicateKeyError as error:
        raise ConfigError(f"override '{override}': key {error.key!r} is given twice; keep one") from None
    except OversizedError as error:
        raise ConfigError(f"override '{dotted}=...': refused: the YAML value {error}") from None
    except RecursionError:
        raise ConfigError(f"override '{dotted}=...': refused: the YAML value is nested too deeply") from None
    except yaml.constructor.ConstructorError as error:
        raise ConfigError(f"override '{override}': {yaml_problem(error)}") from None
    except yaml.YAMLError:
        value = raw  # not YAML (e.g. 'a: b: c'): the text itself
    return keys, value
