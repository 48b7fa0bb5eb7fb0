"""The from-scratch norms and dropout against paddle.nn: outputs, input grads, gamma/beta grads, stats."""
import re

import numpy as np
import paddle
import paddle.nn as nn
import pytest

import paddle.nn.functional as PF

import ppnorm.nn.functional as F

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

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


def _outputs_and_grads(fn, arrays, seed):
    """fn's output and paddle.grad of every input under a random upstream gradient (zeros if unused)."""
    inputs = [paddle.to_tensor(a, stop_gradient=False) for a in arrays]
    y = fn(*inputs)
    upstream = paddle.to_tensor(np.random.RandomState(seed).randn(*y.shape).astype("float32"))
    grads = paddle.grad(y, inputs, grad_outputs=upstream, allow_unused=True)
    return [y.numpy()] + [np.zeros(a.shape) if g is None else g.numpy() for g, a in zip(grads, arrays)]


def assert_match(ours, theirs, arrays, tol=TOL, seed=1):
    """ours(*tensors) agrees with theirs(*tensors): the output and the gradient of every input."""
    for name, a, b in zip(["y"] + [f"grad {i}" for i in range(len(arrays))],
                          _outputs_and_grads(ours, arrays, seed), _outputs_and_grads(theirs, arrays, seed)):
        np.testing.assert_allclose(a, b, atol=tol, rtol=tol, err_msg=name)


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


def test_one_value_per_channel_passes_through_like_paddle():
    x = paddle.to_tensor(_random((1, 3, 1, 1)))
    layer = nn.BatchNorm2D(3)
    layer.train()
    y, mean, var = F.batch_norm(x, paddle.zeros([3]), paddle.ones([3]), training=True)
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(layer._mean.numpy(), mean.numpy())
    np.testing.assert_array_equal(layer._variance.numpy(), var.numpy())


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
    mask = F.dropout_mask(paddle.zeros([64, 32, 5, 5]), 0.5, axis=[0, 1]).numpy()
    assert mask.shape == (64, 32, 1, 1)
    assert 0.45 < mask.mean() < 0.55


def test_dropout_rejects_bad_arguments():
    x = paddle.ones([2, 2])
    with pytest.raises(ValueError, match="mode"):
        F.dropout(x, 0.5, mode="upscale")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout(x, 1.5)


def _x_weight_bias(shape, channels):
    return [_random(shape), _random([channels], 0.5, 1.0), _random([channels], 0.5, 0.0)]


@pytest.mark.parametrize("shape,data_format", [((8, 5), "NC"), ((4, 5, 6), "NCL"), ((4, 6, 5), "NLC"),
                                               ((2, 3, 4, 5), "NHWC"), ((2, 3, 2, 2, 5), "NDHWC")])
@pytest.mark.parametrize("training,use_global_stats", [(True, None), (False, None), (True, True), (False, False)])
@pytest.mark.parametrize("epsilon,momentum", [(1e-5, 0.9), (0.5, 0.0), (1e-3, 1.0)])
def test_batch_norm_argument_forms(shape, data_format, training, use_global_stats, epsilon, momentum):
    c = shape[1] if data_format.startswith("NC") else shape[-1]
    mean, var = _random([c], 1.0, 0.5), np.abs(_random([c], 1.0, 2.0))
    kw = dict(training=training, momentum=momentum, epsilon=epsilon, data_format=data_format,
              use_global_stats=use_global_stats)
    theirs_stats, ours_stats = [paddle.to_tensor(mean), paddle.to_tensor(var)], []
    # Paddle's backward in eval mode treats the statistics as constants even when the forward used
    # the batch's (use_global_stats=False); its train mode gives the true gradient of that forward
    their_kw = dict(kw, training=True) if use_global_stats is False else kw

    def ours(x, w, b):
        y, *stats = F.batch_norm(x, paddle.to_tensor(mean), paddle.to_tensor(var), w, b, **kw)
        ours_stats[:] = stats
        return y

    assert_match(ours, lambda x, w, b: PF.batch_norm(x, *theirs_stats, w, b, **their_kw), _x_weight_bias(shape, c))
    for a, b in zip(ours_stats, theirs_stats):  # Paddle updated its (second) pair in place
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL, rtol=TOL)


@pytest.mark.parametrize("shape,normalized_shape", [((2, 3, 4, 5), 5), ((2, 3, 4, 5), [4, 5]),
                                                    ((2, 3, 4, 5), (3, 4, 5)), ((6, 8), [8]), ((2, 6, 8), [6, 8])])
@pytest.mark.parametrize("epsilon", [0.0, 1e-5, 1e-3])  # Paddle's layer_norm refuses epsilon > 1e-3
def test_layer_norm_argument_forms(shape, normalized_shape, epsilon):
    size = int(np.prod(normalized_shape))
    assert_match(lambda x, w, b: F.layer_norm(x, normalized_shape, w, b, epsilon),
                 lambda x, w, b: PF.layer_norm(x, normalized_shape, w, b, epsilon), _x_weight_bias(shape, size))


def channels_first(fn, data_format):
    """Paddle's instance_norm ignores data_format: run it on x with the channels moved to axis 1."""
    if data_format.startswith("NC"):
        return fn
    return lambda x, *args: paddle.moveaxis(fn(paddle.moveaxis(x, -1, 1), *args), 1, -1)


FORMATS = [((3, 4), "NC"), ((2, 4, 5), "NCL"), ((2, 5, 4), "NLC"), ((2, 4, 3, 5), "NCHW"),
           ((2, 3, 5, 4), "NHWC"), ((2, 4, 2, 3, 2), "NCDHW"), ((2, 2, 3, 2, 4), "NDHWC")]


