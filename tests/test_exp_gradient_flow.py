"""gradient_flow's science: per-layer gradient norms against numpy backpropagation, the sigmoid derivative bound,
the cell's decays against a model built the same way, its claims as declared.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import math

import numpy as np
import paddle
import pytest
from experiment_runs import quick_context

import ppnorm
from ppnorm.experiments import experiments, gradient_flow
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.gradient_flow import decay_per_layer, gradient_norms, max_sigmoid_derivative


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_decay_per_layer_by_hand():
    assert decay_per_layer([1.0, 10.0, 100.0]) == pytest.approx(-1.0)  # 100x over two layers: 10x per layer
    assert decay_per_layer([4.0, 2.0, 1.0]) == pytest.approx(np.log10(2.0))


def test_gradient_norms_match_numpy_backpropagation():
    paddle.seed(0)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, norm="none", act="sigmoid",
                               init="xavier")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 6)).astype("float32"), rng.integers(0, 3, 7)
    got = gradient_norms(model, paddle.to_tensor(x), paddle.to_tensor(y))
    (w1, b1), (w2, b2) = [(b.linear.weight.numpy(), b.linear.bias.numpy()) for b in model.layers]
    wf, bf = model.fc.weight.numpy(), model.fc.bias.numpy()
    s1 = _sigmoid(x @ w1 + b1)  # paddle Linear: x @ W + b, W is [in, out]
    s2 = _sigmoid(s1 @ w2 + b2)
    logits = s2 @ wf + bf
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d_logits = (p - np.eye(3)[y]) / len(y)  # mean cross-entropy
    d_z2 = d_logits @ wf.T * s2 * (1 - s2)
    d_z1 = d_z2 @ w2.T * s1 * (1 - s1)
    expected = [np.linalg.norm(x.T @ d_z1), np.linalg.norm(s1.T @ d_z2)]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert all(p.grad is None or not p.grad.numpy().any() for p in model.parameters())  # analysis only: cleared


def test_max_sigmoid_derivative_matches_numpy():
    paddle.seed(1)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, act="sigmoid", init="xavier")
    x = 3 * np.random.default_rng(1).normal(size=(9, 6)).astype("float32")
    (w1, b1), (w2, b2) = [(b.linear.weight.numpy(), b.linear.bias.numpy()) for b in model.layers]
    s1 = _sigmoid(x @ w1 + b1)
    s2 = _sigmoid(s1 @ w2 + b2)
    expected = max((s1 * (1 - s1)).max(), (s2 * (1 - s2)).max())
    assert max_sigmoid_derivative(model, paddle.to_tensor(x)) == pytest.approx(expected, rel=1e-5) and expected <= 0.25


def test_the_claims_are_declared_with_their_settings_and_the_yaml_registers_them():
    module, settings, params = load_experiment_config("configs/experiments/gradient_flow.yaml", [], experiments())
    claims = gradient_flow.EXPERIMENT.resolve(params, settings["claims"])
    sigmoid = {"model": "mlp", "act": "sigmoid", "norm": "none"}
    assert {cid: (c.metric, c.a, c.b, c.side) for cid, c in claims.items()} == {
        "sigmoid_mlp_shrinks_at_init": ("init_decay", sigmoid, None, "less"),
        "sigmoid_mlp_shrinks_by_a_quarter": ("init_decay", sigmoid, None, "less"),
        "sigmoid_mlp_shrinks_after_training": ("end_decay", sigmoid, None, "less"),
        "sigmoid_cnn_shrinks_at_init": ("init_decay", {**sigmoid, "model": "cnn"}, None, "less"),
        "bn_reduces_sigmoid_decay": ("init_decay", {**sigmoid, "norm": "bn"}, sigmoid, "greater"),
        "relu_passes_gradients_whole": ("init_decay", {**sigmoid, "act": "relu"}, None, "within")}
    assert claims["sigmoid_mlp_shrinks_by_a_quarter"].margin == pytest.approx(np.log10(0.25))
    assert claims["relu_passes_gradients_whole"].margin == 0.05 and claims["relu_passes_gradients_whole"].sesoi is None
    assert all(c.expected is not None for c in claims.values())
    assert list(gradient_flow._claims({**params, "acts": ["tanh", "relu"]})) == ["relu_passes_gradients_whole"]


def _context(tmp_path, **params):
    return quick_context(gradient_flow, tmp_path, **params)


@pytest.mark.slow
def test_the_cell_measures_the_initial_model_and_records_during_training(tmp_path):
    """init_decay is the decay of the same seed's freshly built model; the MLP records every record_every steps of
    its 22 steps (1 epoch of 64 digits), end_decay is the last recording; a CNN is measured at initialization only."""
    ctx = _context(tmp_path)
    images, labels = ctx.data("train")
    batch = (images[:ctx.params["batch"]], labels[:ctx.params["batch"]])
    for kind in ("mlp", "cnn"):
        ctx.seed_everything(0)
        expected = decay_per_layer(gradient_norms(gradient_flow.build(ctx, kind, "sigmoid", "none"), *batch))
        ctx.seed_everything(0)
        m = gradient_flow.cell(ctx, {"model": kind, "act": "sigmoid", "norm": "none"}, 0)
        assert m["init_decay"] == pytest.approx(expected, abs=1e-6) and m["diverged"] == 0.0
        if kind == "mlp":
            assert len(m["decay_curve"]) == 1 + 22 // ctx.params["record_every"]
            assert m["end_decay"] == m["decay_curve"][-1] != m["init_decay"]
        else:
            assert m["decay_curve"] == [m["init_decay"]] and math.isnan(m["end_decay"])


@pytest.mark.slow
def test_a_diverged_training_is_an_outcome_not_a_dropped_run(tmp_path):
    ctx = _context(tmp_path, lr=50.0)
    ctx.seed_everything(0)
    m = gradient_flow.cell(ctx, {"model": "mlp", "act": "relu", "norm": "none"}, 0)
    assert m["diverged"] == 1.0 and math.isnan(m["end_decay"]) and math.isfinite(m["init_decay"])
