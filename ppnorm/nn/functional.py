"""From-scratch normalization and dropout, in plain paddle ops, written to be read.

Every function here is checked against ``paddle.nn`` in ``tests/test_functional*.py`` (outputs,
input gradients, gamma/beta gradients, running statistics, static graphs). The notation follows
the BN paper:

    mu    = mean(x over the normalized axes)
    var   = mean((x - mu)^2 over the same axes)      # biased: divide by m, not m - 1
    x_hat = (x - mu) / sqrt(var + epsilon)
    y     = gamma * x_hat + beta                     # gamma, beta: one per channel (per feature)

The four norms differ only in *which axes* mu and var are taken over, for x of shape [N, C, H, W]:
batch norm over (N, H, W), layer norm over (C, H, W), instance norm over (H, W),
group norm over (C/G, H, W) inside each of G channel groups.

The functions work in eager mode, under ``paddle.jit.to_static`` and in ``paddle.enable_static()``
programs (no Python branch depends on a tensor's value; unknown static dims are read at run time).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import paddle

DROPOUT_MODES = ("upscale_in_train", "downscale_in_infer")
DATA_FORMATS = ("NC", "NCL", "NLC", "NCHW", "NHWC", "NCDHW", "NDHWC")  # Paddle's spellings (upper case)


def _channel_axis(ndim, data_format):
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {', '.join(DATA_FORMATS)}, got {data_format!r}")
    return ndim - 1 if data_format.endswith("C") else 1


def _check_has_channels(name, x):
    if x.ndim < 2:
        raise ValueError(f"{name} expects x of rank >= 2 ([N, C, *spatial], or channels last), "
                         f"got rank {x.ndim}, shape {list(x.shape)}")


def _shape_of(x):
    """x's shape: a list in eager mode, a Tensor in a static graph (where some dims may be unknown)."""
    return x.shape if paddle.in_dynamic_mode() else paddle.shape(x)


def _per_channel(t, ndim, channel_axis):
    """Reshape a [C] vector so it broadcasts along channel_axis of an ndim tensor."""
    shape = [1] * ndim
    shape[channel_axis] = -1
    return t.reshape(shape)


def _normalize(x, axes, epsilon):
    """(x - mean) / sqrt(biased var + eps) over ``axes``; also returns mean and biased var.

    Computed in float64 and cast back to x's dtype. In float32, sums over millions of values
    drift: at [1000000, 4, 4] batch-norm outputs were off by ~1e-2 and the gradient of
    ``sum(y)`` (exactly 0) came out ~1e-3; now both are at float32 rounding. The variance takes
    a second pass over the centred values, never E[x^2] - E[x]^2, which cancels when |mean| >> std.
    The price: float64 temporaries of x's size, ~1.1x the float32 time (CPU, forward + backward).
    """
    x64 = x.astype("float64")
    mu = x64.mean(axis=axes, keepdim=True)
    centered = x64 - mu
    var = (centered * centered).mean(axis=axes, keepdim=True)
    x_hat = centered * paddle.rsqrt(var + epsilon)
    return x_hat.astype(x.dtype), mu.astype(x.dtype), var.astype(x.dtype)


def _affine(x_hat, weight, bias, channel_axis):
    y = x_hat
    if weight is not None:
        y = y * _per_channel(weight, x_hat.ndim, channel_axis)
    if bias is not None:
        y = y + _per_channel(bias, x_hat.ndim, channel_axis)
    return y


@paddle.jit.not_to_static  # reads the graph's static shape (-1 = unknown), not the run-time one
def _one_value_per_channel(x, channel_axis):
    """Whether each channel holds a single value: a bool, or a bool Tensor if a static dim is unknown."""
    dims = [d for axis, d in enumerate(x.shape) if axis != channel_axis]
    known = math.prod(d for d in dims if d >= 0)
    if known > 1 or -1 not in dims:
        return known == 1
    shape = paddle.shape(x)
    return paddle.prod(shape) == shape[channel_axis]


