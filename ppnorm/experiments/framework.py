"""The experiment framework: an experiment is a declaration; :class:`Experiment` runs it.

A module declares ``EXPERIMENT = Experiment(grid=..., cell=..., metrics=..., claims=..., table=..., charts=...)``
and ``run = EXPERIMENT.run``. The framework owns the rest: the seed block (``seed``, ``seed + 1``, ... from the
config's ``seed``: each cell is seeded with exactly the seed ``runs.csv`` records), the plan and progress lines,
``runs.csv`` (one row per setting and seed: the setting, ``seed`` and the cell's scalar metrics), the table of
means ± 95 % intervals, the charts, and each claim's estimate (paired by seed) and verdict. A cell's list metrics
(curves) go to VisualDL and the charts, not to runs.csv.
"""
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .cell_store import open_store
from .charts import draw
from .claims import matches, per_seed, resolve_claims
from .claims import estimate as claim_estimate
from .context import holm_over
from .seedblocks import SeedBlock
from .stats import adjusted_verdict, mean_interval


@dataclass(frozen=True)
class Stat:
    """A table column: ``metric``'s mean ± 95 % interval over the seeds of a setting."""

    header: str
    metric: str
    digits: int = 2


@dataclass(frozen=True)
class Table:
    """The result table: one row per setting (and per ``index`` of its list metrics, e.g. ``"epoch"``).
    ``columns``: setting keys, the index name, extra columns and :class:`Stat` s; ``title``: ``(en, zh)``
    templates of the params; ``extra(setting, params)``: more columns of a setting."""

    name: str
    title: tuple
    columns: tuple
    index: str = None
    extra: Callable = None


@dataclass
class Results:
    """What the hooks see: the runs, the resolved claims, the table rows, the claims' estimates, ``store`` for the
    module's own values, and (for ``summary``) ``verdicts``: each claim's verdict as claims.csv states it."""

    params: dict
    claims: dict
    runs: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    estimates: dict = field(default_factory=dict)
    store: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)

    def values(self, metric, selector=None):
        """``[value per seed]`` of ``metric`` over the settings ``selector`` picks, in seed order."""
        found = per_seed(self.runs, metric, selector or {})
        return [found[seed] for seed in sorted(found)]


def _label(setting):
    return " ".join(f"{k}={v}" for k, v in setting.items())


def _stat(values, digits):
    kept = [v for v in values if math.isfinite(v)]
    est = mean_interval(kept) if kept else None
    return (est.format(digits), est.mean, est.half_width) if est else ("", math.nan, math.nan)


def final_verdicts(recorded, rows):
    """``{id: verdict}`` of the claims' ``rows`` (``{id: claims row}``) after Holm over every statistical claim
    ``recorded`` (what :meth:`Context.finish_claims` applies after ``run``): a summary can say what the verdicts say."""
    adjusted = {id(row): p for row, p in holm_over(recorded)}
    return {cid: adjusted_verdict(row["raw_verdict"], adjusted[id(row)]) for cid, row in rows.items()}


def aggregate(table, grid, runs, params):
    """The table's rows: per setting (and per index of its list metrics), each :class:`Stat`'s mean ± 95 % interval
    over the seeds (``<header>``, ``<header> mean``, ``<header> half-width``); non-finite values left out."""
    stats, rows = [c for c in table.columns if isinstance(c, Stat)], []
    for setting in grid:
        mine = [run for run in runs if matches(run, setting)]
        length = min(len(run[stat.metric]) for run in mine for stat in stats) if table.index else None
        for i in range(length) if table.index else [None]:
            row = dict(setting, **({table.index: i + 1} if table.index else {}))
            row.update(table.extra(setting, params) if table.extra else {})
            for stat in stats:
                values = [run[stat.metric] if i is None else run[stat.metric][i] for run in mine]
                row[stat.header], row[f"{stat.header} mean"], row[f"{stat.header} half-width"] = \
                    _stat(values, stat.digits)
            rows.append(row)
    return rows


