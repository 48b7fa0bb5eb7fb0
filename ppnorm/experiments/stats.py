"""Seed-to-seed uncertainty and the verdict protocol: t-intervals, one-sided and equivalence p-values,
the four verdict words, and Holm / Benjamini-Hochberg adjustment.

An experiment repeats each trained setting over several seeds. A claim compares two settings
(``paired_difference`` when runs pair by seed, ``welch_difference`` otherwise) or checks one
quantity (``mean_interval``). :func:`decision` gives the claim's raw verdict and the p-value of that decision;
:func:`adjusted_verdict` re-reads it after Holm / BH adjustment.

The protocol (ALPHA = 0.025 per one-sided test, so the shown 95 % interval decides before adjustment):

- ``confirmed``: the one-sided t-test of the claim against its margin rejects (interval wholly on the claim's side).
- ``refuted``: the one-sided test of the opposite rejects (interval wholly on the other side of the margin).
- ``no effect``: only for a directional claim that declares ``sesoi`` (smallest effect of interest): TOST, both
  one-sided tests against -sesoi and +sesoi reject (the 95 % interval lies inside ±sesoi). A claim without a
  ``sesoi`` is never "no effect". The chance of calling a true effect of size ``sesoi`` "no effect" is at most
  ALPHA (2.5 %) per claim before adjustment.
- ``inconclusive``: none of these.

A ``side="within"`` claim ("the value is within ±margin") is itself an equivalence claim: TOST against ±margin
confirms it; the value lying beyond the margin refutes it.

A constant sample (n >= 2, all values equal: zero spread) has no t-statistic; zero variance is not evidence.
Its p-value is the exact sign test's, 0.5 ** n when every run lies on the tested side and 1 otherwise, so n
identical runs confirm only when 0.5 ** n <= ALPHA (n >= 6, before adjustment).
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
ALPHA = (1 - CONFIDENCE) / 2  # per one-sided test: the 95 % interval's tails
VERDICTS = ("confirmed", "refuted", "no effect", "inconclusive")
CHECK_RESULTS = ("passed", "failed")  # numerical identities (tolerance checks): not statistical verdicts
SIDES = ("greater", "less", "within")


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` runs with the half-width of its ``confidence`` interval (nan when n < 2)."""

    mean: float
    half_width: float
    n: int
    confidence: float = CONFIDENCE
    dof: float = None  # degrees of freedom of the t-interval; None: n - 1

    @property
    def low(self):
        return self.mean - self.half_width

    @property
    def high(self):
        return self.mean + self.half_width

    def scaled(self, factor):
        """The same estimate in other units (e.g. x100 for percent)."""
        return Estimate(self.mean * factor, self.half_width * abs(factor), self.n, self.confidence, self.dof)

    @property
    def degrees_of_freedom(self):
        return self.n - 1 if self.dof is None else self.dof

    def format(self, digits=2, unit=""):
        """``"1.23 ± 0.45"`` (``"1.23 (1 run)"`` without an interval)."""
        if not math.isfinite(self.half_width):
            return f"{self.mean:.{digits}f}{unit} ({self.n} run{'s' if self.n != 1 else ''})"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}{unit}"

    def __str__(self):
        return self.format()


def t_quantile(n, confidence=CONFIDENCE, dof=None):
    """The two-sided Student-t critical value for ``n`` runs (``n - 1`` degrees of freedom unless ``dof``)."""
    return float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1 if dof is None else dof))


def _interval(values, confidence):
    values = np.asarray(values, dtype="float64")
    if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"need a non-empty list of finite numbers, got {values.tolist()}")
    n = len(values)
    if n < 2:
        return Estimate(float(values.mean()), float("nan"), n, confidence)
    if np.all(values == values[0]):  # exactly zero spread (the float mean may not be exactly the value)
        return Estimate(float(values[0]), 0.0, n, confidence)
    half = t_quantile(n, confidence) * values.std(ddof=1) / math.sqrt(n)
    return Estimate(float(values.mean()), float(half), n, confidence)


def mean_interval(values, confidence=CONFIDENCE):
    """Mean of ``values`` (one per seed) with its t-interval."""
    return _interval(values, confidence)


def paired_difference(a, b, confidence=CONFIDENCE):
    """Mean of ``a[i] - b[i]`` (runs paired by seed) with its t-interval."""
    if len(a) != len(b):
        raise ValueError(f"paired runs need equal counts, got {len(a)} and {len(b)}")
    return _interval(np.subtract(a, b, dtype="float64"), confidence)


