"""The ``rms`` norm kind (RMSNorm) against numpy in float64: outputs and the gradients of x, gamma and beta, on
small tensors in every layout and with a million values per channel; static graphs: tests/test_functional_scale.py."""
import numpy as np
import paddle
import pytest

import ppnorm.nn.functional as F
from ppnorm.nn import build_norm, is_batch_norm, is_norm, norm_epsilon

pytestmark = pytest.mark.oldest_paddle  # a norm's numbers on the oldest supported Paddle too (.ci/run)


def _numpy_rms(x, w, b, dy, eps, channel_axis):
    """``(y, dx, dgamma, dbeta)`` of y = gamma * x / sqrt(mean(x^2 over each sample) + eps) + beta, for the
    upstream gradient ``dy``, in float64: dx = gamma dy / r - x * sum(gamma dy x) / (n r^3)."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    samples, others = tuple(range(1, x.ndim)), tuple(a for a in range(x.ndim) if a != channel_axis)
    shape = [1] * x.ndim
    shape[channel_axis] = -1
    gamma = w.astype(np.float64).reshape(shape)
    r = np.sqrt((x * x).mean(samples, keepdims=True) + eps)
    g_dy = gamma * dy
    dx = g_dy / r - x * (g_dy * x).sum(samples, keepdims=True) / (x[0].size * r ** 3)
    return gamma * x / r + b.reshape(shape), dx, (dy * x / r).sum(others), dy.sum(others)


def _ours(x, w, b, dy, eps, data_format):
    tensors = [paddle.to_tensor(a, stop_gradient=False) for a in (x, w, b)]
    y = F.rms_norm(*tensors, epsilon=eps, data_format=data_format)
    return [y.numpy()] + [g.numpy() for g in paddle.grad((y * paddle.to_tensor(dy)).sum(), tensors)]


@pytest.mark.parametrize("shape,data_format", [((4, 6, 3, 5), "NCHW"), ((4, 3, 5, 6), "NHWC"), ((5, 6), "NC"),
                                               ((4, 6, 7), "NCL"), ((2, 3, 2, 4, 6), "NDHWC")])
def test_rms_norm_matches_numpy_outputs_and_gradients(shape, data_format):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=shape) * 2 + 1).astype("float32")  # a mean of 1: RMS norm keeps it, unlike LN
    channels, axis = 6, 1 if data_format[1] == "C" else len(shape) - 1
    w, b = rng.uniform(0.5, 1.5, channels).astype("float32"), rng.normal(size=channels).astype("float32")
    dy = rng.normal(size=shape).astype("float32")
    for name, ours, truth in zip(("y", "dx", "dgamma", "dbeta"), _ours(x, w, b, dy, 1e-3, data_format),
                                 _numpy_rms(x, w, b, dy, 1e-3, axis)):
        np.testing.assert_allclose(ours, truth, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.slow
def test_rms_norm_holds_with_a_million_values_per_channel():
    """[4, 2, 512, 512] with mean 3: 1,048,576 values per channel, 524,288 in each sample's mean. Measured off the
    float64 truth: y 4.3e-7 (float32 rounding at |y| < 5) and dx 1.2e-7; float32 sums of x^2 gave 5.5e-5 and
    3.3e-5. gamma's and beta's gradients are float32 sums over a million values (Paddle's), 4e-5 and 5e-6 relative."""
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(4, 2, 512, 512)) + 3).astype("float32")
    w, b = np.array([0.5, 2.0], "float32"), np.array([0.1, -0.2], "float32")
    dy = rng.normal(size=x.shape).astype("float32")
    y, dx, dw, db = _ours(x, w, b, dy, 1e-5, "NCHW")
    truth = _numpy_rms(x, w, b, dy, 1e-5, 1)
    np.testing.assert_allclose(y, truth[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(dx, truth[1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(dw, truth[2], rtol=2e-4)
    np.testing.assert_allclose(db, truth[3], rtol=2e-5)


def test_the_rms_kind_is_a_norm_without_statistics_and_takes_the_factory_options():
    layer = build_norm("rms", 6, epsilon=1e-3)
    assert is_norm(layer) and not is_batch_norm(layer) and norm_epsilon(layer) == 1e-3
    assert [p.name for p in build_norm("rms", 6, affine=False).parameters()] == []
    x = paddle.to_tensor(np.full([2, 6, 2, 2], 3.0, "float32"))
    np.testing.assert_allclose(layer(x).numpy(), 3.0 / np.sqrt(9.0 + 1e-3), rtol=1e-6)  # a constant input: ~1
