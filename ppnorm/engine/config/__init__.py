"""The one config module: a schema of :class:`Key` s (:mod:`.keys`, :mod:`.schema`) and a loader (:mod:`.loader`)
that first imports the config's own modules (``Global.custom_imports``, :mod:`.imports`).

Every key is checked before anything runs: an unknown key names the closest valid one, a wrong
type or value names the key, what was given and what is expected.
"""
from .keys import (MAX_INT, NUMBER, ConfigError, Key, as_kind, check_known_keys, check_numbers, check_value,
                   describe_schema, did_you_mean, expand_home, fill_defaults, type_name)
from .imports import import_custom
from .loader import (apply_override, check_config_target, dump_config, load_config, load_raw, load_with_bases, merge,
                     read_yaml, save_config)
from .overrides import parse_override
from .schema import MAX_SEED, SCHEMA, validate

__all__ = ["MAX_INT", "MAX_SEED", "NUMBER", "check_numbers", "expand_home", "SCHEMA", "ConfigError", "Key",
           "apply_override", "as_kind", "check_config_target", "check_known_keys", "check_value", "describe_schema",
           "type_name", "did_you_mean", "dump_config", "fill_defaults", "import_custom", "load_config", "load_raw",
           "load_with_bases", "merge", "parse_override", "read_yaml", "save_config", "validate"]
