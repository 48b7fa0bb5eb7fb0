"""The one norm factory: every normalization layer in ppnorm is built here.

Paddle's BatchNorm momentum convention is the opposite of PyTorch's::

    running = momentum * running + (1 - momentum) * batch_statistic   # Paddle, default 0.9
    running = (1 - momentum) * running + momentum * batch_statistic   # PyTorch, default 0.1

so PyTorch's ``momentum=0.1`` is Paddle's ``momentum=0.9`` (see :func:`momentum_from_torch`).
Paddle stores the *biased* batch variance in ``_variance``; PyTorch stores the unbiased one.
"""
import difflib

import paddle.nn as nn

NORM_KINDS = ("bn", "sync_bn", "gn", "ln", "in", "none")

_CHANNELS_LAST = {"NLC", "NHWC", "NDHWC"}
_DATA_FORMATS = {
    1: ("NCL", "NLC", "NC"),
    2: ("NCHW", "NHWC"),
    3: ("NCDHW", "NDHWC"),
}
_BATCH_NORMS = {1: nn.BatchNorm1D, 2: nn.BatchNorm2D, 3: nn.BatchNorm3D}
_INSTANCE_NORMS = {1: nn.InstanceNorm1D, 2: nn.InstanceNorm2D, 3: nn.InstanceNorm3D}


def momentum_from_torch(torch_momentum):
    """Convert a PyTorch BatchNorm momentum (weight of the new batch) to Paddle's (weight of the old value)."""
    if not 0.0 <= float(torch_momentum) <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {torch_momentum}")
    return 1.0 - float(torch_momentum)


def _suggest_groups(num_channels, groups):
    """The divisor of num_channels closest to the requested number of groups."""
    divisors = [d for d in range(1, num_channels + 1) if num_channels % d == 0]
    return min(divisors, key=lambda d: (abs(d - groups), -d))


def _check_kind(kind):
    if kind not in NORM_KINDS:
        close = difflib.get_close_matches(str(kind), NORM_KINDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"unknown norm kind '{kind}'{hint}; valid kinds: {', '.join(NORM_KINDS)}")


def build_norm(kind, num_channels, dims=2, momentum=0.9, epsilon=1e-5, data_format=None,
               affine=True, groups=32):
    """Build a normalization layer.

    Args:
        kind: one of ``bn``, ``sync_bn``, ``gn``, ``ln``, ``in``, ``none``.
        num_channels: number of channels C (features K for ``[N, K]`` input).
        dims: spatial dimensions of the input: 1 for ``[N, K]`` / ``[N, C, L]``, 2 for
            ``[N, C, H, W]``, 3 for ``[N, C, D, H, W]``.
        momentum: Paddle convention (``running = momentum * running + (1 - momentum) * batch``),
            used by ``bn`` and ``sync_bn``.
        epsilon: added to the variance before the square root.
        data_format: Paddle layout string (``NCHW``/``NHWC``, ``NCL``/``NLC``/``NC``, ...);
            defaults to channels-first.
        affine: learn a per-channel scale (gamma) and shift (beta).
        groups: number of groups for ``gn``; must divide ``num_channels``.

    ``ln`` on feature maps normalizes each sample over (C, H, W) with a per-channel affine, i.e.
    GroupNorm with one group (Wu & He 2018); on ``[N, K]`` input (dims=1) it is ``nn.LayerNorm(K)``.
    ``in`` is ``nn.InstanceNorm*D`` (learnable scale/shift, no running statistics); for
    channels-last layouts, which Paddle's InstanceNorm does not support, it is the equivalent
    GroupNorm with one channel per group.
    """
    _check_kind(kind)
    if dims not in _DATA_FORMATS:
        raise ValueError(f"dims must be 1, 2 or 3 (spatial dimensions of the input), got {dims!r}")
    if not isinstance(num_channels, int) or num_channels < 1:
        raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
    data_format = data_format or _DATA_FORMATS[dims][0]
    if data_format not in _DATA_FORMATS[dims]:
        raise ValueError(f"data_format '{data_format}' does not fit dims={dims}; "
                         f"use one of {', '.join(_DATA_FORMATS[dims])}")
    param = None if affine else False

    if kind == "none":
        return nn.Identity()
    if kind == "bn":
        return _BATCH_NORMS[dims](num_channels, momentum=momentum, epsilon=epsilon, weight_attr=param,
                                  bias_attr=param, data_format=data_format)
    if kind == "sync_bn":
        return nn.SyncBatchNorm(num_channels, momentum=momentum, epsilon=epsilon, weight_attr=param,
                                bias_attr=param, data_format=data_format)
    if kind == "gn":
        if not isinstance(groups, int) or groups < 1 or num_channels % groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} is not divisible by groups={groups}; "
                             f"use groups={_suggest_groups(num_channels, groups)} (a divisor of {num_channels})")
        return _group_norm(groups, num_channels, epsilon, param, data_format)
    if kind == "ln":
        if dims == 1:
            return nn.LayerNorm(num_channels, epsilon=epsilon, weight_attr=param, bias_attr=param)
        return _group_norm(1, num_channels, epsilon, param, data_format)
    # kind == "in"
    if data_format in _CHANNELS_LAST:
        return _group_norm(num_channels, num_channels, epsilon, param, data_format)
    return _INSTANCE_NORMS[dims](num_channels, epsilon=epsilon, weight_attr=param, bias_attr=param,
                                 data_format=data_format)


def _group_norm(groups, num_channels, epsilon, param, data_format):
    if data_format == "NC":
        data_format = "NCL"
    return nn.GroupNorm(groups, num_channels, epsilon=epsilon, weight_attr=param, bias_attr=param,
                        data_format=data_format)


def is_batch_norm(layer):
    """True for the batch-norm layers that keep running statistics (BatchNorm1D/2D/3D, SyncBatchNorm)."""
    return isinstance(layer, nn.layer.norm._BatchNormBase)
