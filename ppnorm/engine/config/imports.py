"""``Global.custom_imports``: the user's own modules and ``.py`` files, imported before a config is validated.

A hook, model, norm kind, data set or transform of your own is registered by the module that defines it
(``@HOOKS.register("MyHook")``, ``register_model(...)``, ...). Listing that module in the config makes the
tools import it first, so the config may name what it registers::

    Global:
      custom_imports: [my_project.hooks, extensions.py]   # a module name, or a file next to this config
    Hooks:
      - {name: MyHook}

A module name is imported from the working directory or ``PYTHONPATH``; a ``.py`` path is relative to the
folder of the config file that gives it (an ``-o`` entry: the ``-c`` file's, or the working directory when
that is a shipped config such as ``digits/resnet20``; ``~`` expanded) and is stored as an absolute path in the run's
``config.yaml``, so eval, export and resume of that run import the same code; while it runs, its folder is on
``sys.path`` (as for a script), so it may import the modules next to it. Importing runs that code:
list only your own. Every problem is one :class:`ConfigError` line naming the key, the config and the entry.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
import sysconfig
import traceback
from types import ModuleType
from typing import Iterator, List

from ...registry import undone_on_error
from .keys import ConfigError, Key, check_value, expand_user

__all__ = ["CUSTOM_IMPORTS", "KEY", "import_custom", "resolve_files"]

KEY = "Global.custom_imports"
CUSTOM_IMPORTS = Key([], list, items=Key(None, str, optional=False),
                     help="your own modules (my_project.hooks, from the working directory or PYTHONPATH) or .py files "
                          "(relative to this config's folder), imported before the config is checked so it may name "
                          "the hooks, models, norms, data sets and transforms they register; this runs their code: "
                          "list only your own")
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # ppnorm/
_LIBRARIES = tuple({sysconfig.get_paths()[name] for name in ("stdlib", "purelib", "platlib")})


def _entries(raw: dict) -> object:
    settings = raw.get("Global") if isinstance(raw, dict) else None
    return settings.get("custom_imports") if isinstance(settings, dict) else None


def resolve_files(raw: dict, folder: str, source: str, key: str = KEY) -> None:
    """In place: every ``.py`` entry of ``raw``'s ``Global.custom_imports`` made absolute, relative to ``folder``
    (the folder of the config file that gives it, or the working directory for a tool's flag ``key``) with ``~``
    expanded; module names and other values stay."""
    entries = _entries(raw)
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if isinstance(entry, str) and entry.endswith(".py"):
            path = expand_user(entry, f"{source}: {key}[{index}]") if entry.startswith("~") else entry
            entries[index] = os.path.normpath(os.path.join(folder, path))


def import_custom(raw: dict, source: str, key: str = KEY) -> List[ModuleType]:
    """Import the modules and files ``raw``'s ``Global.custom_imports`` lists, in order (each at most once per
    process); a one-line :class:`ConfigError` for an entry that is not a string, cannot be found or raises.
    ``key``: what the errors call the list (a tool's flag such as ``--custom_imports`` when not from a config)."""
    entries = _entries(raw)
    if entries is None:
        return []
    entries = check_value(key, CUSTOM_IMPORTS, entries, source)
    modules = []
    for index, entry in enumerate(entries):
        where = f"{source}: {key}[{index}] {entry!r}"
        if not entry.endswith(".py"):
            modules.append(_import_module(entry, where))
        elif not os.path.isfile(entry):
            fix = ("give its path in the config (relative to that file's folder) or with -o "
                   "Global.custom_imports=[/path/to/it.py]") if key == KEY else f"give {key} its path"
            raise ConfigError(f"{where}: no such file {entry}; moved? {fix}")
        else:
            modules.append(_import_file(entry, where))
    return modules


def _import_file(path: str, where: str) -> ModuleType:
    real = os.path.realpath(path)  # one module per file, however the path reaches it (a symlink, ..)
    name = "ppnorm_custom_" + hashlib.sha1(real.encode("utf-8")).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _on_path(os.path.dirname(path)), _undone_on_error():  # neighbours import as for a script
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # noqa: BLE001 - the user's code may raise (or exit): one line
        del sys.modules[name]
        raise _raised(where, error) from error
    return module


def _import_module(name: str, where: str) -> ModuleType:
    if not _MODULE_NAME.fullmatch(name):
        raise ConfigError(f"{where}: expected a module name such as my_project.hooks or a path ending in .py")
    cwd = os.getcwd()
    with _on_path(cwd), _undone_on_error():
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and (name == error.name or name.startswith(error.name + ".")):
                raise ConfigError(f"{where}: no module {error.name!r} on the path (the working directory {cwd} "
                                  f"or PYTHONPATH); give its package's folder in PYTHONPATH, or a .py file path"
                                  ) from error
            raise _raised(where, error) from error
        except (Exception, SystemExit) as error:  # noqa: BLE001 - the user's code may raise (or exit): one line
            raise _raised(where, error) from error


@contextlib.contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """``folder`` at the end of ``sys.path`` while importing: the working directory for a module name
    (``tools/train.py`` starts with the tools folder there instead), as with ``python -m``; a file's own folder
    for a ``.py`` entry, as for a script."""
    added = folder not in sys.path and not (folder == os.getcwd() and "" in sys.path)
    if added:
        sys.path.append(folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


@contextlib.contextmanager
def _undone_on_error() -> Iterator[None]:
    """If the import fails, what it registered is unregistered and the user's modules it imported are forgotten,
    so once fixed it imports (and registers) again in the same session."""
    modules = set(sys.modules)
    try:
        with undone_on_error():
            yield
    except BaseException:
        for name in set(sys.modules) - modules:
            if _users(getattr(sys.modules[name], "__file__", None) or "<none>"):
                del sys.modules[name]
        raise


def _raised(where: str, error: BaseException) -> ConfigError:
    """The one line for an import that raised: its type and message, and the user's file and line."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, SyntaxError):
        place = f"{error.filename}:{error.lineno}"
        message = error.msg
    else:
        frames = [frame for frame in traceback.extract_tb(error.__traceback__) if _users(frame.filename)]
        place = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return ConfigError(f"{where}: importing it raised {text}" + (f" (at {place})" if place else "")
                       + "; rerun with -v for the traceback")


def _users(filename: str) -> bool:
    """True for a file of the user's code: not ppnorm's, not Python's or an installed library's, not frozen."""
    path = os.path.abspath(filename)
    return not filename.startswith("<") and not path.startswith(_PACKAGE + os.sep) and not any(
        path.startswith(folder + os.sep) for folder in _LIBRARIES)
