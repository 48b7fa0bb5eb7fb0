"""init_stats' science: the cell's activation statistics against a numpy forward pass of the same weights, BN's
standardization, the claims it declares and the one it measures itself.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import math

import numpy as np
import pytest

from ppnorm.experiments import experiments, init_stats
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.stats import mean_interval

from experiment_runs import capture_models, quick_context, read_runs, run_quick

SMALL = dict(init_stats.DEFAULTS, layers=3, width=16, samples=64)
ACTS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


def _numpy_forward(model, x, act, norm):
    """Each hidden layer's output by numpy from the model's weights (BN in train mode: the batch's statistics)."""
    outputs = []
    for layer in model.layers:
        bias = 0.0 if layer.linear.bias is None else layer.linear.bias.numpy()
        z = x @ layer.linear.weight.numpy().astype("float64") + bias
        if norm == "bn":
            z = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + 1e-5)
        x = ACTS[act](z)
        outputs.append(x)
    return outputs


@pytest.mark.parametrize("case,norm", [("tanh normal 1.0", "none"), ("tanh xavier", "bn"), ("relu kaiming", "none")])
def test_the_cell_measures_each_layers_std_and_saturation_like_numpy(tmp_path, monkeypatch, case, norm):
    built = capture_models(monkeypatch, init_stats)
    ctx = quick_context(init_stats, tmp_path, quick=False, **SMALL)
    ctx.seed_everything(3)
    m = init_stats.cell(ctx, {"case": case, "norm": norm}, 3)
    x = np.random.default_rng(3).standard_normal((64, 16)).astype("float32").astype("float64")
    outputs = _numpy_forward(built[0], x, case.split()[0], norm)
    np.testing.assert_allclose(m["std_curve"], [o.std() for o in outputs], rtol=1e-4)
    np.testing.assert_allclose(m["saturated_curve"], [100 * np.mean(np.abs(o) > 0.9) for o in outputs], atol=0.5)
    assert (m["first_std"], m["last_std"]) == (m["std_curve"][0], m["std_curve"][-1])
    assert m["log2_ratio"] == pytest.approx(math.log2(outputs[-1].std() / outputs[0].std()), abs=1e-3)
    assert m["log2_std_curve"] == pytest.approx(np.log2(m["std_curve"]).tolist())


def test_bn_standardizes_every_layer_whatever_the_init():
    for case in ("tanh normal 0.01", "tanh normal 1.0", "relu xavier"):
        assert init_stats.bn_standardizes(SMALL, case, 0) < 1e-4


def test_the_claims_are_declared_per_case_without_bn_and_match_the_yaml():
    claims = init_stats._claims(init_stats.DEFAULTS)
    assert list(claims) == ["tanh_std_0p01_collapses", "xavier_keeps_tanh_scale", "relu_xavier_shrinks",
                            "kaiming_keeps_relu_scale", "tanh_std_0p05_saturates", "tanh_std_1_saturates",
                            "bn_keeps_every_scale"]
    collapse, saturates = claims["tanh_std_0p01_collapses"], claims["tanh_std_1_saturates"]
    assert (collapse.metric, collapse.a, collapse.side, collapse.margin) == (
        "log2_ratio", {"case": "tanh normal 0.01", "norm": "none"}, "less", -10)
    assert (saturates.metric, saturates.a, saturates.side, saturates.margin) == (
        "last_saturated_pct", {"case": "tanh normal 1.0", "norm": "none"}, "greater", 50)
    assert claims["kaiming_keeps_relu_scale"].side == "within" and claims["bn_keeps_every_scale"].a is None
    only_relu = init_stats._claims(dict(init_stats.DEFAULTS, cases=[["relu", "kaiming", 0.0]]))
    assert list(only_relu) == ["kaiming_keeps_relu_scale", "bn_keeps_every_scale"]
    _, settings, params = load_experiment_config("configs/experiments/init_stats.yaml", [], experiments())
    resolved = init_stats.EXPERIMENT.resolve(params, settings["claims"])
    assert resolved["tanh_std_0p01_collapses"].expected == -19.5 and resolved["relu_xavier_shrinks"].margin == -1
    assert all(claim.expected is not None for claim in resolved.values())


@pytest.mark.slow
def test_bn_claim_is_the_largest_ratio_over_the_cases_per_seed(tmp_path):
    ctx = run_quick("init_stats", tmp_path)
    runs = read_runs(tmp_path)
    ratios = {}
    for r in runs:
        if r["norm"] == "bn":
            ratios.setdefault(r["case"], []).append(float(r["log2_ratio"]))
    expected = mean_interval(np.max(np.abs(list(ratios.values())), axis=0))
    bn = next(c for c in ctx.claims if c["claim_en"].startswith("With BN inserted"))
    assert (bn["mean"], bn["low"], bn["high"]) == pytest.approx((expected.mean, expected.low, expected.high))
    assert [c["verdict"] for c in ctx.claims if c["kind"] == "check"] == ["passed"]
    row = {(r["case"], r["norm"]): r for r in ctx.tables["activations"]["rows"]}[("tanh normal 0.01", "none")]
    last = [float(r["last_std"]) for r in runs if (r["case"], r["norm"]) == ("tanh normal 0.01", "none")]
    assert row["last layer std"].startswith(f"{np.mean(last):.3g} ± ")
    assert {row["saturated % (last layer)"] for row in ctx.tables["activations"]["rows"]
            if row["case"].startswith("relu")} == {"-"}
    assert (tmp_path / "init_stats_log2_std_none.png").is_file() and (tmp_path / "init_stats_saturated_bn.png").is_file()


@pytest.mark.slow
def test_init_stats_in_chinese(tmp_path):
    run_quick("init_stats", tmp_path, "lang=zh", "params.cases=[[\"relu\", \"kaiming\", 0.0]]", "claims={}")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 情形 | 归一化 | 第一层 std |" in report and "插入 BN 后" in report and "| 通过 |" in report
    assert not (tmp_path / "init_stats_saturated_none.png").exists()  # no tanh case: no saturation chart
