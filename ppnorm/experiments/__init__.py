"""Experiments: each module answers one question of the normalization notes with reproducible numbers.

``python tools/experiment.py --list`` shows them; ``-c configs/experiments/<name>.yaml`` runs one.
``EXPERIMENTS`` maps each name to its module ``ppnorm.experiments.<name>``, imported when first
looked up. An experiment is a module of this package with a top-level line ``ORDER = <number>``, its place in
``--list`` and the docs (numbered in tens, so a new one fits between two); the line is read from the source, so
nothing is imported until a name is looked up, and adding an experiment is its module alone. A module either
declares ``EXPERIMENT = framework.Experiment(...)`` (docs/experiment_framework.md) or writes ``run(ctx)`` on the
Context.
"""
import re
from pathlib import Path

from ..registry import Registry, submodules

_ORDER = re.compile(r"^ORDER = (\d+)[ \t]*(?:#.*)?$", re.MULTILINE)  # the whole line: ORDER = <n>  # comment


def declared_experiments(folder):
    """The names of the modules in ``folder`` that declare ``ORDER``, by ORDER; two with one number are an error."""
    places = {}
    for info in submodules([str(folder)]):
        path = Path(folder, f"{info.name}.py")
        match = _ORDER.search(path.read_text(encoding="utf-8")) if path.is_file() else None
        if match and int(match[1]) in places:
            raise ValueError(f"experiments {places[int(match[1])]} and {info.name} both declare ORDER = {match[1]}; "
                             f"give each its own place in the list")
        if match:
            places[int(match[1])] = info.name
    return [places[order] for order in sorted(places)]


EXPERIMENTS = Registry("experiment", ordered=True)
for _name in declared_experiments(Path(__file__).parent):
    EXPERIMENTS.register_lazy(_name, f"{__name__}.{_name}")

NAMES = EXPERIMENTS.keys()  # a live view of the registered names, in registration order


def experiments():
    """``{name: module}``: the registry itself, a read-only mapping that imports a module when it is looked up."""
    return EXPERIMENTS
