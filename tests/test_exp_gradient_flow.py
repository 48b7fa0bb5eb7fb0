"""gradient_flow: per-layer gradient norms checked against numpy backpropagation, and its verdicts against its runs."""

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments.gradient_flow import decay_per_layer, gradient_norms

from experiment_runs import read_runs, run_quick, seed_interval


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
    s1 = 1 / (1 + np.exp(-(x @ w1 + b1)))  # paddle Linear: x @ W + b, W is [in, out]
    s2 = 1 / (1 + np.exp(-(s1 @ w2 + b2)))
    logits = s2 @ wf + bf
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d_logits = (p - np.eye(3)[y]) / len(y)  # mean cross-entropy
    d_z2 = d_logits @ wf.T * s2 * (1 - s2)
    d_z1 = d_z2 @ w2.T * s1 * (1 - s1)
    expected = [np.linalg.norm(x.T @ d_z1), np.linalg.norm(s1.T @ d_z2)]
    np.testing.assert_allclose(got, expected, rtol=1e-4)


@pytest.mark.slow
def test_gradient_flow_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("gradient_flow", tmp_path)
    runs = read_runs(tmp_path)
    sigmoid = [float(r["init decay"]) for r in runs if (r["model"], r["act"], r["norm"]) == ("mlp", "sigmoid", "none")]
    assert len(sigmoid) == 2
    mean, half = seed_interval(sigmoid)
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("In a 4-layer sigmoid MLP without BN, gradients shrink"))
    assert (claim["mean"], claim["high"]) == pytest.approx((mean, mean + half))
    assert claim["raw_verdict"] == ("confirmed" if mean + half < 0 else "refuted" if mean - half >= 0 else "inconclusive")
    bound = next(c for c in ctx.claims if c["claim_en"].startswith("The sigmoid's derivative"))
    assert bound["verdict"] == "passed"
    assert (tmp_path / "gradient_flow.png").stat().st_size > 10_000
