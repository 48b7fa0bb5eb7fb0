"""From-scratch normalization and dropout, in plain paddle ops, written to be read.

Every function here is checked against ``paddle.nn`` in ``tests/test_functional.py`` (outputs,
input gradients, gamma/beta gradients, running statistics). The notation follows the BN paper:

    mu    = mean(x over the normalized axes)
    var   = mean((x - mu)^2 over the same axes)      # biased: divide by m, not m - 1
    x_hat = (x - mu) / sqrt(var + epsilon)
    y     = gamma * x_hat + beta                     # gamma, beta: one per channel (per feature)

The four norms differ only in *which axes* mu and var are taken over, for x of shape [N, C, H, W]:
batch norm over (N, H, W), layer norm over (C, H, W), instance norm over (H, W),
group norm over (C/G, H, W) inside each of G channel groups.
"""
import paddle

DROPOUT_MODES = ("upscale_in_train", "downscale_in_infer")


def _channel_axis(ndim, data_format):
    return ndim - 1 if data_format.endswith("C") else 1


def _per_channel(t, ndim, channel_axis):
    """Reshape a [C] vector so it broadcasts along channel_axis of an ndim tensor."""
    shape = [1] * ndim
    shape[channel_axis] = -1
    return t.reshape(shape)


def _normalize(x, axes, epsilon):
    """(x - mean) / sqrt(biased var + eps) over ``axes``; also returns mean and biased var."""
    mu = x.mean(axis=axes, keepdim=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdim=True)
    return (x - mu) / paddle.sqrt(var + epsilon), mu, var


def _affine(x_hat, weight, bias, channel_axis):
    y = x_hat
    if weight is not None:
        y = y * _per_channel(weight, x_hat.ndim, channel_axis)
    if bias is not None:
        y = y + _per_channel(bias, x_hat.ndim, channel_axis)
    return y


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.9,
               epsilon=1e-5, data_format="NCHW", use_global_stats=None):
    """Batch normalization; returns ``(y, new_running_mean, new_running_var)``.

    Train mode normalizes with the statistics of this batch (per channel over N and all spatial
    positions) and moves the running statistics toward them, Paddle's way:
    ``running = momentum * running + (1 - momentum) * batch`` with the *biased* batch variance.
    Eval mode (or ``use_global_stats=True``) normalizes with the running statistics.
    Like Paddle, a training batch with a single value per channel is passed through unchanged
    and leaves the running statistics alone (its variance would be 0).
    """
    channel_axis = _channel_axis(x.ndim, data_format)
    axes = [a for a in range(x.ndim) if a != channel_axis]
    use_batch_stats = training if use_global_stats is None else not use_global_stats
    if not use_batch_stats:
        mean = _per_channel(running_mean, x.ndim, channel_axis)
        var = _per_channel(running_var, x.ndim, channel_axis)
        x_hat = (x - mean) / paddle.sqrt(var + epsilon)
        return _affine(x_hat, weight, bias, channel_axis), running_mean, running_var
    values_per_channel = x.size // x.shape[channel_axis]
    if values_per_channel == 1:
        return x, running_mean, running_var
    x_hat, mu, var = _normalize(x, axes, epsilon)
    new_mean = momentum * running_mean + (1.0 - momentum) * mu.reshape([-1]).detach()
    new_var = momentum * running_var + (1.0 - momentum) * var.reshape([-1]).detach()
    return _affine(x_hat, weight, bias, channel_axis), new_mean, new_var


def layer_norm(x, normalized_shape, weight=None, bias=None, epsilon=1e-5):
    """Layer normalization over the last ``len(normalized_shape)`` axes of each sample.

    ``weight``/``bias`` have shape ``normalized_shape`` (elementwise affine), as in ``paddle.nn.LayerNorm``.
    """
    if isinstance(normalized_shape, int):
        normalized_shape = [normalized_shape]
    axes = list(range(x.ndim - len(normalized_shape), x.ndim))
    y, _, _ = _normalize(x, axes, epsilon)
    if weight is not None:
        y = y * weight.reshape(normalized_shape)
    if bias is not None:
        y = y + bias.reshape(normalized_shape)
    return y


def instance_norm(x, weight=None, bias=None, epsilon=1e-5):
    """Instance normalization of a channels-first tensor: each (sample, channel) over its spatial axes."""
    y, _, _ = _normalize(x, list(range(2, x.ndim)), epsilon)
    return _affine(y, weight, bias, 1)


def group_norm(x, groups, weight=None, bias=None, epsilon=1e-5, data_format="NCHW"):
    """Group normalization: split C into ``groups`` groups, normalize each sample's group over (C/G, spatial).

    ``groups=1`` is layer norm over (C, H, W); ``groups=C`` is instance norm.
    """
    channel_axis = _channel_axis(x.ndim, data_format)
    xc = x if channel_axis == 1 else paddle.moveaxis(x, channel_axis, 1)
    n, c = xc.shape[0], xc.shape[1]
    if c % groups:
        raise ValueError(f"group_norm: channels={c} is not divisible by groups={groups}")
    grouped = xc.reshape([n, groups, c // groups, -1])
    y, _, _ = _normalize(grouped, [2, 3], epsilon)
    y = _affine(y.reshape(xc.shape), weight, bias, 1)
    return y if channel_axis == 1 else paddle.moveaxis(y, 1, channel_axis)


def dropout_mask(shape, p, axis=None):
    """A {0, 1} float mask that keeps each entry with probability 1 - p.

    With ``axis`` (Paddle's meaning), one decision is drawn per index of those axes and shared
    along the others: for [N, C, H, W] and ``axis=[0, 1]`` whole channels are dropped.
    """
    if axis is not None:
        axis = [axis] if isinstance(axis, int) else list(axis)
        shape = [s if i in axis else 1 for i, s in enumerate(shape)]
    return paddle.bernoulli(paddle.full(shape, 1.0 - p, dtype="float32"))


def dropout(x, p=0.5, training=True, mode="upscale_in_train", axis=None, mask=None):
    """Dropout; ``p`` is the probability of *dropping* an entry.

    ============  ==================  ==============
    mode          train               eval
    ============  ==================  ==============
    upscale       x * mask / (1 - p)  x
    downscale     x * mask            x * (1 - p)
    ============  ==================  ==============

    Both keep the expected train-mode output equal to the eval output. ``mask`` may be given to
    reproduce a particular draw; otherwise one is drawn with :func:`dropout_mask`.
    """
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout mode must be one of {DROPOUT_MODES}, got '{mode}'")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")
    if not training:
        return x if mode == "upscale_in_train" else x * (1.0 - p)
    if mask is None:
        mask = dropout_mask(x.shape, p, axis)
    mask = mask.astype(x.dtype)
    if mode == "downscale_in_infer":
        return x * mask
    if p == 1.0:
        return x * 0.0
    return x * mask / (1.0 - p)
