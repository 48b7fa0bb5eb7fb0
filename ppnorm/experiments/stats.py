"""Seed-to-seed uncertainty: t-intervals of means and differences, and verdicts computed from them.

An experiment repeats each trained setting over several seeds. A claim compares two settings
(``paired_difference`` when runs pair by seed, ``welch_difference`` otherwise) or checks one
quantity (``mean_interval``); :func:`decide` turns the interval of that number into
``confirmed`` / ``refuted`` / ``inconclusive``.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
VERDICTS = ("confirmed", "refuted", "inconclusive")


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` runs with the half-width of its ``confidence`` interval (nan when n < 2)."""

    mean: float
    half_width: float
    n: int
    confidence: float = CONFIDENCE

    @property
    def low(self):
        return self.mean - self.half_width

    @property
    def high(self):
        return self.mean + self.half_width

    def scaled(self, factor):
        """The same estimate in other units (e.g. x100 for percent)."""
        return Estimate(self.mean * factor, self.half_width * abs(factor), self.n, self.confidence)

    def format(self, digits=2, unit=""):
        """``"1.23 ± 0.45"`` (``"1.23 (1 run)"`` without an interval)."""
        if not math.isfinite(self.half_width):
            return f"{self.mean:.{digits}f}{unit} ({self.n} run{'s' if self.n != 1 else ''})"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}{unit}"

    def __str__(self):
        return self.format()


def t_quantile(n, confidence=CONFIDENCE):
    """The two-sided Student-t critical value for ``n`` runs (``n - 1`` degrees of freedom)."""
    return float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))


def _interval(values, confidence):
    values = np.asarray(values, dtype="float64")
    if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"need a non-empty list of finite numbers, got {values.tolist()}")
    n = len(values)
    if n < 2:
        return Estimate(float(values.mean()), float("nan"), n, confidence)
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
    if se == 0:
        return Estimate(float(a.mean() - b.mean()), 0.0, min(len(a), len(b)), confidence)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, dof)) * se
    return Estimate(float(a.mean() - b.mean()), half, min(len(a), len(b)), confidence)


def decide(estimate, side, margin=0.0):
    """The verdict of a claim about ``estimate``'s true value.

    ``side="greater"``: the claim is "the value is above ``margin``": confirmed when the whole interval
    is above it, refuted when the whole interval is at or below it. ``side="less"`` mirrors that.
    ``side="within"``: the claim is "the value is within ±``margin``" (no real effect): confirmed when the
    whole interval lies inside, refuted when it lies wholly outside. Anything else is inconclusive,
    and so is an estimate without an interval (one run decides nothing).
    """
    if not math.isfinite(estimate.half_width):
        return "inconclusive"
    low, high = estimate.low, estimate.high
    if side == "greater":
        return "confirmed" if low > margin else ("refuted" if high <= margin else "inconclusive")
    if side == "less":
        return "confirmed" if high < margin else ("refuted" if low >= margin else "inconclusive")
    if side == "within":
        if margin <= 0:
            raise ValueError("side='within' needs a margin > 0")
        if -margin < low and high < margin:
            return "confirmed"
        return "refuted" if low >= margin or high <= -margin else "inconclusive"
    raise ValueError(f"side must be 'greater', 'less' or 'within', got {side!r}")