def batch_norm(x: paddle.Tensor, running_mean: paddle.Tensor, running_var: paddle.Tensor,
               weight: Optional[paddle.Tensor] = None, bias: Optional[paddle.Tensor] = None, training: bool = True,
               momentum: float = 0.9, epsilon: float = 1e-5, data_format: str = "NCHW",
               use_global_stats: Optional[bool] = None) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
    """Batch normalization; returns ``(y, new_running_mean, new_running_var)``.

    Train mode normalizes with the statistics of this batch (per channel over N and all spatial
    positions) and moves the running statistics toward them, Paddle's way:
    ``running = momentum * running + (1 - momentum) * batch`` with the *biased* batch variance.
    Eval mode (or ``use_global_stats=True``) normalizes with the running statistics.
    Like Paddle, a training batch with a single value per channel is passed through unchanged
    and leaves the running statistics alone (its variance would be 0).
    """
    _check_has_channels("batch_norm", x)
    channel_axis = _channel_axis(x.ndim, data_format)
    use_batch_stats = training if use_global_stats is None else not use_global_stats
    if not use_batch_stats:
        mean = _per_channel(running_mean, x.ndim, channel_axis)
        var = _per_channel(running_var, x.ndim, channel_axis)
        x_hat = (x - mean) / paddle.sqrt(var + epsilon)
        return _affine(x_hat, weight, bias, channel_axis), running_mean, running_var
    single = _one_value_per_channel(x, channel_axis)
    if single is True:
        return x, running_mean, running_var
    x_hat, mu, var = _normalize(x, [a for a in range(x.ndim) if a != channel_axis], epsilon)
    outputs = (_affine(x_hat, weight, bias, channel_axis),
               momentum * running_mean + (1.0 - momentum) * mu.reshape([-1]).detach(),
               momentum * running_var + (1.0 - momentum) * var.reshape([-1]).detach())
    if single is False:
        return outputs
    # a static graph with an unknown dim: choose at run time, as Paddle's kernel does
    return tuple(paddle.where(single, keep, new) for keep, new in zip((x, running_mean, running_var), outputs))


@paddle.jit.not_to_static
def _checked_normalized_shape(x, normalized_shape):
    """normalized_shape as a list, checked to be the last 1 to ndim - 1 dims of x (-1: unknown, accepted)."""
    shape = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    trailing = x.shape[x.ndim - len(shape):] if 0 < len(shape) < x.ndim else None
    if trailing is None or any(d not in (-1, n) for d, n in zip(trailing, shape)):
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dims of the input shape "
                         f"{list(x.shape)}, 1 to {x.ndim - 1} of them (the batch axis is never normalized)")
    return shape


