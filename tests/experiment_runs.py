"""Shared by the tests/test_exp_*.py files: run an experiment in its quick setting, read the runs it wrote."""
import csv

from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.runner import run_experiment


def run_quick(name, tmp_path, *overrides):
    """``configs/experiments/<name>.yaml`` with ``quick=true`` and ``overrides``, silently, into ``tmp_path``."""
    module, settings, params = load_experiment_config(
        f"configs/experiments/{name}.yaml", [f"output_dir={tmp_path}", "quick=true", *overrides], experiments())
    return run_experiment(name, module, settings, params, log=lambda *a: None)