def welch_difference(a, b, confidence=CONFIDENCE):
    """``mean(a) - mean(b)`` of unpaired runs with Welch's t-interval (unequal variances)."""
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if len(a) < 2 or len(b) < 2:
        return Estimate(float(a.mean() - b.mean()), float("nan"), min(len(a), len(b)), confidence)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0 or (np.all(a == a[0]) and np.all(b == b[0])):  # both constant: the sign rule on min(n) runs
        return Estimate(float(a.mean() - b.mean()), 0.0, min(len(a), len(b)), confidence)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, dof)) * se
    return Estimate(float(a.mean() - b.mean()), half, min(len(a), len(b)), confidence, float(dof))


def one_sided_p(estimate, side, margin=0.0):
    """p-value of the one-sided test that the true value is above (``side="greater"``) or below (``"less"``)
    ``margin``: small when the interval lies on that side. nan without an interval (fewer than 2 runs); the
    sign rule for a constant sample (see the module docstring)."""
    if side not in ("greater", "less"):
        raise ValueError(f"side must be 'greater' or 'less', got {side!r}")
    if estimate.n < 2 or not (math.isfinite(estimate.half_width) and math.isfinite(estimate.mean)):
        return float("nan")
    beyond = estimate.mean - margin if side == "greater" else margin - estimate.mean
    if estimate.half_width == 0:
        return 0.5 ** estimate.n if beyond > 0 else 1.0
    dof = estimate.degrees_of_freedom
    se = estimate.half_width / t_quantile(estimate.n, estimate.confidence, dof)
    return float(_scipy_stats.t.sf(beyond / se, dof))


def tost_p(estimate, sesoi):
    """Equivalence p-value (two one-sided tests): the larger of the p-values that the value is above ``-sesoi``
    and below ``+sesoi``; at most ALPHA exactly when the (1 - 2 ALPHA) interval lies inside ±``sesoi``."""
    if not sesoi > 0:
        raise ValueError(f"an equivalence test needs a smallest effect of interest > 0, got {sesoi!r}")
    return max(one_sided_p(estimate, "greater", -sesoi), one_sided_p(estimate, "less", sesoi))


def _candidates(estimate, side, margin, sesoi):
    """``[(verdict, p)]`` in priority order: each decisive verdict with the p-value of the test that gives it."""
    if side == "within":
        if not margin > 0:
            raise ValueError("side='within' needs a margin > 0")
        if sesoi:
            raise ValueError("a 'within' claim's margin is its smallest effect of interest: give no sesoi")
        outside = min(one_sided_p(estimate, "greater", margin), one_sided_p(estimate, "less", -margin))
        return [("confirmed", tost_p(estimate, margin)), ("refuted", outside)]
    if side not in ("greater", "less"):
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    opposite = "less" if side == "greater" else "greater"
    found = [("confirmed", one_sided_p(estimate, side, margin)), ("refuted", one_sided_p(estimate, opposite, margin))]
    return found + ([("no effect", tost_p(estimate, sesoi))] if sesoi else [])


def decision(estimate, side, margin=0.0, sesoi=None, alpha=ALPHA):
    """``(verdict, p)``: the claim's verdict before any multiplicity adjustment and the p-value of that decision.

    The verdict is the first of confirmed / refuted / no effect whose test has p <= ``alpha``; otherwise
    inconclusive, with the smallest of the tests' p-values (the decision the data lean to). p is nan when
    there is no interval (fewer than 2 runs).
    """
    found = [(verdict, p) for verdict, p in _candidates(estimate, side, margin, sesoi) if not math.isnan(p)]
    for verdict, p in found:
        if p <= alpha:
            return verdict, p
    return "inconclusive", min((p for _, p in found), default=float("nan"))


def decide(estimate, side, margin=0.0, sesoi=None):
    """The raw verdict of a claim about ``estimate``'s true value (see :func:`decision`)."""
    return decision(estimate, side, margin, sesoi)[0]


def adjusted_verdict(raw_verdict, adjusted_p, alpha=ALPHA):
    """A decisive verdict stands only while its adjusted p is <= ``alpha``; else it is inconclusive."""
    if raw_verdict in ("confirmed", "refuted", "no effect") and not adjusted_p <= alpha:
        return "inconclusive"
    return raw_verdict


def _valid(pvalues):
    p = np.asarray(pvalues, dtype="float64")
    if p.ndim != 1 or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    return p, np.flatnonzero(~np.isnan(p))


def holm(pvalues):
    """Holm's step-down adjusted p-values (family-wise error); nan entries (no test) stay nan and do not count."""
    p, index = _valid(pvalues)
    out = np.full(len(p), np.nan)
    order = index[np.argsort(p[index], kind="stable")]
    m = len(order)
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def benjamini_hochberg(pvalues):
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate); nan entries stay nan and do not count."""
    p, index = _valid(pvalues)
    out = np.full(len(p), np.nan)
    order = index[np.argsort(p[index], kind="stable")]
    m = len(order)
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out
