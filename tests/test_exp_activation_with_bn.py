"""activation_with_bn's science: the cell's accuracy and pre-activation percentiles against a numpy forward pass,
steps to the target, the claims it declares. (Seeding, runs, aggregation and verdicts: test_experiment_framework.py.)"""
import math

import numpy as np
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import activation_with_bn
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, read_runs, run_quick


def _numpy_mlp(model, x):
    """The trained MLP in eval mode by numpy: returns (logits, the last hidden layer's input to its activation)."""
    for block in model.layers:
        bias = block.linear.bias  # none before a BN (its shift is BN's)
        pre = x @ block.linear.weight.numpy() + (0.0 if bias is None else bias.numpy())
        bn = block.norm
        pre = (pre - bn._mean.numpy()) / np.sqrt(bn._variance.numpy() + bn._epsilon) * bn.weight.numpy() + bn.bias.numpy()
        x = 1 / (1 + np.exp(-pre))  # sigmoid
    return x @ model.fc.weight.numpy() + model.fc.bias.numpy(), pre


def _cell(tmp_path, monkeypatch, **params):
    built = capture_models(monkeypatch, activation_with_bn)
    ctx = quick_context(activation_with_bn, tmp_path, quick=False, **{"hidden": [16, 16], "epochs": 1, **params})
    ctx.seed_everything(0)
    return activation_with_bn.cell(ctx, {"activation": "sigmoid", "norm": "bn"}, 0), built[0]


@pytest.mark.slow
def test_the_cell_against_a_numpy_forward_pass(tmp_path, monkeypatch):
    metrics, model = _cell(tmp_path, monkeypatch, target=0.5, eval_every=11)  # 44 steps: the last one evaluated
    images, labels = digits("test")
    logits, pre = _numpy_mlp(model, images.numpy().reshape(len(labels), -1).astype("float64"))
    assert metrics["top1_pct"] == pytest.approx(100 * (logits.argmax(axis=1) == labels.numpy()).mean(), abs=1e-9)
    ends = [metrics[name][-1] for name in activation_with_bn.PERCENTILES]  # the probe: the first 200 test images
    np.testing.assert_allclose(ends, np.percentile(pre[:200], [15, 50, 85]), atol=1e-4)
    first = next(i for i, top1 in enumerate(metrics["top1_curve"]) if top1 >= 50)
    assert len(metrics["top1_curve"]) == 4 and metrics["reached"] and metrics["steps_to_target"] == 11 * (first + 1)


@pytest.mark.slow
def test_an_unreached_target_is_censored_not_the_step_budget(tmp_path, monkeypatch):
    metrics, _ = _cell(tmp_path, monkeypatch, target=1.01)
    assert metrics["reached"] == 0.0 and math.isnan(metrics["steps_to_target"])  # counted as failed, not as 44 steps


def test_the_claims_pair_bn_with_no_bn_by_seed():
    claims = activation_with_bn._claims(dict(activation_with_bn.DEFAULTS))
    assert list(claims) == ["speeds_sigmoid", "reaches_more_sigmoid", "speeds_tanh", "reaches_more_tanh", "speeds_relu",
                            "reaches_more_relu", "sigmoid_at_chance", "bn_rescues_sigmoid", "bn_hurts_sigmoid",
                            "bn_hurts_relu"]
    reaches = claims["reaches_more_sigmoid"]  # share of seeds reaching the target, with BN minus without, in points
    assert (reaches.metric, reaches.a["norm"], reaches.b["norm"], reaches.scale) == ("reached", "bn", "none", 100)
    speeds = claims["speeds_tanh"]  # steps without BN minus with BN
    assert (speeds.metric, speeds.a["norm"], speeds.b["norm"], speeds.side) == ("steps_to_target", "none", "bn",
                                                                                "greater")
    chance = claims["sigmoid_at_chance"]  # measured by the module: over the seeds, minus chance of the data set
    assert (chance.metric, chance.a, chance.side, chance.margin) == ("top1_pct", None, "within", 5.0)
    assert (claims["bn_hurts_relu"].a["norm"], claims["bn_hurts_relu"].side) == ("bn", "less")
    assert list(activation_with_bn._claims(dict(activation_with_bn.DEFAULTS, acts=["tanh"]))) == [
        "speeds_tanh", "reaches_more_tanh"]


def test_an_evaluation_interval_beyond_the_training_steps_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match=r"params.eval_every=1000 exceeds the 88 training steps on digits"):
        run_quick("activation_with_bn", tmp_path, "params.eval_every=1000")


@pytest.mark.slow
def test_chance_is_the_center_of_the_sigmoid_claim_and_the_chinese_report(tmp_path):
    ctx = run_quick("activation_with_bn", tmp_path, "lang=zh")
    top1 = [float(r["top1_pct"]) for r in read_runs(tmp_path) if (r["activation"], r["norm"]) == ("sigmoid", "none")]
    chance = next(c for c in ctx.claims if c["side"] == "within")
    assert chance["mean"] == pytest.approx(np.mean(top1) - 10) and "10%" in chance["claim_en"]
    assert "个百分点" in chance["deciding"] and "18 of 360 test images" in chance["evidence"]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and ctx.claims[0]["claim"].startswith("BN 总能加速训练（sigmoid）")
