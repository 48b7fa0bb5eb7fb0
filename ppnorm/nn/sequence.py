"""Norms and pooling for padded sequences ``[N, C, L]`` with a ``[N, L]`` mask (1 = a real time step, 0 = padding).

``masked_batch_norm`` computes BatchNorm statistics over the valid positions only; plain BatchNorm1D
(``build_norm("bn", C, dims=1)``) counts the padding. ``TimeLayerNorm`` is LayerNorm over the channels of
each time step (Ba, Kiros & Hinton 2016): it never looks at other samples or other time steps.
"""
from __future__ import annotations

from typing import Optional, Tuple

import paddle
import paddle.nn as nn

from .norm_layers import norm_layer


def masked_mean(x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """Mean of ``x [N, C, L]`` over the valid time steps of each sample: ``[N, C]``."""
    m = mask.unsqueeze(1)
    return (x * m).sum(axis=2) / m.sum(axis=2).clip(min=1.0)


def masked_batch_norm(x: paddle.Tensor, mask: paddle.Tensor, weight: Optional[paddle.Tensor] = None,
                      bias: Optional[paddle.Tensor] = None,
                      epsilon: float = 1e-5) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
    """BatchNorm of ``x [N, C, L]`` with per-channel statistics over the valid positions only.

    Returns ``(y, mean, var)``; ``y`` is zero at padded positions, ``var`` is the biased variance.
    """
    m = mask.unsqueeze(1)
    count = m.sum().clip(min=1.0)
    mean = (x * m).sum(axis=[0, 2]) / count
    centred = (x - mean.reshape([1, -1, 1])) * m
    var = (centred * centred).sum(axis=[0, 2]) / count
    y = centred / paddle.sqrt(var + epsilon).reshape([1, -1, 1])
    if weight is not None:
        y = y * weight.reshape([1, -1, 1]) + bias.reshape([1, -1, 1])
    return y * m, mean, var


@norm_layer(batch_stats=True, takes_mask=True)
class MaskedBatchNorm1D(nn.Layer):
    """BatchNorm over the valid positions of a padded batch; running stats updated as in Paddle
    (``running = momentum * running + (1 - momentum) * batch``), used in eval mode. A batch norm to the
    engine (weight decay, cross-rank averaging, the non-finite guard, PreciseBN): it keeps its state under
    Paddle's names (``_mean``, ``_variance``, ``_momentum``, ``_epsilon``; see :mod:`.norm_layers`)."""

    def __init__(self, num_channels: int, momentum: float = 0.9, epsilon: float = 1e-5) -> None:
        super().__init__()
        self._momentum, self._epsilon = momentum, epsilon
        self.weight = self.create_parameter([num_channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([num_channels], is_bias=True)
        self.register_buffer("_mean", paddle.zeros([num_channels]))
        self.register_buffer("_variance", paddle.ones([num_channels]))

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        if not self.training:
            std = paddle.sqrt(self._variance + self._epsilon)
            y = (x - self._mean.reshape([1, -1, 1])) / std.reshape([1, -1, 1])
            return (y * self.weight.reshape([1, -1, 1]) + self.bias.reshape([1, -1, 1])) * mask.unsqueeze(1)
        y, mean, var = masked_batch_norm(x, mask, self.weight, self.bias, self._epsilon)
        with paddle.no_grad():
            self._mean.set_value(self._momentum * self._mean + (1 - self._momentum) * mean)
            self._variance.set_value(self._momentum * self._variance + (1 - self._momentum) * var)
        return y


class TimeLayerNorm(nn.Layer):
    """LayerNorm over the channels of each time step of ``[N, C, L]`` (not over the last axis L)."""

    def __init__(self, num_channels: int, epsilon: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(num_channels, epsilon=epsilon)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.norm(x.transpose([0, 2, 1])).transpose([0, 2, 1])
