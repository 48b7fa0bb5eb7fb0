"""activation_pitfalls' science: dead units, one-sign rows and the 2nd layer's gradient against numpy; the cell
against the same seed's model measured by hand; diverged and censored runs as outcomes; the claims as declared.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import math

import numpy as np
import paddle
import pytest
from experiment_runs import quick_context

import ppnorm
from ppnorm.experiments import activation_pitfalls, experiments
from ppnorm.experiments.activation_pitfalls import dead_fraction, one_sign_fraction, second_layer_gradient
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.training import fit, optimizer_section


def _params(model):
    return [(b.linear.weight.numpy(), b.linear.bias.numpy()) for b in model.layers] + \
        [(model.fc.weight.numpy(), model.fc.bias.numpy())]


def test_dead_fraction_matches_numpy_forward():
    paddle.seed(1)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[8, 8], num_classes=3, act="relu")
    for block in model.layers:  # push some units to never fire
        block.linear.bias.set_value(np.linspace(-3, 1, 8).astype("float32"))
    x = np.random.default_rng(0).normal(size=(20, 6)).astype("float32")
    (w1, b1), (w2, b2), _ = _params(model)
    z1 = x @ w1 + b1
    z2 = np.maximum(z1, 0) @ w2 + b2
    expected = ((z1 <= 0).all(0).sum() + (z2 <= 0).all(0).sum()) / 16
    assert 0 < expected < 1
    assert dead_fraction(model, paddle.to_tensor(x)) == pytest.approx(expected)


def test_one_sign_fraction_by_hand():
    grad = np.array([[1.0, -1.0, 2.0, 0.0], [3.0, -2.0, -1.0, -1.0], [0.0, -5.0, 1.0, -2.0]])
    expected = np.mean([all(v >= 0 for v in c) or all(v <= 0 for v in c) for c in grad.T])
    assert one_sign_fraction(grad) == expected == 0.75


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_second_layer_gradient_matches_numpy_backpropagation(act):
    paddle.seed(0)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, act=act, init="xavier")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 6)).astype("float32"), rng.integers(0, 3, 7)
    got = second_layer_gradient(model, paddle.to_tensor(x), paddle.to_tensor(y))
    f, df = ((lambda z: 1 / (1 + np.exp(-z))), (lambda s: s * (1 - s))) if act == "sigmoid" else (np.tanh, lambda t: 1 - t * t)
    (w1, b1), (w2, b2), (wf, bf) = _params(model)
    a1 = f(x @ w1 + b1)
    a2 = f(a1 @ w2 + b2)
    logits = a2 @ wf + bf
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d_z2 = ((p - np.eye(3)[y]) / len(y)) @ wf.T * df(a2)
    np.testing.assert_allclose(got, a1.T @ d_z2, rtol=1e-4, atol=1e-7)
    single = second_layer_gradient(model, paddle.to_tensor(x[:1]), paddle.to_tensor(y[:1]))
    if act == "sigmoid":  # all inputs positive: each column has the sign of that unit's delta
        assert one_sign_fraction(single) == 1.0


def test_the_claims_are_declared_with_their_settings_and_the_yaml_registers_them():
    module, settings, params = load_experiment_config("configs/experiments/activation_pitfalls.yaml", [], experiments())
    claims = activation_pitfalls.EXPERIMENT.resolve(params, settings["claims"])
    plain = {"case": "dying", "act": "relu", "norm": "none", "lr": 0.5}
    assert (claims["relu_dies_more_at_high_lr"].a, claims["relu_dies_more_at_high_lr"].b) == (plain, {**plain, "lr": 0.01})
    for fix, act, norm in (("bn", "relu", "bn"), ("leaky_relu", "leaky_relu", "none"), ("elu", "elu", "none")):
        fewer, diverges = claims[f"fewer_dead_with_{fix}"], claims[f"diverges_more_with_{fix}"]
        assert (fewer.metric, fewer.a, fewer.b, fewer.side) == ("dead_pct", {**plain, "act": act, "norm": norm}, plain,
                                                                "less")
        assert (diverges.metric, diverges.a, diverges.side, diverges.scale) == ("diverged", fewer.a, "greater", 100)
    for norm in ("none", "bn"):
        sigmoid, tanh = ({"case": "sign", "act": a, "norm": norm, "lr": 0.05} for a in ("sigmoid", "tanh"))
        reach, slower = claims[f"sigmoid_reaches_target_less_{norm}"], claims[f"sigmoid_slower_{norm}"]
        assert (reach.metric, reach.a, reach.b, reach.side, reach.scale) == ("reached", sigmoid, tanh, "less", 100)
        assert (slower.metric, slower.a, slower.b, slower.side) == ("steps_to_target", sigmoid, tanh, "greater")
    assert claims["more_one_sign_rows_with_sigmoid"].metric == "one_sign_batch_pct" and len(claims) == 12
    assert all(c.sesoi and c.margin == 0 for c in claims.values())
    assert [cid for cid, c in claims.items() if c.expected is None] == ["sigmoid_slower_none"]  # nothing reached
    only_relu = activation_pitfalls._claims({**params, "dying": [["relu", "bn"]], "sign_acts": ["tanh"]})
    assert only_relu == {}  # no plain ReLU and no sigmoid to compare with


def _context(tmp_path, **params):
    return quick_context(activation_pitfalls, tmp_path, **params)


def _mlp(ctx, act, norm, init):
    return ppnorm.build_model("mlp", in_features=ctx.data_info.features, hidden=[ctx.params["width"]] * ctx.params[
        "depth"], num_classes=ctx.data_info.num_classes, act=act, norm=norm, init=init)


@pytest.mark.slow
@pytest.mark.parametrize("setting", [{"case": "dying", "act": "relu", "norm": "bn", "lr": 0.5},
                                     {"case": "sign", "act": "sigmoid", "norm": "bn", "lr": 0.05}])
def test_the_cell_measures_the_model_as_built_and_trains_it_untouched_by_the_analysis(tmp_path, setting):
    """The measurements at init are those of the same seed's model measured by hand; the training's result is that
    of the same model trained without any analysis (the one-sign gradients run on a copy, BN's statistics included)."""
    ctx, dying = _context(tmp_path), setting["case"] == "dying"
    (images, labels), batch = ctx.data("train"), ctx.params["batch"]
    ctx.seed_everything(0)
    m = activation_pitfalls.cell(ctx, setting, 0)
    ctx.seed_everything(0)
    model = _mlp(ctx, setting["act"], setting["norm"], "kaiming" if dying else "xavier")
    assert m["dead_at_init_pct"] == pytest.approx(100 * dead_fraction(model, images))
    twin = _mlp(ctx, setting["act"], setting["norm"], "xavier")
    twin.set_state_dict(model.state_dict())
    assert m["one_sign_batch_pct"] == pytest.approx(100 * one_sign_fraction(second_layer_gradient(
        twin, images[:batch], labels[:batch])))
    section = optimizer_section(name="SGD" if dying else "Momentum", lr={"name": "Constant", "learning_rate":
                                                                         setting["lr"]})
    history = fit(model, (images, labels), ctx.data("test"), 1, batch, seed=0, optimizer=section,
                  eval_every=len(labels) // batch // 2)
    assert m["top1_curve"] == pytest.approx([100 * a for a in history.test_accuracy])
    assert m["top1_pct"] == m["top1_curve"][-1] and m["dead_pct"] == pytest.approx(100 * dead_fraction(model, images))
    steps = history.steps_to(ctx.params["target"])
    assert (m["reached"], m["steps_to_target"]) == ((1.0, steps) if steps else (0.0, pytest.approx(math.nan,
                                                                                                   nan_ok=True)))


@pytest.mark.slow
def test_a_diverged_run_is_counted_and_a_censored_one_has_no_step_count(tmp_path):
    ctx = _context(tmp_path)
    ctx.seed_everything(0)
    m = activation_pitfalls.cell(ctx, {"case": "dying", "act": "elu", "norm": "none", "lr": 1000.0}, 0)
    assert m["diverged"] == 1.0 and math.isnan(m["dead_pct"]) and math.isfinite(m["dead_at_init_pct"])
    assert m["reached"] == 0.0 and math.isnan(m["steps_to_target"]) and m["top1_pct"] == pytest.approx(10.0, abs=2)
