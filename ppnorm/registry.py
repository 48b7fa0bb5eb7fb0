"""Registry: every extension point of ppnorm maps a name to a class or function.

One ``Registry`` instance per extension point: models (``ppnorm.models.registry.MODELS``), data
sets and transforms (``ppnorm.data``), norm kinds (``ppnorm.nn.norm.NORMS``), activations
(``ppnorm.nn.layers.ACTIVATIONS``), optimizers and learning-rate schedules
(``ppnorm.engine.optim.OPTIMIZERS`` / ``SCHEDULES``), losses (``ppnorm.engine.loss.LOSSES``),
experiments (``ppnorm.experiments.EXPERIMENTS``), config dialects (``ppnorm.engine.config.dialects.DIALECTS``)
and weight converters (``ppnorm.models.convert.CONVERTERS``). Adding one is one decorated function or class::

    @NORMS.register("my_norm")
    def my_norm(args): ...

or one call, ``MODELS.register("resnet20", ResNet, defaults, depths=(3, 3, 3), ...)``, where the
keyword arguments are fixed for that name and ``defaults`` may be overridden by the user.
``build`` checks keyword arguments against the signature, so a typo names the closest valid option.
A registry is also a read-only mapping ``name -> registered class or function``. The modules that register
are found, not listed: a package imports all of its modules (:func:`import_submodules`).
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import pkgutil
import re
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

_SCRIPT = re.compile(r"""^if __name__ == ["']__main__["']""", re.MULTILINE)


def did_you_mean(word: Any, candidates: Iterable[Any]) -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_message(what: str, word: Any, candidates: Iterable[Any], valid: str = "valid") -> str:
    """The one-line error for a name that is not among ``candidates``: the closest one and all of them."""
    names = [str(c) for c in candidates]
    return f"unknown {what} '{word}'{did_you_mean(word, names)}; {valid}: {', '.join(names)}"


class _Lazy:
    """A registered module (or one of its attributes) that is imported when its name is first looked up."""

    def __init__(self, module: str, attribute: Optional[str] = None) -> None:
        self.module, self.attribute = module, attribute

    def load(self) -> Any:
        module = importlib.import_module(self.module)
        return module if self.attribute is None else getattr(module, self.attribute)


class Registry(Mapping):
    """``name -> (target, fixed arguments, default arguments)`` for one kind of component.

    ``ordered=True`` lists names in registration order (default: sorted); ``valid`` is the label
    before the list of names in the unknown-name error.
    """

    _instances: List[weakref.ref] = []  # every registry, for :func:`undone_on_error`

    def __init__(self, kind: str, ordered: bool = False, valid: str = "valid") -> None:
        Registry._instances.append(weakref.ref(self))
        self.kind = kind
        self.ordered = ordered
        self.valid = valid
        self._entries: Dict[str, Tuple[Any, dict, dict]] = {}

    def register(self, name: str, target: Any = None, defaults: Optional[dict] = None, **fixed: Any) -> Any:
        """Register ``name`` as ``target(**fixed, **defaults, **user_kwargs)``; users may override ``defaults``.

        Without ``target`` it returns a decorator: ``@REGISTRY.register("name")``.
        """
        if target is None:
            return lambda decorated: self.register(name, decorated, defaults, **fixed)
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = (target, fixed, dict(defaults or {}))
        return target

    def register_lazy(self, name: str, module: str, attribute: Optional[str] = None) -> Any:
        """Register ``name`` as the module ``module`` (a dotted path), or its ``attribute``, imported on first lookup.

        A package registers an adapter this way without importing it (nor making a cycle): e.g. ``TRANSFORMS``
        names PaddleClas's ops in ``ppnorm.paddleclas.ops``, loaded when one of them is first built.
        """
        return self.register(name, _Lazy(module, attribute))

    def names(self) -> List[str]:
        return list(self._entries) if self.ordered else sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:  # an unhashable value is never a registered name
            return False

    def __getitem__(self, name: str) -> Any:
        if name not in self:
            raise KeyError(name)
        return self.lookup(name)[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, name: str) -> Tuple[Any, dict, dict]:
        """``(target, fixed, defaults)`` for ``name``, or a one-line ``ValueError`` naming the closest name."""
        if name not in self:
            raise ValueError(unknown_message(self.kind, name, self.names(), self.valid))
        target, fixed, defaults = self._entries[name]
        if isinstance(target, _Lazy):
            target = target.load()
            self._entries[name] = (target, fixed, defaults)
        return target, fixed, defaults

    def get_target(self, name: str) -> Any:
        """The class or function registered as ``name`` (a one-line ``ValueError`` if there is none)."""
        return self.lookup(name)[0]

    def options(self, name: str) -> List[str]:
        """The keyword arguments a user may pass for ``name``."""
        target, fixed, _ = self.lookup(name)
        names = []
        for klass in (target.__mro__ if inspect.isclass(target) else (target,)):
            function = klass.__init__ if inspect.isclass(target) else klass
            params = inspect.signature(function).parameters.values()
            names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                      and p.name != "self" and p.name not in names]
            if not any(p.kind is p.VAR_KEYWORD for p in params):  # follow **options up to the base class
                break
        return [n for n in names if n not in fixed]

    def check_options(self, name: str, kwargs: Optional[dict], where: Optional[str] = None) -> None:
        """Raise a one-line error for the first keyword ``name`` does not take."""
        if not kwargs:
            self.lookup(name)
            return
        valid = self.options(name)
        for key in kwargs:
            if key not in valid:
                place = where or f"{self.kind} '{name}'"
                raise ValueError(f"unknown option '{key}' for {place}{did_you_mean(key, valid)}; "
                                 f"valid: {', '.join(valid)}")

    def build(self, name: str, **kwargs: Any) -> Any:
        target, fixed, defaults = self.lookup(name)
        self.check_options(name, kwargs)
        return target(**fixed, **{**defaults, **kwargs})


@contextlib.contextmanager
def undone_on_error() -> Iterator[None]:
    """What the block registers is unregistered if it raises (or exits): a user's module that failed halfway and
    is fixed imports again in the same session (a notebook) instead of finding its names registered twice."""
    registries = [registry for registry in (ref() for ref in Registry._instances) if registry is not None]
    before = [(registry, set(registry._entries)) for registry in registries]
    try:
        yield
    except BaseException:
        for registry, names in before:
            for name in set(registry._entries) - names:
                del registry._entries[name]
        raise


def submodules(path) -> Iterator[pkgutil.ModuleInfo]:
    """The modules in the folders ``path`` that an import statement can name; a copy an editor, a file manager or
    Jupyter leaves there (``resnet-Copy1.py``, ``resnet (copy).py``) is not one and is left out."""
    return (info for info in pkgutil.iter_modules(path) if info.name.isidentifier())


def import_submodules(package, path):
    """Import every module of the package named ``package`` (``path`` is its ``__path__``), so each one that
    registers something is found without a list: a new module is picked up by being there.

    A module meant for ``python -m`` (it tests ``__name__ == "__main__"``) is left out: imported with its package
    first, runpy would warn that it runs a module already imported."""
    for info in submodules(path):
        folder = Path(info.module_finder.path)
        source = folder / info.name / "__init__.py" if info.ispkg else folder / f"{info.name}.py"
        if source.is_file() and _SCRIPT.search(source.read_text(encoding="utf-8")):
            continue
        importlib.import_module(f"{package}.{info.name}")