def layer_norm(x: paddle.Tensor, normalized_shape: Union[int, Sequence[int]], weight: Optional[paddle.Tensor] = None,
               bias: Optional[paddle.Tensor] = None, epsilon: float = 1e-5) -> paddle.Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` axes of each sample.

    ``normalized_shape`` must equal those trailing dims of x; ``weight``/``bias`` hold one value
    per normalized element (any shape of that size), as in ``paddle.nn.LayerNorm``.
    """
    shape = _checked_normalized_shape(x, normalized_shape)
    y, _, _ = _normalize(x, list(range(x.ndim - len(shape), x.ndim)), epsilon)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def instance_norm(x: paddle.Tensor, weight: Optional[paddle.Tensor] = None, bias: Optional[paddle.Tensor] = None,
                  epsilon: float = 1e-5, data_format: str = "NCHW") -> paddle.Tensor:
    """Instance normalization: each (sample, channel) over its own spatial positions.

    On an [N, C] input each (sample, channel) is a single value, so x_hat is 0 and the output is
    the bias, as in Paddle. Like Paddle's, it never uses running statistics.
    """
    _check_has_channels("instance_norm", x)
    channel_axis = _channel_axis(x.ndim, data_format)
    spatial = [a for a in range(1, x.ndim) if a != channel_axis]
    if not spatial:  # normalize each value over an axis of size 1 (an empty axis list means "all")
        x_hat = _normalize(x.unsqueeze(-1), [x.ndim], epsilon)[0].squeeze(-1)
    else:
        x_hat = _normalize(x, spatial, epsilon)[0]
    return _affine(x_hat, weight, bias, channel_axis)


def group_norm(x: paddle.Tensor, groups: int, weight: Optional[paddle.Tensor] = None,
               bias: Optional[paddle.Tensor] = None, epsilon: float = 1e-5, data_format: str = "NCHW") -> paddle.Tensor:
    """Group normalization: split C into ``groups`` groups, normalize each sample's group over (C/G, spatial).

    ``groups=1`` is layer norm over (C, H, W); ``groups=C`` is instance norm.
    """
    _check_has_channels("group_norm", x)
    channel_axis = _channel_axis(x.ndim, data_format)
    xc = x if channel_axis == 1 else paddle.moveaxis(x, channel_axis, 1)
    c = xc.shape[1]
    if not (isinstance(groups, int) and groups >= 1 and c % groups == 0):  # so groups <= c too
        raise ValueError(f"group_norm: groups must be an integer from 1 to channels={c} that divides it, got {groups}")
    grouped = xc.reshape([0, groups, -1])  # [N, G, C/G * spatial]; 0 keeps N, even when unknown
    y, _, _ = _normalize(grouped, [2], epsilon)
    y = _affine(y.reshape(_shape_of(xc)), weight, bias, 1)
    return y if channel_axis == 1 else paddle.moveaxis(y, 1, channel_axis)


def rms_norm(x: paddle.Tensor, weight: Optional[paddle.Tensor] = None, bias: Optional[paddle.Tensor] = None,
             epsilon: float = 1e-5, data_format: str = "NCHW") -> paddle.Tensor:
    """RMS normalization (Zhang & Sennrich 2019): each sample divided by the root mean square of all its values,
    ``x / sqrt(mean(x^2) + epsilon)`` (scale in float64, then cast: oneDNN inference broadcasts float64 wrongly,
    an exported model's logits were off by ~1e10), then the per-channel gamma and beta."""
    _check_has_channels("rms_norm", x)
    x64 = x.astype("float64")
    scale = paddle.rsqrt((x64 * x64).mean(axis=list(range(1, x.ndim)), keepdim=True) + epsilon)
    x_hat = x * scale.astype(x.dtype)
    return _affine(x_hat, weight, bias, _channel_axis(x.ndim, data_format))


def _dropout_axes(axis, ndim):
    """Check Paddle's ``axis`` argument of dropout: distinct axes of the input, in [0, ndim)."""
    axes = [axis] if isinstance(axis, int) else list(axis)
    if not axes or len(set(axes)) != len(axes) or not all(isinstance(a, int) and 0 <= a < ndim for a in axes):
        raise ValueError(f"dropout: axis must be distinct integers in [0, {ndim}) for a rank-{ndim} input, got {axis}")
    return axes


def dropout_mask(x: paddle.Tensor, p: float, axis: Union[int, Sequence[int], None] = None) -> paddle.Tensor:
    """A {0, 1} float32 mask for x that keeps each entry with probability 1 - p.

    With ``axis`` (Paddle's meaning), one decision is drawn per index of those axes and shared
    along the others: for [N, C, H, W] and ``axis=[0, 1]`` the mask is [N, C, 1, 1] and whole
    channels are dropped.
    """
    if axis is not None:
        axes = _dropout_axes(axis, x.ndim)
        x = x[tuple(slice(None) if a in axes else slice(0, 1) for a in range(x.ndim))]
    return paddle.bernoulli(paddle.full(_shape_of(x), 1.0 - p, dtype="float32"))


def dropout(x: paddle.Tensor, p: float = 0.5, training: bool = True, mode: str = "upscale_in_train",
            axis: Union[int, Sequence[int], None] = None, mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
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
    if axis is not None:
        _dropout_axes(axis, x.ndim)
    if not training:
        return x if mode == "upscale_in_train" else x * (1.0 - p)
    if mask is None:
        mask = dropout_mask(x, p, axis)
    mask = mask.astype(x.dtype)
    if mode == "downscale_in_infer":
        return x * mask
    if p == 1.0:
        return x * 0.0
    return x * mask / (1.0 - p)
