"""The from-scratch norms and dropout against paddle.nn: outputs, input grads, gamma/beta grads, stats."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

import ppnorm.nn.functional as F

TOL = 1e-5


def _random(shape, scale=3.0, shift=1.5):
    return (np.random.randn(*shape) * scale + shift).astype("float32")


def _forward_backward(fn, x_np, params, upstream):
    """Run fn(x) and backprop a fixed upstream gradient; return output, dx and grads of params."""
    x = paddle.to_tensor(x_np, stop_gradient=False)
    y = fn(x)
    (y * paddle.to_tensor(upstream)).sum().backward()
    grads = [p.grad.numpy() for p in params]
    return y.numpy(), x.grad.numpy(), grads


def _affine_params(shape):
    weight = paddle.to_tensor(_random(shape, 0.5, 1.0), stop_gradient=False)
    bias = paddle.to_tensor(_random(shape, 0.5, 0.0), stop_gradient=False)
    return weight, bias


def _assert_same(ours, theirs):
    for a, b in zip(ours[:2] + tuple(ours[2]), theirs[:2] + tuple(theirs[2])):
        np.testing.assert_allclose(a, b, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_paddle(shape, training):
    channels = shape[1]
    layer = nn.BatchNorm1D(channels) if len(shape) == 2 else nn.BatchNorm2D(channels)
    layer.weight.set_value(_random([channels], 0.5, 1.0))
    layer.bias.set_value(_random([channels], 0.5, 0.0))
    layer._mean.set_value(_random([channels], 1.0, 0.5))
    layer._variance.set_value(np.abs(_random([channels], 1.0, 2.0)))
    running_mean = paddle.to_tensor(layer._mean.numpy())
    running_var = paddle.to_tensor(layer._variance.numpy())
    weight, bias = paddle.to_tensor(layer.weight.numpy(), stop_gradient=False), \
        paddle.to_tensor(layer.bias.numpy(), stop_gradient=False)
    layer.train() if training else layer.eval()
    for step in range(4):
        x_np, upstream = _random(shape), _random(shape, 1.0, 0.0)
        layer.clear_gradients()
        weight.clear_gradient()
        bias.clear_gradient()
        theirs = _forward_backward(layer, x_np, [layer.weight, layer.bias], upstream)
        state = {}

        def ours_fn(x):
            y, state["mean"], state["var"] = F.batch_norm(x, running_mean, running_var, weight, bias, training=training)
            return y

        ours = _forward_backward(ours_fn, x_np, [weight, bias], upstream)
        _assert_same(ours, theirs)
        running_mean, running_var = state["mean"], state["var"]
        np.testing.assert_allclose(running_mean.numpy(), layer._mean.numpy(), atol=TOL, rtol=TOL)
        np.testing.assert_allclose(running_var.numpy(), layer._variance.numpy(), atol=TOL, rtol=TOL)


def test_running_variance_is_biased_and_momentum_is_paddles():
    x = paddle.arange(12, dtype="float32").reshape([2, 1, 2, 3])
    layer = nn.BatchNorm2D(1)
    layer.train()
    layer(x)
    _, mean, var = F.batch_norm(x, paddle.zeros([1]), paddle.ones([1]), training=True)
    for running_mean, running_var in [(layer._mean, layer._variance), (mean, var)]:
        assert float(running_mean.numpy()[0]) == pytest.approx(0.55, abs=1e-6)
        assert float(running_var.numpy()[0]) == pytest.approx(2.0916667, abs=1e-6)
    # the same step with the unbiased variance (PyTorch's buffer) would give 0.9 + 0.1 * 143/11 = 2.2
    assert 0.9 + 0.1 * np.var(np.arange(12), ddof=1) == pytest.approx(2.2)


def test_batch_norm_channels_last_and_global_stats():
    x_np = _random((4, 5, 3, 6))
    mean, var = paddle.to_tensor(_random([6], 1.0, 0.0)), paddle.to_tensor(np.abs(_random([6], 1.0, 2.0)))
    layer = nn.BatchNorm2D(6, data_format="NHWC", use_global_stats=True)
    layer._mean.set_value(mean.numpy())
    layer._variance.set_value(var.numpy())
    layer.train()
    theirs = layer(paddle.to_tensor(x_np)).numpy()
    ours, new_mean, _ = F.batch_norm(paddle.to_tensor(x_np), mean, var, paddle.ones([6]), paddle.zeros([6]),
                                     training=True, data_format="NHWC", use_global_stats=True)
    np.testing.assert_allclose(ours.numpy(), theirs, atol=TOL)
    np.testing.assert_array_equal(new_mean.numpy(), mean.numpy())


def test_one_value_per_channel_passes_through_like_paddle():
    x = paddle.to_tensor(_random((1, 3, 1, 1)))
    layer = nn.BatchNorm2D(3)
    layer.train()
    y, mean, var = F.batch_norm(x, paddle.zeros([3]), paddle.ones([3]), training=True)
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(layer._mean.numpy(), mean.numpy())
    np.testing.assert_array_equal(layer._variance.numpy(), var.numpy())


@pytest.mark.parametrize("shape", [(6, 7), (3, 4, 5, 6)])
def test_layer_norm_matches_paddle(shape):
    normalized = list(shape[1:])
    layer = nn.LayerNorm(normalized)
    size = int(np.prod(normalized))  # Paddle stores the elementwise affine flattened
    layer.weight.set_value(_random([size], 0.5, 1.0))
    layer.bias.set_value(_random([size], 0.5, 0.0))
    weight = paddle.to_tensor(layer.weight.numpy(), stop_gradient=False)
    bias = paddle.to_tensor(layer.bias.numpy(), stop_gradient=False)
    x_np, upstream = _random(shape), _random(shape, 1.0, 0.0)
    theirs = _forward_backward(layer, x_np, [layer.weight, layer.bias], upstream)
    ours = _forward_backward(lambda x: F.layer_norm(x, normalized, weight, bias), x_np, [weight, bias], upstream)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("training", [True, False])
def test_instance_norm_matches_paddle_in_train_and_eval(training):
    shape = (3, 4, 5, 6)
    layer = nn.InstanceNorm2D(4)
    layer.scale.set_value(_random([4], 0.5, 1.0))
    layer.bias.set_value(_random([4], 0.5, 0.0))
    layer.train() if training else layer.eval()
    weight = paddle.to_tensor(layer.scale.numpy(), stop_gradient=False)
    bias = paddle.to_tensor(layer.bias.numpy(), stop_gradient=False)
    x_np, upstream = _random(shape), _random(shape, 1.0, 0.0)
    theirs = _forward_backward(layer, x_np, [layer.scale, layer.bias], upstream)
    ours = _forward_backward(lambda x: F.instance_norm(x, weight, bias), x_np, [weight, bias], upstream)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("groups", [1, 2, 8])
@pytest.mark.parametrize("shape,data_format", [((3, 8, 5, 6), "NCHW"), ((3, 5, 6, 8), "NHWC"), ((5, 8), "NCHW")])
def test_group_norm_matches_paddle(groups, shape, data_format):
    layer = nn.GroupNorm(groups, 8, data_format=data_format)
    layer.weight.set_value(_random([8], 0.5, 1.0))
    layer.bias.set_value(_random([8], 0.5, 0.0))
    weight = paddle.to_tensor(layer.weight.numpy(), stop_gradient=False)
    bias = paddle.to_tensor(layer.bias.numpy(), stop_gradient=False)
    x_np, upstream = _random(shape), _random(shape, 1.0, 0.0)
    theirs = _forward_backward(layer, x_np, [layer.weight, layer.bias], upstream)
    ours = _forward_backward(lambda x: F.group_norm(x, groups, weight, bias, data_format=data_format),
                             x_np, [weight, bias], upstream)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("mode", F.DROPOUT_MODES)
@pytest.mark.parametrize("axis", [None, [0, 1]])
def test_dropout_matches_paddle_given_paddles_mask(mode, axis):
    p = 0.4
    x_np = np.abs(_random((6, 5, 4, 3))) + 0.1  # no zeros, so the mask can be read off the output
    upstream = _random(x_np.shape, 1.0, 0.0)
    theirs = _forward_backward(lambda x: paddle.nn.functional.dropout(x, p, axis=axis, mode=mode), x_np, [], upstream)
    mask = paddle.to_tensor((theirs[0] != 0).astype("float32"))
    if axis is not None:  # one decision per (sample, channel), shared over H and W
        assert np.all(mask.numpy() == mask.numpy()[:, :, :1, :1])
    ours = _forward_backward(lambda x: F.dropout(x, p, mode=mode, mask=mask), x_np, [], upstream)
    _assert_same(ours, theirs)
    layer = nn.Dropout(p, mode=mode)
    layer.eval()
    np.testing.assert_allclose(F.dropout(paddle.to_tensor(x_np), p, training=False, mode=mode).numpy(),
                               layer(paddle.to_tensor(x_np)).numpy(), atol=TOL)


@pytest.mark.parametrize("mode", F.DROPOUT_MODES)
def test_dropout_train_mean_equals_eval_output(mode):
    p, x = 0.3, paddle.to_tensor(_random((200, 50)))
    draws = np.stack([F.dropout(x, p, mode=mode).numpy() for _ in range(200)])
    eval_out = F.dropout(x, p, training=False, mode=mode).numpy()
    keep_rate = (draws != 0).mean()
    assert abs(keep_rate - (1 - p)) < 0.005  # 2,000,000 Bernoulli draws: standard error 0.0003
    assert abs(draws.mean() - eval_out.mean()) < 0.02


def test_dropout_axis_drops_whole_channels():
    mask = F.dropout_mask([64, 32, 5, 5], 0.5, axis=[0, 1]).numpy()
    assert mask.shape == (64, 32, 1, 1)
    assert 0.45 < mask.mean() < 0.55


def test_dropout_rejects_bad_arguments():
    x = paddle.ones([2, 2])
    with pytest.raises(ValueError, match="mode"):
        F.dropout(x, 0.5, mode="upscale")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout(x, 1.5)
