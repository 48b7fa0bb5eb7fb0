"""Shared by the tests/test_exp_*.py files: run an experiment in its quick setting, the Context a cell gets, capture
the models a cell builds, read the runs it wrote, recompute a per-seed interval by hand."""
import csv
import os

import numpy as np

from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.context import Context
from ppnorm.experiments.runner import run_experiment
from ppnorm.experiments.stats import t_quantile


def run_quick(name, tmp_path, *overrides):
    """``configs/experiments/<name>.yaml`` with ``quick=true`` and ``overrides``, silently, into ``tmp_path``."""
    module, settings, params = load_experiment_config(
        f"configs/experiments/{name}.yaml", [f"output_dir={tmp_path}", "quick=true", *overrides], experiments())
    return run_experiment(name, module, settings, params, log=lambda *a: None)


def quick_context(module, tmp_path, quick=True, **params):
    """The Context a cell of the experiment ``module`` gets in a quick run (seed 0, no VisualDL, into ``tmp_path``):
    its ``DEFAULTS``, then its ``QUICK`` values when ``quick``, then ``params``; nothing is logged."""
    settings = {"seed": 0, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}
    merged = {**module.DEFAULTS, **(module.QUICK if quick else {}), **params}
    return Context(module.__name__.rsplit(".", 1)[-1], module, settings, merged, log=lambda *a: None)


def capture_models(monkeypatch, module):
    """The list that every model ``module.build_model`` builds from now on is appended to (to inspect a cell's model)."""
    built, build = [], module.build_model
    monkeypatch.setattr(module, "build_model", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    return built


def read_runs(directory):
    """The rows of ``runs.csv`` an experiment wrote into ``directory`` (dicts of strings)."""
    with open(os.path.join(directory, "runs.csv"), newline="") as handle:
        return list(csv.DictReader(handle))


def seed_interval(values):
    """``(mean, half-width)`` of the 95% t-interval over per-seed ``values``, by hand: the check the
    experiments' own ``stats.mean_interval`` is compared with."""
    values = np.asarray(values, dtype="float64")
    return float(values.mean()), t_quantile(len(values)) * values.std(ddof=1) / np.sqrt(len(values))
