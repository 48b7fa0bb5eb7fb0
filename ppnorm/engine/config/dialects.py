"""Config dialects: other projects' YAML layouts that the loader reads by translating them into ppnorm's.

A dialect is a module with ``detect(raw)`` (True when the raw YAML mapping is in its layout) and
``translate(raw, overrides, source)`` (the mapping, its ``-o`` overrides applied in the dialect's own key
names, as ppnorm's raw config, validated afterwards like any other). The loader asks :func:`find_dialect`
and knows no dialect by name. Each entry is imported when the registry is first consulted.
"""
from __future__ import annotations

from types import ModuleType
from typing import Optional

from ...registry import Registry

DIALECTS = Registry("config dialect", ordered=True)
DIALECTS.register_lazy("paddleclas", "ppnorm.paddleclas.dialect")


def find_dialect(raw: dict) -> Optional[ModuleType]:
    """The first dialect whose ``detect`` claims the raw mapping, or None (ppnorm's own layout)."""
    for name in DIALECTS.names():
        dialect = DIALECTS.get_target(name)
        if dialect.detect(raw):
            return dialect
    return None
