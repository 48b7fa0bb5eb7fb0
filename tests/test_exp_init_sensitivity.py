"""init_sensitivity: distinct-unit counting and the constant init checked by hand, its verdicts against its runs."""

import numpy as np
import pytest

import ppnorm
from ppnorm.experiments.init_sensitivity import distinct_units, init_args
from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


def test_distinct_units_matches_numpy_grouping():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 3))
    columns = [0, 1, 0, 2, 1, 0, 2, 2]
    weight = base[:, columns] + rng.normal(scale=1e-6, size=(5, len(columns)))  # 3 units, 8 columns
    assert distinct_units(weight, 1e-3) == 3
    scale = 1e-3 * np.abs(weight).max()
    assert distinct_units(weight, 1e-3) == np.unique(np.round(weight / scale), axis=1).shape[1]
    assert distinct_units(weight, 1e-9) == 8  # the noise itself exceeds this tolerance
    assert distinct_units(np.full((4, 6), 0.05), 1e-3) == 1


def test_init_args_and_constant_init():
    assert init_args("std 0.05", 64) == ("normal", 0.05)
    assert init_args("10x kaiming", 64) == ("normal", pytest.approx(10 * np.sqrt(2 / 64)))
    assert init_args("xavier", 64)[0] == "xavier"
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, init="constant", init_std=0.05)
    for layer in [*(b.linear for b in model.layers), model.fc]:
        np.testing.assert_array_equal(layer.weight.numpy(), np.full(layer.weight.shape, 0.05, dtype="float32"))
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def _interval(values):
    return np.mean(values), t_quantile(len(values)) * np.std(values, ddof=1) / np.sqrt(len(values))


@pytest.mark.slow
def test_init_sensitivity_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("init_sensitivity", tmp_path)
    runs = read_runs(tmp_path)
    inits = ["std 0.01", "kaiming", "10x kaiming"]

    def spread(norm):
        table = [[float(r["final_acc"]) for r in runs if (r["part"], r["init"], r["norm"]) == ("init", i, norm)]
                 for i in inits]
        return np.std(table, axis=0, ddof=1)
    mean, half = _interval(100 * (spread("bn") - spread("none")))
    claim = next(c for c in ctx.claims if "final top-1" in c["claim_en"])
    assert (claim["mean"], claim["high"]) == pytest.approx((mean, mean + half))
    assert claim["raw_verdict"] == ("confirmed" if mean + half < 0 else "refuted" if mean - half >= 0 else "inconclusive")
    ties = [float(r["distinct"]) for r in runs if (r["part"], r["norm"], r["dropout"]) == ("constant", "bn", "0.0")]
    assert ties == [1.0, 1.0]  # BN does not break a constant init's symmetry
    broken = [float(r["distinct"]) for r in runs if (r["part"], r["norm"], r["dropout"]) == ("constant", "none", "0.2")]
    assert min(broken) > 1
    assert (tmp_path / "init_sensitivity.png").stat().st_size > 10_000
