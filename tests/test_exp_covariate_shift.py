"""covariate_shift: variance rows and distribution shift against numpy, and its verdicts against its runs."""

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments.covariate_shift import distribution_shift, layer_inputs, variance_rows

from experiment_runs import read_runs, run_quick, seed_interval


def test_distribution_shift_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(100, 3))
    a -= a.mean(0)  # centred, so scaling moves only the std
    assert distribution_shift(a, a) == 0.0
    b = a + np.array([1.0, 0.0, 0.0])  # one unit's mean moves by 1
    expected = np.sqrt(1.0 / 3 / np.mean(a.std(0) ** 2))
    assert distribution_shift(a, b) == pytest.approx(expected)
    assert distribution_shift(a, 2 * a) == pytest.approx(1.0)  # std doubles: rms change = rms std


def test_variance_rows_match_numpy():
    paddle.seed(0)
    model = ppnorm.build_model("mlp", in_features=6, hidden=[5, 4], num_classes=3, norm="none", act="relu")
    x = np.random.default_rng(0).normal(size=(30, 6)).astype("float32")
    rows = variance_rows(model, paddle.to_tensor(x))
    (w1, b1), (w2, b2) = [(b.linear.weight.numpy(), b.linear.bias.numpy()) for b in model.layers]
    h = np.maximum(x @ w1 + b1, 0)
    assert rows[0]["D(y)"] == pytest.approx((x @ w1 + b1).var(), rel=1e-5)
    assert rows[1]["D(x)"] == pytest.approx(h.var(), rel=1e-5)
    assert rows[1]["E[x^2]"] == pytest.approx((h ** 2).mean(), rel=1e-5)
    assert rows[1]["D(w)"] == pytest.approx(w2.var(), rel=1e-5)
    assert rows[1]["D(y)"] == pytest.approx((h @ w2 + b2).var(), rel=1e-5)
    assert [r["n"] for r in rows] == [6, 5]


def test_layer_inputs_leave_bn_running_statistics_alone():
    paddle.seed(0)
    model = ppnorm.build_model("mlp", in_features=4, hidden=[3, 3], num_classes=2, norm="bn")
    before = [b.numpy().copy() for _, b in model.named_buffers()]
    x = paddle.to_tensor(np.random.default_rng(0).normal(5.0, 2.0, size=(16, 4)).astype("float32"))
    first, second = layer_inputs(model, x, [0, 1])
    np.testing.assert_allclose(first, x.numpy(), rtol=1e-6)
    z = x.numpy() @ model.layers[0].linear.weight.numpy()
    expected = np.maximum((z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5), 0)  # BN with batch statistics, then ReLU
    np.testing.assert_allclose(second, expected, rtol=1e-4, atol=1e-5)
    for old, (_, new) in zip(before, model.named_buffers()):
        np.testing.assert_array_equal(old, new.numpy())


def test_covariate_shift_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("covariate_shift", tmp_path)
    runs = read_runs(tmp_path)
    deep = {(r["norm"], r["seed"]): float(r["deep shift"]) for r in runs}
    logs = [np.log10(deep[("bn", s)] / deep[("none", s)]) for s in ("0", "1")]
    mean, half = seed_interval(logs)
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("BN reduces how much"))
    assert (claim["mean"], claim["low"]) == pytest.approx((mean, mean - half))
    assert claim["raw_verdict"] == ("confirmed" if mean + half < 0 else "refuted" if mean - half >= 0 else "inconclusive")
    first = next(c for c in ctx.claims if c["claim_en"].startswith("With zero-mean inputs"))
    assert first["verdict"] == "passed"
    assert (tmp_path / "covariate_shift.png").stat().st_size > 10_000
