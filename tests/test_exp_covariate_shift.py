"""covariate_shift's science: the variance rows, the distribution shift, the inputs it measures and what BN fixes by
construction against numpy; the cell's metrics against the trained model; the claims it declares.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments import covariate_shift, experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context


def test_distribution_shift_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(100, 3))
    a -= a.mean(0)  # centred, so scaling moves only the std
    assert covariate_shift.distribution_shift(a, a) == 0.0
    b = a + np.array([1.0, 0.0, 0.0])  # one unit's mean moves by 1
    assert covariate_shift.distribution_shift(a, b) == pytest.approx(np.sqrt(1.0 / 3 / np.mean(a.std(0) ** 2)))
    assert covariate_shift.distribution_shift(a, 2 * a) == pytest.approx(1.0)  # std doubles: rms change = rms std


def test_variance_rows_match_numpy():
    paddle.seed(0)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, norm="none", act="relu")
    x = np.random.default_rng(0).normal(size=(30, 6)).astype("float32")
    rows = covariate_shift.variance_rows(model, paddle.to_tensor(x))
    (w1, b1), (w2, b2) = [(b.linear.weight.numpy(), b.linear.bias.numpy()) for b in model.layers]
    h = np.maximum(x @ w1 + b1, 0)
    assert rows[0]["D(y)"] == pytest.approx((x @ w1 + b1).var(), rel=1e-5)
    assert (rows[1]["D(x)"], rows[1]["E[x^2]"], rows[1]["D(w)"]) == pytest.approx((h.var(), (h ** 2).mean(), w2.var()),
                                                                                  rel=1e-5)
    assert rows[1]["D(y)"] == pytest.approx((h @ w2 + b2).var(), rel=1e-5)
    assert rows[1]["product"] == pytest.approx(5 * h.var() * w2.var(), rel=1e-5)
    assert rows[1]["corrected"] == pytest.approx(5 * (h ** 2).mean() * w2.var(), rel=1e-5)
    assert [r["n"] for r in rows] == [6, 5]


def test_layer_inputs_use_batch_statistics_and_leave_the_running_statistics_alone():
    paddle.seed(0)
    model = ppnorm.build_model("mlp", in_features=4, hidden=[3, 3], num_classes=2, norm="bn")
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}  # BN's running stats are parameters here
    x = paddle.to_tensor(np.random.default_rng(0).normal(5.0, 2.0, size=(16, 4)).astype("float32"))
    first, second = covariate_shift.layer_inputs(model, x, [0, 1])
    np.testing.assert_allclose(first, x.numpy(), rtol=1e-6)
    z = x.numpy() @ model.layers[0].linear.weight.numpy()
    expected = np.maximum((z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5), 0)  # BN with batch statistics, then ReLU
    np.testing.assert_allclose(second, expected, rtol=1e-4, atol=1e-5)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(before[key], value.numpy(), err_msg=key)


def test_bn_fixes_each_units_batch_mean_and_std_whatever_its_weights():
    paddle.seed(1)
    block = ppnorm.build_model("mlp", in_features=5, hidden=[4], norm="bn").layers[0]
    block.norm.weight.set_value(paddle.to_tensor([2.0, -0.5, 0.0, 1.0]))
    block.norm.bias.set_value(paddle.to_tensor([1.0, -3.0, 0.5, 0.0]))
    x = paddle.to_tensor(np.random.default_rng(1).normal(3.0, 4.0, size=(64, 5)).astype("float32"))
    assert covariate_shift.bn_moment_error(block, x) < 1e-5
    with paddle.no_grad():
        out = block.norm(block.linear(x)).numpy()
    np.testing.assert_allclose(out.mean(0), [1.0, -3.0, 0.5, 0.0], atol=1e-5)
    np.testing.assert_allclose(out.std(0), [2.0, 0.5, 0.0, 1.0], atol=1e-3)  # |γ|, up to sqrt(D/(D+ε))


def test_the_claims_are_amplification_without_bn_and_the_bn_reduction_by_construction():
    _, settings, params = load_experiment_config("configs/experiments/covariate_shift.yaml", [], experiments())
    claims = covariate_shift.EXPERIMENT.resolve(params, settings["claims"])
    more, less = claims["deep_input_moves_more"], claims["bn_reduces_deep_shift"]
    assert (more.metric, more.a, more.b, more.side, more.margin) == ("log_deep_over_early", {"norm": "none"}, None,
                                                                      "greater", 0.0)
    assert (less.metric, less.a, less.b, less.side, less.paired) == ("log_deep_shift", {"norm": "bn"},
                                                                      {"norm": "none"}, "less", True)
    assert more.sesoi > 0 and less.sesoi > 0 and more.expected > 0 > less.expected
    assert "by construction" in less.en and "Santurkar" in less.en and "6" in less.text(less.en, params)


@pytest.mark.slow
def test_the_cell_measures_the_trained_model(tmp_path, monkeypatch):
    """Its accuracy is the trained model's (numpy argmax); the shifts are the means of the curve, their logs as
    declared; BN's batch moments stay fixed after training (the check's identity on the trained weights)."""
    built = capture_models(monkeypatch, covariate_shift)
    ctx = quick_context(covariate_shift, tmp_path)
    ctx.seed_everything(0)
    m = covariate_shift.cell(ctx, {"norm": "bn"}, 0)
    (model,) = built
    model.eval()
    images, labels = digits("test")
    assert m["top1_pct"] == pytest.approx(100 * (model(images).numpy().argmax(axis=1) == labels.numpy()).mean())
    assert m["deep_shift"] == pytest.approx(np.mean(m["deep_shift_curve"])) and len(m["deep_shift_curve"]) >= 4
    assert m["log_deep_over_early"] == pytest.approx(np.log10(m["deep_shift"] / m["early_shift"]))
    assert m["log_deep_shift"] == pytest.approx(np.log10(m["deep_shift"]))
    model.train()
    assert covariate_shift.bn_moment_error(model.layers[1], model.layers[0](paddle.flatten(digits("train")[0][:64], start_axis=1))) < 1e-4


def test_full_preset_is_wider_deeper_and_longer():
    _, settings, params = load_experiment_config("configs/experiments/covariate_shift_full.yaml", [], experiments())
    assert (params["init_width"], params["depth"], params["steps"], params["seeds"]) == (1024, 10, 1500, 20)
    assert settings["output_dir"].endswith("covariate_shift_full")
