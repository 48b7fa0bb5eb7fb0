"""init_sensitivity's science: distinct-unit counting and the inits checked by hand, the cell against the trained
model, censored and diverged runs as outcomes, the claims it declares and the spread it measures itself.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import math

import numpy as np
import pytest

import ppnorm
from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments, init_sensitivity
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.stats import paired_difference
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, read_runs, run_quick


def test_distinct_units_matches_numpy_grouping():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 3))
    columns = [0, 1, 0, 2, 1, 0, 2, 2]
    weight = base[:, columns] + rng.normal(scale=1e-6, size=(5, len(columns)))  # 3 units, 8 columns
    assert init_sensitivity.distinct_units(weight, 1e-3) == 3
    scale = 1e-3 * np.abs(weight).max()
    assert init_sensitivity.distinct_units(weight, 1e-3) == np.unique(np.round(weight / scale), axis=1).shape[1]
    assert init_sensitivity.distinct_units(weight, 1e-9) == 8  # the noise itself exceeds this tolerance
    assert init_sensitivity.distinct_units(np.full((4, 6), 0.05), 1e-3) == 1
    assert math.isnan(init_sensitivity.distinct_units(np.full((4, 6), np.inf), 1e-3))  # diverged: nothing to count


def test_init_args_and_constant_init():
    init_args = init_sensitivity.init_args
    assert init_args("std 0.05", 64) == ("normal", 0.05)
    assert init_args("10x kaiming", 64) == ("normal", pytest.approx(10 * np.sqrt(2 / 64)))
    assert init_args("xavier", 64)[0] == "xavier" and init_args("constant", 64, 0.06) == ("constant", 0.06)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, init="constant", init_std=0.05)
    for layer in [*(b.linear for b in model.layers), model.fc]:
        np.testing.assert_array_equal(layer.weight.numpy(), np.full(layer.weight.shape, 0.05, dtype="float32"))
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def test_the_claims_as_declared_and_pre_registered():
    claims = init_sensitivity._claims(dict(init_sensitivity.DEFAULTS))
    assert list(claims) == ["bn_narrows_accuracy_spread", "bn_reaches_target_from_more_inits", "dropout_breaks_tie_none",
                            "dropout_breaks_tie_bn", "constant_below_kaiming"]
    inits = init_sensitivity.DEFAULTS["inits"]
    reach = claims["bn_reaches_target_from_more_inits"]
    assert (reach.metric, reach.a, reach.b, reach.scale) == ("reached", {"norm": "bn", "init": inits},
                                                             {"norm": "none", "init": inits}, 100)
    tie = claims["dropout_breaks_tie_bn"]
    assert (tie.a, tie.b) == ({"init": "constant", "norm": "bn", "dropout": 0.2},
                              {"init": "constant", "norm": "bn", "dropout": 0.0})
    assert claims["bn_narrows_accuracy_spread"].a is None and claims["constant_below_kaiming"].side == "less"
    _, settings, params = load_experiment_config("configs/experiments/init_sensitivity.yaml", [], experiments())
    resolved = init_sensitivity.EXPERIMENT.resolve(params, settings["claims"])
    assert all(c.expected is not None and c.sesoi for c in resolved.values())
    assert resolved["bn_reaches_target_from_more_inits"].expected == 60.0


def test_the_grid_and_what_it_refuses():
    grid = init_sensitivity.EXPERIMENT.grid(dict(init_sensitivity.DEFAULTS, inits=["kaiming"]))
    assert grid == [{"init": "kaiming", "norm": n, "dropout": 0.0} for n in ("none", "bn")] + [
        {"init": "constant", "norm": n, "dropout": d} for n in ("none", "bn") for d in (0.0, 0.2)]
    for bad in ({"dropout": 0.0}, {"inits": ["constant"]}, {"norms": ["ln"]}):
        with pytest.raises(ConfigError, match="init_sensitivity: params.dropout must be > 0"):
            init_sensitivity.EXPERIMENT.resolve(dict(init_sensitivity.DEFAULTS, **bad))


def _cell(tmp_path, monkeypatch, setting, **params):
    built = capture_models(monkeypatch, init_sensitivity)
    ctx = quick_context(init_sensitivity, tmp_path, quick=False,
                        **{"depth": 2, "width": 16, "epochs": 1, "constant": 0.06, **params})
    ctx.seed_everything(0)
    return init_sensitivity.cell(ctx, setting, 0), built[0]


@pytest.mark.slow
def test_the_cell_is_the_trained_models_accuracy_and_its_tied_units(tmp_path, monkeypatch):
    m, model = _cell(tmp_path, monkeypatch, {"init": "constant", "norm": "bn", "dropout": 0.0})
    model.eval()
    images, labels = digits("test")
    assert m["top1_pct"] == pytest.approx(100 * (model(images).numpy().argmax(axis=1) == labels.numpy()).mean())
    weights = [b.linear.weight.numpy() for b in model.layers]
    assert all(np.ptp(w, axis=1).max() == 0 for w in weights)  # every unit's incoming weights still equal
    assert m["distinct"] == 1.0 and (m["reached"], m["diverged"]) == (0.0, 0.0) and math.isnan(m["steps_to_target"])
    m, _ = _cell(tmp_path, monkeypatch, {"init": "kaiming", "norm": "bn", "dropout": 0.0}, target=0.5, epochs=2)
    half_epoch = len(digits("train")[1]) // 64 // 2  # evaluated twice an epoch
    assert m["reached"] == 1.0 and m["steps_to_target"] % half_epoch == 0 and math.isnan(m["distinct"])


@pytest.mark.slow
def test_a_diverged_run_is_an_outcome(tmp_path, monkeypatch):
    """A non-finite loss is counted, never reached, and its held-out top-1 is what the broken net scores."""
    m, model = _cell(tmp_path, monkeypatch, {"init": "std 1.0", "norm": "none", "dropout": 0.0}, depth=3, width=64,
                     lr=0.5)
    assert (m["diverged"], m["reached"]) == (1.0, 0.0) and math.isnan(m["steps_to_target"])
    assert not np.all(np.isfinite(model.layers[0].linear.weight.numpy())) and m["top1_pct"] < 15


@pytest.mark.slow
def test_the_spread_claim_and_the_counts_follow_from_the_runs(tmp_path):
    ctx = run_quick("init_sensitivity", tmp_path)
    runs = read_runs(tmp_path)
    spread = {norm: np.std([[float(r["top1_pct"]) for r in runs if (r["init"], r["norm"]) == (i, norm)]
                            for i in ctx.params["inits"]], axis=0, ddof=1) for norm in ("none", "bn")}
    expected = paired_difference(spread["bn"], spread["none"])
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("BN makes training insensitive"))
    assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx((expected.mean, expected.low, expected.high))
    assert [c["verdict"] for c in ctx.claims if c["kind"] == "check"] == ["passed", "passed"]
    for row in ctx.tables["init_sensitivity"]["rows"]:
        mine = [r for r in runs if (r["init"], r["norm"], float(r["dropout"])) == (row["init"], row["norm"],
                                                                                  row["dropout"])]
        assert row["reached"] == f"{sum(float(r['reached']) == 1 for r in mine)}/{len(mine)}"
        assert all(math.isnan(float(r["steps_to_target"])) == (float(r["reached"]) == 0) for r in mine)
    assert (tmp_path / "init_sensitivity.png").stat().st_size > 10_000
