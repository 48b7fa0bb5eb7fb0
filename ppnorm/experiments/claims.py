"""Claims declared as data, and their estimates from the runs (pairing by seed).

A :class:`Claim` names a metric of the cell, the setting(s) it is measured on (``a``), optionally the setting(s) it
is compared with (``b``: the difference ``a - b``, paired by seed unless ``paired: false``), the side, the margin
and the smallest effect of interest. A selector is ``{key: value}`` over the grid's settings; a list value takes
the per-seed mean over the settings it names. ``a: null`` marks a claim the module measures itself (not over seeds).

The experiment's YAML may override ``metric``, ``a``, ``b``, ``side``, ``margin``, ``sesoi`` and ``paired`` of any
declared claim, by its id (``claims: {<id>: {...}}``): the claim is then fixed in the config before the runs.
"""
import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..engine.config import ConfigError
from .stats import SIDES, Estimate, mean_interval, paired_difference, welch_difference

YAML_FIELDS = ("metric", "a", "b", "side", "margin", "sesoi", "paired", "expected")


@dataclass(frozen=True)
class Claim:
    """One claim; ``en`` / ``zh`` and ``evidence`` may use ``{field}`` of the claim and ``{param}`` of the params."""

    en: str
    zh: str
    metric: str
    a: dict = None
    b: dict = None
    side: str = "greater"
    margin: float = 0.0
    sesoi: float = None
    paired: bool = True
    center: float = 0.0  # a single quantity is tested as value - center
    unit: str = ""
    digits: int = 2
    evidence: str = ""
    scale: float = 1.0  # the estimate in other units, e.g. 100: a fraction claimed in points (margin, sesoi in those)
    expected: float = None  # the effect the notes describe (claim units): what the pilot sizes the seed count for

    def text(self, template, params):
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return template.format_map({**params, **fields})


def _check_selector(where, selector, grid):
    if not isinstance(selector, dict):
        raise ConfigError(f"{where} must be a mapping {{setting: value}}, got {selector!r}")
    for key, value in selector.items():
        present = [setting[key] for setting in grid if key in setting]
        if not present:
            raise ConfigError(f"{where}: '{key}' is not a setting of the grid (settings: {sorted(grid[0]) if grid else []})")
        for item in value if isinstance(value, list) else [value]:
            if item not in present:
                raise ConfigError(f"{where}: {key}={item!r} is not in the grid (values: {sorted(set(present))})")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(where, claim, grid, metrics):
    if claim.side not in SIDES:
        raise ConfigError(f"{where}.side must be one of {SIDES}, got {claim.side!r}")
    if not _number(claim.margin):
        raise ConfigError(f"{where}.margin must be a number, got {claim.margin!r}")
    if claim.sesoi is not None and not (_number(claim.sesoi) and claim.sesoi > 0):
        raise ConfigError(f"{where}.sesoi must be a number > 0 (or null), got {claim.sesoi!r}")
    if claim.expected is not None and not _number(claim.expected):
        raise ConfigError(f"{where}.expected must be a number (or null), got {claim.expected!r}")
    if not isinstance(claim.paired, bool):
        raise ConfigError(f"{where}.paired must be true or false, got {claim.paired!r}")
    if claim.side == "within" and (claim.sesoi or not claim.margin > 0):
        raise ConfigError(f"{where}: a 'within' claim needs margin > 0 and no sesoi (its margin is its sesoi)")
    if claim.a is None:
        return
    if claim.metric not in metrics:
        raise ConfigError(f"{where}.metric must be one of the cell's metrics {list(metrics)}, got {claim.metric!r}")
    _check_selector(f"{where}.a", claim.a, grid)
    if claim.b is not None:
        _check_selector(f"{where}.b", claim.b, grid)


def resolve_claims(declared, overrides, grid, metrics, source="config"):
    """``{id: Claim}``: the module's ``declared`` claims with the config's ``overrides`` applied, all checked."""
    overrides = overrides or {}
    unknown = [cid for cid in overrides if cid not in declared]
    if unknown:
        raise ConfigError(f"{source}: claims.{unknown[0]} is not a claim these params declare (claims: "
                          f"{', '.join(declared) or 'none'}); a pre-registered claim the grid cannot test is an error "
                          f"(for an exploratory run with other params: -o 'claims={{}}')")
    resolved = {}
    for cid, claim in declared.items():
        change = overrides.get(cid) or {}
        if not isinstance(change, dict) or any(field not in YAML_FIELDS for field in change):
            raise ConfigError(f"{source}: claims.{cid} takes the fields {', '.join(YAML_FIELDS)}, got {change!r}")
        if claim.a is None and {"metric", "a", "b", "paired"} & set(change):
            raise ConfigError(f"{source}: claims.{cid} is measured by the experiment itself: only side, margin, "
                              f"sesoi and expected can be set")
        claim = dataclasses.replace(claim, **change)
        _check(f"{source}: claims.{cid}", claim, grid, metrics)
        resolved[cid] = claim
    return resolved


def matches(run, selector):
    """Whether a run's setting satisfies ``selector`` (a list value: any of its items)."""
    return all(run.get(k) in v if isinstance(v, list) else run.get(k) == v for k, v in selector.items())


def per_seed(runs, metric, selector):
    """``{seed: value}``: ``metric`` of the runs matching ``selector``; several settings per seed are averaged
    (in the order they ran)."""
    values = defaultdict(list)
    for run in runs:
        if matches(run, selector):
            values[run["seed"]].append(run[metric])
    return {seed: float(np.mean(found)) if len(found) > 1 else found[0] for seed, found in values.items()}


def _finite(values):
    return [v for v in values if math.isfinite(v)]


def estimate(claim, runs):
    """``(Estimate, failed)`` of a claim from the runs: paired by seed (whatever order the runs came in), Welch when
    unpaired, a mean for a single quantity, times ``claim.scale``. Non-finite values (diverged runs) are left out and
    counted as failed."""
    found, failed = _estimate(claim, runs)
    return (found if claim.scale == 1 else found.scaled(claim.scale)), failed


def _estimate(claim, runs):
    a = per_seed(runs, claim.metric, claim.a)
    if claim.b is None:
        values = [a[seed] for seed in sorted(a)]
        kept = _finite(values)
        found = mean_interval(np.subtract(kept, claim.center)) if kept else Estimate(math.nan, math.nan, 0)
        return found, len(values) - len(kept)
    b = per_seed(runs, claim.metric, claim.b)
    if not claim.paired:
        kept_a, kept_b = _finite(a.values()), _finite(b.values())
        failed = len(a) + len(b) - len(kept_a) - len(kept_b)
        return welch_difference(kept_a, kept_b), failed
    seeds = sorted(set(a) & set(b))
    pairs = [(a[s], b[s]) for s in seeds if math.isfinite(a[s]) and math.isfinite(b[s])]
    if not pairs:
        return Estimate(math.nan, math.nan, 0), len(seeds)
    return paired_difference(*zip(*pairs)), len(seeds) - len(pairs)
