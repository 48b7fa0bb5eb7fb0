"""activation_pitfalls: dead units, one-sign rows and the 2nd layer's gradient against numpy; verdicts against runs."""

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments.activation_pitfalls import dead_fraction, one_sign_fraction, second_layer_gradient
from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


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


@pytest.mark.slow
def test_activation_pitfalls_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("activation_pitfalls", tmp_path)
    runs = read_runs(tmp_path)

    def values(key, act, norm="none", lr=None):
        return np.array([float(r[key]) for r in runs if (r["act"], r["norm"]) == (act, norm)
                         and (lr is None or r["lr"] == lr)])
    diff = 100 * (values("dead", "relu", lr="0.5") - values("dead", "relu", lr="0.01"))
    mean, half = diff.mean(), t_quantile(2) * diff.std(ddof=1) / np.sqrt(2)
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("ReLU without BN: more units die"))
    assert (claim["mean"], claim["low"]) == pytest.approx((mean, mean - half))
    assert claim["raw_verdict"] == ("confirmed" if mean - half > 0 else "refuted" if mean + half <= 0 else "inconclusive")
    assert list(values("one_sign_sample", "sigmoid")) == [1.0, 1.0]
    diverged = {(r["act"], r["norm"], r["seed"]) for r in runs if r["lr"] == "0.5" and r["diverged"] == "True"}
    for (act, norm), fix in ((("relu", "bn"), "BN"), (("leaky_relu", "none"), "leaky_relu"), (("elu", "none"), "elu")):
        claim = next(c for c in ctx.claims if c["claim_en"].startswith(f"At lr 0.5, {fix} leaves"))
        lost = {s for s in ("0", "1") if (act, norm, s) in diverged or ("relu", "none", s) in diverged}
        assert (claim["failed"], claim["n"]) == (len(lost), 2 - len(lost))  # diverged seeds are counted, not dropped
    per_sample = next(c for c in ctx.claims if c["claim_en"].startswith("Per sample, every"))
    assert per_sample["verdict"] == "passed"
    assert (tmp_path / "activation_pitfalls.png").stat().st_size > 10_000