@pytest.mark.parametrize("shape,data_format", FORMATS)
@pytest.mark.parametrize("epsilon", [1e-5, 0.3])
def test_instance_norm_argument_forms(shape, data_format, epsilon):
    arrays = _x_weight_bias(shape, 4)
    theirs = channels_first(lambda x, w, b: PF.instance_norm(x, weight=w, bias=b, eps=epsilon), data_format)
    assert_match(lambda x, w, b: F.instance_norm(x, w, b, epsilon, data_format), theirs, arrays)
    if len(shape) == 2:  # one value per (sample, channel): x_hat is 0, the output is the bias
        np.testing.assert_array_equal(F.instance_norm(*map(paddle.to_tensor, arrays)).numpy(),
                                      np.broadcast_to(arrays[2], shape))


@pytest.mark.parametrize("shape,data_format", [f for f in FORMATS if f[1] != "NC"] + [((3, 4), "NCHW")])
@pytest.mark.parametrize("groups,epsilon", [(1, 1e-5), (2, 1e-5), (4, 1e-5), (2, 0.5)])
def test_group_norm_argument_forms(shape, data_format, groups, epsilon):
    assert_match(lambda x, w, b: F.group_norm(x, groups, w, b, epsilon, data_format),
                 lambda x, w, b: PF.group_norm(x, groups, epsilon, w, b, data_format), _x_weight_bias(shape, 4))


@pytest.mark.parametrize("mode", F.DROPOUT_MODES)
@pytest.mark.parametrize("p,training,axis", [(0.0, True, None), (1.0, True, None), (1.0, True, [0, 2]),
                                             (1.0, False, None), (0.0, False, 1)])
def test_dropout_edge_probabilities(mode, p, training, axis):
    x_np = _random((4, 3, 5))
    x_np[0, 0, 0] = 1e30  # large values must not turn into NaN or Inf when dropped
    assert_match(lambda x: F.dropout(x, p, training, mode, axis),
                 lambda x: PF.dropout(x, p, axis=axis, training=training, mode=mode), [x_np], tol=0)
    y = F.dropout(paddle.to_tensor(x_np), p, training, mode, axis).numpy()
    keep = 0.0 if (p == 1.0 and (training or mode == "downscale_in_infer")) else 1.0
    np.testing.assert_array_equal(y, x_np * keep)


def _np_normalize(x, axes, eps=1e-5):
    x = x.astype("float64")
    mu = x.mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + eps)


def test_default_epsilon_is_1e_5_and_default_p_is_half():
    x_np = (np.random.randn(4, 6, 3, 3) * 3e-3).astype("float32")  # variance ~1e-5: epsilon matters
    x = paddle.to_tensor(x_np)
    cases = [(F.layer_norm(x, [3, 3]), _np_normalize(x_np, (2, 3))),
             (F.instance_norm(x), _np_normalize(x_np, (2, 3))),
             (F.group_norm(x, 2), _np_normalize(x_np.reshape(4, 2, 27), 2).reshape(x_np.shape)),
             (F.batch_norm(x, paddle.zeros([6]), paddle.ones([6]))[0], _np_normalize(x_np, (0, 2, 3)))]
    for ours, expected in cases:
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(F.dropout(x, training=False, mode="downscale_in_infer").numpy(), x_np * 0.5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_keep_the_input_dtype(dtype):
    x = paddle.to_tensor(_random((4, 6, 3, 3)).astype(dtype))
    mask = paddle.to_tensor((np.random.rand(4, 6, 3, 3) < 0.5).astype("float32"))
    outputs = [F.batch_norm(x, paddle.zeros([6], dtype), paddle.ones([6], dtype))[0], F.layer_norm(x, [3]),
               F.instance_norm(x), F.group_norm(x, 3), F.dropout(x, 0.3), F.dropout(x, 0.3, mask=mask)]
    assert [str(y.dtype) for y in outputs] == [f"paddle.{dtype}"] * len(outputs)


def test_dropout_mask_is_float32_whatever_the_default_dtype():
    paddle.set_default_dtype("float64")
    try:
        assert str(F.dropout_mask(paddle.ones([3, 4], "float64"), 0.5).dtype) == "paddle.float32"
    finally:
        paddle.set_default_dtype("float32")


def test_dropout_with_axis_drops_whole_channels_when_it_draws_the_mask():
    y = F.dropout(paddle.ones([32, 8, 3, 3]), 0.5, axis=[0, 1]).numpy()
    assert np.all(y == y[:, :, :1, :1]) and set(np.unique(y)) == {0.0, 2.0}


@pytest.mark.parametrize("name,call", [
    ("batch_norm", lambda x: F.batch_norm(x, paddle.zeros([8]), paddle.ones([8]))),
    ("instance_norm", F.instance_norm), ("group_norm", lambda x: F.group_norm(x, 2))])
def test_rank_errors_name_the_function(name, call):
    message = f"{name} expects x of rank >= 2 ([N, C, *spatial], or channels last), got rank 1, shape [8]"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call(paddle.ones([8]))


@pytest.mark.parametrize("call", [
    lambda x: F.batch_norm(x, paddle.zeros([3]), paddle.ones([3]), data_format="nhwc"),
    lambda x: F.instance_norm(x, data_format="nhwc"),
    lambda x: F.group_norm(x, 3, data_format="NHCW"),
])
def test_a_data_format_paddle_does_not_spell_is_refused_not_read_as_channels_first(call):
    x = paddle.randn([2, 4, 4, 3])
    with pytest.raises(ValueError, match=r"^data_format must be one of NC, NCL, NLC, NCHW, NHWC, NCDHW, NDHWC, "
                                         r"got '(nhwc|NHCW)'$"):
        call(x)
