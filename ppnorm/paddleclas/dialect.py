"""PaddleClas's config layout as a dialect of ppnorm's config loader: ``detect`` + ``translate``.

``ppnorm.engine.config.dialects.DIALECTS`` names this module lazily; the loader asks every dialect's
``detect`` about the raw YAML mapping and hands a match to its ``translate``. Detecting needs no more
than the section names; the translation (:mod:`.translator`, with the model zoo and the data ops) is
imported only when a PaddleClas file is read.
"""
from .names import ARCHS, GLOBAL_EXTRA, LEGACY_SECTIONS, SECTIONS


def detect(raw):
    """True for PaddleClas's layout (sections or keys ppnorm's own configs never have)."""
    if not isinstance(raw, dict):
        return False
    sections = {name: raw.get(name) if isinstance(raw.get(name), dict) else {} for name in SECTIONS}
    loaders = [spec for spec in sections["DataLoader"].values() if isinstance(spec, dict)]
    return bool(
        set(LEGACY_SECTIONS) & set(raw) or "Infer" in raw or "AMP" in raw
        or {"Train", "Eval"} & (set(sections["Loss"]) | set(sections["Metric"]))
        or str(sections["Arch"].get("name")) in ARCHS or "class_num" in sections["Arch"]
        or set(GLOBAL_EXTRA) & set(sections["Global"])
        or any({"sampler", "loader"} & set(spec) for spec in loaders))


def translate(raw, overrides=(), source="config"):
    """A PaddleClas config (``-o`` in its key names applied first) -> ppnorm's raw config (:mod:`.translator`)."""
    from .translator import translate as run  # the model zoo and the data ops: only for PaddleClas files
    return run(raw, overrides, source)