@dataclass(frozen=True)
class Experiment:
    """``grid(params) -> [setting]``; ``cell(ctx, setting, seed) -> {metric: number or list}`` for ``metrics``;
    ``claims(params) -> {id: Claim}``; ``before`` / ``after(ctx, results)``: the module's measurements that are not
    cells (checks, tables, claims it estimates itself into ``results.estimates``); ``summary(ctx, results)``:
    the verdict sentence; ``validate(params)`` raises ConfigError; ``extra_runs(params)``: trainings in hooks."""

    grid: Callable
    cell: Callable
    metrics: tuple
    claims: Callable = lambda params: {}
    table: Table = None
    charts: tuple = ()
    before: Callable = None
    after: Callable = None
    summary: Callable = None
    validate: Callable = None
    extra_runs: Callable = lambda params: 0

    def resolve(self, params, overrides=None, source="config"):
        """The claims of ``params`` with the config's overrides, checked (ConfigError on a bad one)."""
        if self.validate:
            self.validate(params)
        return resolve_claims(self.claims(params), overrides, self.grid(params), self.metrics, source)

    def block(self, ctx):
        return SeedBlock(ctx.seed, ctx.params.get("seeds", 1))

    def run_cell(self, ctx, setting, seed, store=None):
        """Seed everything with ``seed``, run the cell, record one run (progress line, runs.csv row, curves).
        A cell ``store`` (:mod:`.cell_store`) holds from a stopped run is reused instead; a new one is added to it."""
        metrics = store.get(setting, seed) if store is not None else None
        if metrics is None:
            ctx.seed_everything(seed)
            metrics = self.cell(ctx, setting, seed)
            if set(metrics) != set(self.metrics):
                raise RuntimeError(f"the cell returned {sorted(metrics)}, declared metrics {sorted(self.metrics)}")
            if store is not None:
                store.put(setting, seed, metrics)
        scalars = {k: v for k, v in metrics.items() if not isinstance(v, (list, tuple, np.ndarray))}
        for name, curve in metrics.items():
            if name not in scalars:
                ctx.curve(f"{_label(setting) or 'run'}/seed_{seed}/{name}", range(1, len(curve) + 1), curve)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in scalars.items())
        ctx.run_done(f"{_label(setting)} seed={seed}".strip(), shown, **setting, seed=seed, **scalars)
        return {**setting, "seed": seed, **metrics}

    def run(self, ctx):
        """The whole experiment; returns its verdict sentence."""
        params = ctx.params
        results = Results(params, self.resolve(params, ctx.claim_overrides, "config"))
        if self.before:
            self.before(ctx, results)
        grid, block = self.grid(params), self.block(ctx)
        ctx.plan(len(grid) * block.count + self.extra_runs(params))
        cells = [(setting, seed) for setting in grid for seed in block.seeds]
        store = open_store(ctx, cells)  # the cells a stopped run with the same fingerprint finished
        results.runs = [self.run_cell(ctx, setting, seed, store) for setting, seed in cells]
        if self.table:
            results.rows = aggregate(self.table, grid, results.runs, params)
            columns = [c.header if isinstance(c, Stat) else c for c in self.table.columns]
            ctx.table(self.table.name, results.rows, columns, ctx.tr(*self.table.title).format_map(dict(params, data=ctx.data_info.name)))
        for chart in self.charts:
            draw(ctx, chart, results.runs)
        if self.after:
            self.after(ctx, results)
        self.decide(ctx, results)
        return self.summary(ctx, results) if self.summary else ""

    def decide(self, ctx, results):
        """Each claim's estimate (from the runs, or the module's) and verdict, in declaration order; the verdicts
        after Holm go to ``results.verdicts``."""
        rows = {}
        for cid, claim in results.claims.items():
            failed = 0
            if claim.a is not None:
                results.estimates[cid], failed = claim_estimate(claim, results.runs)
            elif cid not in results.estimates:
                raise RuntimeError(f"claim {cid!r} is measured by the experiment, which did not measure it")
            text = (claim.text(claim.en, results.params), claim.text(claim.zh, results.params))
            ctx.claim_ids[text[0]] = cid
            ctx.compare(text, results.estimates[cid], claim.side, claim.margin, claim.unit, claim.digits,
                        claim.text(claim.evidence, results.params), sesoi=claim.sesoi, failed=failed)
            rows[cid] = ctx.claims[-1]
        results.verdicts = final_verdicts(ctx.claims, rows)
