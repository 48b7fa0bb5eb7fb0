"""Intervals and verdicts of the experiments, against values worked out by hand (t table: t_.975(4) = 2.7764,
t_.975(2) = 4.3027) and against scipy's own Welch test."""
import math

import pytest
from scipy import stats as scipy_stats

from ppnorm.experiments.stats import (Estimate, decide, mean_interval, paired_difference, t_quantile,
                                      welch_difference)


def test_t_quantiles_match_the_printed_table():
    assert t_quantile(5) == pytest.approx(2.7764, abs=1e-4)
    assert t_quantile(3) == pytest.approx(4.3027, abs=1e-4)
    assert t_quantile(31) == pytest.approx(2.0423, abs=1e-4)


def test_mean_interval_by_hand():
    # mean 3, sample sd sqrt(2.5), standard error sqrt(2.5 / 5) = 0.70711, half-width 2.7764 * 0.70711
    estimate = mean_interval([1, 2, 3, 4, 5])
    assert estimate.mean == 3 and estimate.n == 5
    assert estimate.half_width == pytest.approx(2.7764 * math.sqrt(0.5), rel=1e-4)
    assert (estimate.low, estimate.high) == pytest.approx((3 - 1.96323, 3 + 1.96323), abs=1e-4)
    assert estimate.format(2, "%") == "3.00 ± 1.96%"


def test_paired_difference_uses_the_per_seed_differences():
    # differences 2, 3, 4: mean 3, sd 1, half-width 4.3027 / sqrt(3) = 2.48417; unpaired it would be far wider
    estimate = paired_difference([3, 5, 7], [1, 2, 3])
    assert estimate.mean == 3 and estimate.half_width == pytest.approx(2.48417, abs=1e-4)
    assert welch_difference([3, 5, 7], [1, 2, 3]).half_width > estimate.half_width
    with pytest.raises(ValueError, match="equal counts"):
        paired_difference([1, 2], [1, 2, 3])


def test_welch_difference_matches_scipy():
    a, b = [1.0, 2.0, 3.0, 2.5], [4.0, 6.0, 8.0, 5.0, 7.5]
    estimate = welch_difference(a, b)
    low, high = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (estimate.low, estimate.high) == pytest.approx((low, high), abs=1e-9)


def test_one_run_has_no_interval_and_decides_nothing():
    estimate = mean_interval([0.7])
    assert estimate.mean == 0.7 and math.isnan(estimate.half_width)
    assert estimate.format() == "0.70 (1 run)"
    assert decide(estimate, "greater") == "inconclusive"


def test_identical_runs_give_a_zero_width_interval():
    estimate = paired_difference([1.0, 2.0, 3.0], [0.5, 1.5, 2.5])
    assert estimate.mean == 0.5 and estimate.half_width == 0
    assert decide(estimate, "greater") == "confirmed"


@pytest.mark.parametrize("mean, half, side, margin, verdict", [
    (2.0, 1.0, "greater", 0.0, "confirmed"),  # [1, 3] above 0
    (2.0, 2.5, "greater", 0.0, "inconclusive"),  # [-0.5, 4.5] straddles 0
    (-2.0, 1.0, "greater", 0.0, "refuted"),  # [-3, -1] below 0
    (1.0, 1.0, "greater", 0.0, "inconclusive"),  # [0, 2]: neither wholly above 0 nor wholly at or below it
    (2.0, 1.0, "greater", 1.5, "inconclusive"),  # [1, 3] straddles the margin 1.5
    (-2.0, 1.0, "less", 0.0, "confirmed"),
    (2.0, 1.0, "less", 0.0, "refuted"),
    (0.1, 0.3, "within", 0.5, "confirmed"),  # [-0.2, 0.4] inside ±0.5
    (0.4, 0.3, "within", 0.5, "inconclusive"),  # [0.1, 0.7] crosses 0.5
    (1.0, 0.3, "within", 0.5, "refuted"),  # [0.7, 1.3] wholly outside
    (-1.0, 0.3, "within", 0.5, "refuted"),
])
def test_decide(mean, half, side, margin, verdict):
    assert decide(Estimate(mean, half, 5), side, margin) == verdict


def test_decide_refuses_nonsense():
    with pytest.raises(ValueError, match="side"):
        decide(Estimate(1.0, 0.1, 5), "bigger")
    with pytest.raises(ValueError, match="margin"):
        decide(Estimate(1.0, 0.1, 5), "within", 0.0)
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, float("nan")])
