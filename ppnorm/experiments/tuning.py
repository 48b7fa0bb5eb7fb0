"""Tuning: a hyperparameter chosen on a validation split carved from the training data, on seeds no verdict uses.

A config pre-registers what is tuned, one entry per param of the experiment's ``DEFAULTS``::

    tuning:
      gn_lr: {values: [0.005, 0.01, 0.02, 0.05], metric: error_pct, where: {norm: gn}, goal: min,
              params: {norms: [gn], batch_sizes: [32]}}

``tools/experiment.py -c CONFIG --tune [N]`` runs every value on the same N seeds (default 5: a pilot-kind block from
``PILOT_BASE`` on, recorded in ``seed_blocks.json``, so no confirmatory run may use them). Each run holds out
``VALIDATION`` of every class of the training split as the split it scores (``data.validation``: the test images
are never loaded) and goes to ``<output_dir>/tune_<start>/<param>=<value>/``. ``tune.csv`` (there and in
``output_dir``) gives per value the metric's mean and 95 % interval over the runs that match ``where`` (averaged per
seed) and marks the best by ``goal``; ``params`` narrows the grid while tuning. The chosen value is copied into the
config's ``params`` by hand before the confirmatory run, whose report shows ``tune.csv``.
"""
import os

import numpy as np

from .data import DEFAULT
from .runner import run_experiment, write_csv
from .seedblocks import PILOT, next_pilot_block, record
from .stats import mean_interval
from .tune_report import COLUMNS, TUNE_FILE, row_interval

VALIDATION = 0.2


def _matches(run, where):
    return all(str(run.get(key)) == str(value) for key, value in where.items())


def score(runs, metric, where):
    """The metric per seed (mean over the runs that match ``where``), as a list ordered by seed."""
    per_seed = {}
    for run in runs:
        value = run.get(metric)
        if _matches(run, where) and value is not None and np.isfinite(float(value)):
            per_seed.setdefault(run["seed"], []).append(float(value))
    return [float(np.mean(per_seed[seed])) for seed in sorted(per_seed)]


def chosen_index(means, goal):
    """The index of the best mean (``goal`` min or max); the first of equal ones; None when none is finite."""
    finite = [(m if goal == "min" else -m, i) for i, m in enumerate(means) if np.isfinite(m)]
    return min(finite)[1] if finite else None


def _tune_one(name, module, settings, params, param, spec, block, home, log):
    """Every value of ``param`` on ``block``; returns tune.csv's rows."""
    rows = []
    for value in spec["values"]:
        folder = os.path.join(home, f"tune_{block.start}", f"{param}={value}")
        data = dict(settings.get("data") or DEFAULT, validation=VALIDATION)
        ctx = run_experiment(name, module, dict(settings, seed=block.start, output_dir=folder, data=data, claims={}),
                             dict(params, **spec.get("params", {}), **{param: value}, seeds=block.count),
                             log=log, purpose=PILOT)
        values = score(ctx.runs, spec["metric"], spec.get("where", {}))
        found = mean_interval(values) if values else None
        shown_where = " ".join(f"{k}={v}" for k, v in spec.get("where", {}).items())
        rows.append({"param": param, "value": value, "metric": spec["metric"], "where": shown_where,
                     "mean": found.mean if found else float("nan"), "low": found.low if found else "",
                     "high": found.high if found else "", "n": len(values), "seeds": f"{block.start}..{block.end - 1}"})
    best = chosen_index([row["mean"] for row in rows], spec.get("goal", "min"))
    for index, row in enumerate(rows):
        row["chosen"] = index == best
    return rows


def run_tuning(name, module, settings, params, count=5, log=print):
    """Tune every param of the config's ``tuning`` section; writes tune.csv and returns its rows."""
    tuning = settings.get("tuning") or {}
    if not tuning:
        raise ValueError("--tune: the config declares no 'tuning' section (docs/experiment_framework.md, Tuning)")
    if getattr(module, "DATA", None) is not True:
        raise ValueError(f"--tune: {name} does not take its data through ctx.data, so it cannot be scored on a "
                         f"validation split")
    if count < 2:
        raise ValueError(f"--tune needs at least 2 seeds for an interval, got {count}")
    home = settings["output_dir"]
    block = next_pilot_block(home, count, "tuning")
    log(f"[{name}] tuning on seeds {block.start}..{block.end - 1}, scored on a validation split of {VALIDATION:.0%} "
        f"of each class of the training data; these seeds never decide a verdict")
    rows = []
    for param, spec in tuning.items():
        rows += _tune_one(name, module, settings, params, param, spec, block, home, log)
    record(home, block, f"{PILOT}: tuning in tune_{block.start}")
    for directory in (os.path.join(home, f"tune_{block.start}"), home):
        write_csv(os.path.join(directory, TUNE_FILE), rows, COLUMNS)
    for row in rows:
        mark = "  <- chosen" if row["chosen"] else ""
        log(f"[{name}] {row['param']}={row['value']}: {row['metric']} {row_interval(row)} (n={row['n']}){mark}")
    log(f"[{name}] tune.csv in {home}; set the chosen values in the config's params before the confirmatory run")
    return rows
