"""Fold eval-mode BatchNorm into the convolution that feeds it, for inference.

In eval mode BatchNorm is an affine map per channel: ``y = gamma * (x - mean) / sqrt(var + eps) + beta``.
When ``x = conv(z) = W * z + b`` this is again a convolution with

    W' = W * s,   b' = (b - mean) * s + beta,   s = gamma / sqrt(var + eps)   (per output channel)

so the BatchNorm layer can be replaced by an identity. For channels-last convolutions (``NHWC``,
``NLC``, ``NDHWC``) the folded bias is not given to the convolution: Paddle adds a conv's bias as a
``[1, 1, 1, C]`` tensor, which oneDNN's inference passes (conv + bias + activation fusion) broadcast
against the conv output in ``NCHW`` order and refuse (``Broadcast dimension mismatch``). The
convolution then keeps only the scaled weight and the BatchNorm is replaced by :class:`ChannelBias`,
a rank-1 ``[C]`` bias that broadcasts over the last axis and that oneDNN handles.

Which BatchNorm follows which convolution is found by running one forward pass with hooks: a
BatchNorm whose input tensor *is* a convolution's output tensor is folded into that convolution.
Pre-activation layouts (norm -> act -> conv, as in DenseNet's dense layers) have no such pair and
are left alone. GroupNorm / LayerNorm / InstanceNorm
depend on each input's own statistics and can never be folded; a batch norm that takes a padding mask
(``MaskedBatchNorm1D``) also zeroes the padded steps, so it is left alone too.

Hooks see which layer consumes a tensor, not plain tensor arithmetic: a conv output that feeds two
batch norms is left unfolded, but one that feeds a batch norm *and* an addition outside any layer
would be folded wrongly. No ppnorm model does that, and tools/export.py compares the folded model
with the original before writing anything.
"""
from __future__ import annotations

from typing import List, Tuple

import paddle
import paddle.nn as nn

from ..compat import kept_training_modes
from .norm_layers import is_batch_norm, norm_epsilon, running_stats

_CONVS = (nn.Conv1D, nn.Conv2D, nn.Conv3D)


def find_conv_norm_pairs(model: nn.Layer, example_input: paddle.Tensor) -> List[Tuple[str, str]]:
    """``[(conv_name, norm_name), ...]``: batch norms whose input is exactly a convolution's output."""
    names = {id(layer): name for name, layer in model.named_sublayers()}
    produced_by = {}
    pairs = []

    def after_conv(layer, inputs, output):
        produced_by[id(output)] = (layer, output)  # keep the tensor alive so its id stays unique

    def before_norm(layer, inputs):
        source = produced_by.get(id(inputs[0]))
        if source is not None and source[1] is inputs[0]:
            pairs.append((names[id(source[0])], names[id(layer)]))

    hooks = []
    for layer in model.sublayers():
        if isinstance(layer, _CONVS):  # not Conv*DTranspose: their weight layout is [in, out, ...]
            hooks.append(layer.register_forward_post_hook(after_conv))
        elif is_batch_norm(layer, with_mask=False):
            hooks.append(layer.register_forward_pre_hook(before_norm))
    try:
        with kept_training_modes(model, training=False), paddle.no_grad():
            model(example_input)
    finally:
        for hook in hooks:
            hook.remove()
    convs = [conv for conv, _ in pairs]
    shared = {conv for conv in convs if convs.count(conv) > 1}
    return [(conv, norm) for conv, norm in pairs if conv not in shared]


class ChannelBias(nn.Layer):
    """``x + bias`` with a ``[C]`` bias on the last (channel) axis: the folded shift of a channels-last conv."""

    def __init__(self, bias: paddle.Tensor) -> None:
        super().__init__()
        self.bias = self.create_parameter([int(bias.shape[0])], dtype=bias.dtype, is_bias=True)
        self.bias.set_value(bias)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x + self.bias


def _channels_last(conv):
    return getattr(conv, "_data_format", "NCHW")[-1] == "C"


def fold_batch_norm(conv: nn.Layer, norm: nn.Layer) -> nn.Layer:
    """Fold eval-mode ``norm`` into ``conv`` in place; returns the layer that replaces ``norm``.

    That is ``nn.Identity()`` when the folded bias went into ``conv``, or a :class:`ChannelBias`
    holding it for a channels-last ``conv`` (whose own bias, if any, is folded in and removed).
    """
    running_mean, running_var = running_stats(norm)
    std = paddle.sqrt(running_var + norm_epsilon(norm))
    gamma = norm.weight if norm.weight is not None else paddle.ones_like(std)
    beta = norm.bias if norm.bias is not None else paddle.zeros_like(std)
    scale = gamma / std
    with paddle.no_grad():
        weight = conv.weight * scale.reshape([-1] + [1] * (conv.weight.ndim - 1))
        bias = conv.bias if conv.bias is not None else paddle.zeros_like(std)
        new_bias = (bias - running_mean) * scale + beta
        conv.weight.set_value(weight)
        if _channels_last(conv):
            conv.bias = None
            return ChannelBias(new_bias)
        if conv.bias is None:
            conv.bias = conv.create_parameter([int(std.shape[0])], dtype=conv.weight.dtype, is_bias=True)
        conv.bias.set_value(new_bias)
    return nn.Identity()


def _replace(model, dotted, new_layer):
    parent = model
    *path, last = dotted.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, last, new_layer)


def fuse_conv_bn(model: nn.Layer, example_input: paddle.Tensor) -> List[Tuple[str, str]]:
    """Fold every batch norm that directly follows a convolution; returns the folded ``(conv, norm)`` names.

    Works in place on ``model`` (copy it first to keep the original), which is left in eval mode.
    ``example_input`` is any batch of the right shape; it only traces which layer feeds which.
    """
    pairs = find_conv_norm_pairs(model, example_input)
    layers = dict(model.named_sublayers())
    for conv_name, norm_name in pairs:
        _replace(model, norm_name, fold_batch_norm(layers[conv_name], layers[norm_name]))
    model.eval()
    return pairs
