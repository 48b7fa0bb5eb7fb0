"""precise_bn: PreciseBN's statistics by hand, and the experiment's claims recomputed from its per-seed runs."""
import copy

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.stats import t_quantile
from ppnorm.nn.precise_bn import update_bn_stats

from experiment_runs import read_runs, run_quick


def test_precise_bn_recomputes_the_equal_weight_average_of_batch_statistics():
    paddle.seed(0)
    model = ppnorm.build_model("resnet20", in_channels=1, num_classes=10)
    for layer in model.sublayers():  # stale statistics, as after a high-learning-rate phase
        if ppnorm.nn.is_batch_norm(layer):
            layer._mean.set_value(paddle.full(layer._mean.shape, 3.0))
    x = paddle.randn([96, 1, 8, 8])
    batches = [x[i * 32:(i + 1) * 32] for i in range(3)]
    frozen = copy.deepcopy(model)
    frozen.eval()
    assert update_bn_stats(frozen, iter(batches + batches), num_batches=3) == 3
    assert not frozen.training and frozen.bn1._momentum == 0.9  # mode and momentum restored
    with paddle.no_grad():
        out = frozen.conv1(x).numpy()
    expected_mean = np.mean([out[i * 32:(i + 1) * 32].mean(axis=(0, 2, 3)) for i in range(3)], axis=0)
    expected_var = np.mean([out[i * 32:(i + 1) * 32].var(axis=(0, 2, 3)) for i in range(3)], axis=0)
    np.testing.assert_allclose(frozen.bn1._mean.numpy(), expected_mean, atol=1e-5)
    np.testing.assert_allclose(frozen.bn1._variance.numpy(), expected_var, rtol=1e-4, atol=1e-6)
    for a, b in zip(model.parameters(), frozen.parameters()):  # trainable weights untouched
        if not a.stop_gradient:
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def _interval(values):
    values = np.asarray(values, dtype="float64")
    half = t_quantile(len(values)) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


def _verdict(low, high):
    return "confirmed" if low > 0 else ("refuted" if high <= 0 else "inconclusive")


@pytest.mark.slow
def test_precise_bn_claims_are_computed_from_the_per_seed_gains(tmp_path):
    ctx = run_quick("precise_bn", tmp_path)
    runs = read_runs(tmp_path)
    gain = {(float(r["lr"]), int(r["seed"])): float(r["gain_points"]) for r in runs}
    assert sorted(gain) == [(lr, s) for lr in (0.05, 0.4) for s in (0, 1)]
    for r in runs:
        assert float(r["gain_points"]) == pytest.approx(float(r["precise_top1_pct"]) - float(r["ema_top1_pct"]))
    for claim, lr in zip(ctx.claims[:2], (0.05, 0.4)):
        mean, low, high = _interval([gain[(lr, s)] for s in (0, 1)])
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx((mean, low, high))
        assert claim["raw_verdict"] == _verdict(low, high)
    mean, low, high = _interval([gain[(0.4, s)] - gain[(0.05, s)] for s in (0, 1)])
    assert (ctx.claims[2]["mean"], ctx.claims[2]["low"]) == pytest.approx((mean, low))
    assert ctx.claims[2]["raw_verdict"] == _verdict(low, high)
    for row in ctx.tables["precise_bn"]["rows"]:  # one epoch: the table's gain is the runs' gain
        assert row["mean"] == pytest.approx(np.mean([gain[(row["lr"], s)] for s in (0, 1)]))
        assert row["mean"] == pytest.approx(row["PreciseBN mean"] - row["EMA mean"])


def test_full_preset_adds_learning_rates_and_seeds():
    _, settings, params = load_experiment_config("configs/experiments/precise_bn_full.yaml", [], experiments())
    assert (params["lrs"], params["epochs"], params["seeds"]) == ([0.05, 0.1, 0.2, 0.4], 12, 10)
    assert settings["output_dir"].endswith("precise_bn_full") and params["model"] == "resnet20"


def test_precise_bn_defaults_to_200_batches_and_reads_tuples():
    model = paddle.nn.Sequential(paddle.nn.BatchNorm1D(3))
    batches = [paddle.full([4, 3], float(i)) + paddle.to_tensor([[0.0], [1.0], [2.0], [3.0]]) for i in range(250)]
    assert update_bn_stats(model, iter(batches)) == 200
    np.testing.assert_allclose(model[0]._mean.numpy(), np.full(3, 99.5 + 1.5), rtol=1e-6)  # batches 0..199
    np.testing.assert_allclose(model[0]._variance.numpy(), np.full(3, 1.25), rtol=1e-5)
    tuples = paddle.nn.Sequential(paddle.nn.BatchNorm1D(3))
    assert update_bn_stats(tuples, [(b, paddle.zeros([4])) for b in batches[:3]]) == 3
    np.testing.assert_allclose(tuples[0]._mean.numpy(), np.full(3, 1.0 + 1.5), rtol=1e-6)
    assert update_bn_stats(paddle.nn.Sequential(paddle.nn.Linear(3, 2)), iter(batches)) == 0  # no batch norm
