"""precise_bn's science: PreciseBN's statistics by hand, the cell against numpy, the claims it declares.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import copy

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments import experiments, precise_bn
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.training import digits
from ppnorm.nn.precise_bn import update_bn_stats

from experiment_runs import capture_models, quick_context


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


def test_the_claims_are_the_gain_per_lr_and_its_growth_from_the_lowest_to_the_highest_lr():
    claims = precise_bn._claims({"lrs": [0.05, 0.1, 0.4]})
    assert list(claims) == ["gain_lr_0p05", "gain_lr_0p1", "gain_lr_0p4", "gain_grows_with_lr"]
    assert (claims["gain_lr_0p1"].metric, claims["gain_lr_0p1"].a, claims["gain_lr_0p1"].b) == ("gain_points",
                                                                                             {"lr": 0.1}, None)
    grows = claims["gain_grows_with_lr"]
    assert (grows.a, grows.b, grows.side, grows.paired) == ({"lr": 0.4}, {"lr": 0.05}, "greater", True)


@pytest.mark.slow
def test_the_cell_measures_ema_and_precise_bn_on_the_same_weights(tmp_path, monkeypatch):
    """The last EMA accuracy is the trained model's own (eval mode, numpy argmax); the gain is PreciseBN - EMA per
    epoch, and the scalars are the means over the epochs."""
    built = capture_models(monkeypatch, precise_bn)
    ctx = quick_context(precise_bn, tmp_path, epochs=2)
    ctx.seed_everything(0)
    m = precise_bn.cell(ctx, {"lr": 0.05}, 0)
    (model,) = built
    model.eval()
    images, labels = digits("test")
    assert m["ema_curve"][-1] == pytest.approx(100 * (model(images).numpy().argmax(axis=1) == labels.numpy()).mean())
    assert m["gain_curve"] == pytest.approx(np.subtract(m["precise_curve"], m["ema_curve"]).tolist())
    assert len(m["ema_curve"]) == 2 and m["gain_points"] == pytest.approx(np.mean(m["gain_curve"]))
    assert (m["ema_top1_pct"], m["precise_top1_pct"]) == pytest.approx((np.mean(m["ema_curve"]),
                                                                        np.mean(m["precise_curve"])))


def test_full_preset_adds_learning_rates_and_seeds():
    _, settings, params = load_experiment_config("configs/experiments/precise_bn_full.yaml", [], experiments())
    assert (params["lrs"], params["epochs"], params["seeds"]) == ([0.05, 0.1, 0.2, 0.4], 12, 20)
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
