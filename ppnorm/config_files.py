"""The configs that ship with ppnorm, addressable by name from any directory.

In a clone they are the repository's ``configs/`` folder; in an installed wheel the same files are package
data under ``ppnorm/configs/`` (setup.py maps one onto the other). A name is the path below that folder,
with or without ``.yaml``: ``digits/resnet20`` or ``experiments/precise_bn.yaml``. A path that exists on
disk always wins over a packaged name, so a user's own ``configs/digits/resnet20.yaml`` is read as given.
"""
import os
from pathlib import Path

SUFFIX = ".yaml"


def configs_dir():
    """The folder of shipped configs: ``ppnorm/configs`` in a wheel, ``<clone>/configs`` in a checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "configs", package.parent / "configs"):
        if (candidate / "digits").is_dir():
            return candidate
    return None


def list_configs():
    """Every shipped config's name (``digits/resnet20``, ...), sorted; empty when none is found."""
    root = configs_dir()
    if root is None:
        return []
    return sorted(path.relative_to(root).with_suffix("").as_posix() for path in root.rglob(f"*{SUFFIX}"))


def resolve_config(text):
    """``text`` if it names an existing file, else the shipped config it names, else ``text`` unchanged
    (the loader then reports it as not found, with :func:`not_found_hint`)."""
    path = os.path.expanduser(text)
    if os.path.exists(path):
        return path
    return shipped_config(text) or path


def shipped_config(text):
    """The path of the shipped config ``text`` names (``digits/resnet20``, ``configs/digits/resnet20.yaml``), or
    None (also for absolute paths)."""
    root = configs_dir()
    name = Path(text.replace("\\", "/"))
    if root is None or name.is_absolute():
        return None
    if name.parts[:1] == ("configs",):  # the clone's spelling, from another directory or a wheel
        name = Path(*name.parts[1:]) if len(name.parts) > 1 else name
    for candidate in (root / name, root / name.with_name(name.name + SUFFIX)):
        if candidate.is_file():
            return str(candidate)
    return None


def not_found_hint():
    """Appended to "config file not found": where shipped configs are and how to list them."""
    return "give a YAML file or the name of a shipped config such as digits/resnet20 (ppnorm train --list-configs)"
