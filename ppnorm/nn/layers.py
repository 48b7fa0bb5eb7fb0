"""Activation and dropout factories and the conv + norm + act block shared by every model."""
import difflib

import paddle.nn as nn

from .functional import DROPOUT_MODES
from .norm import build_norm

ACTIVATIONS = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.Silu,
    "swish": nn.Swish,
    "elu": nn.ELU,
    "hardswish": nn.Hardswish,
    "identity": nn.Identity,
}


def build_act(name):
    """An activation layer by name (``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ``gelu``, ...)."""
    if name not in ACTIVATIONS:
        close = difflib.get_close_matches(str(name), ACTIVATIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"unknown activation '{name}'{hint}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def build_dropout(p, mode="upscale_in_train"):
    """``nn.Dropout(p, mode)`` (p = drop probability), or Identity when p is 0."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout must be a drop probability in [0, 1), got {p}")
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout_mode must be one of {', '.join(DROPOUT_MODES)}, got '{mode}'")
    return nn.Dropout(p, mode=mode) if p > 0 else nn.Identity()


class NormSpec:
    """Which norm to build, with its options; models pass one of these down instead of a class."""

    def __init__(self, kind="bn", options=None, data_format="NCHW"):
        self.kind = kind
        self.options = dict(options or {})
        self.data_format = data_format
        build_norm(kind, 32, data_format=data_format, **self.options)  # fail early on a bad spec

    def __call__(self, num_channels):
        return build_norm(self.kind, num_channels, dims=2, data_format=self.data_format, **self.options)


class ConvNormAct(nn.Sequential):
    """conv -> norm -> act (``act=None`` leaves the activation out). Sub-layers: conv, norm, act."""

    def __init__(self, in_channels, out_channels, kernel_size, norm, stride=1, act=None, data_format="NCHW"):
        layers = [
            ("conv", nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=kernel_size // 2, bias_attr=False, data_format=data_format)),
            ("norm", norm(out_channels)),
        ]
        if act:
            layers.append(("act", build_act(act)))
        super().__init__(*layers)


class NormActConv(nn.Sequential):
    """Pre-activation order norm -> act -> conv (DenseNet). Sub-layers: norm, act, conv."""

    def __init__(self, in_channels, out_channels, kernel_size, norm, act="relu", data_format="NCHW"):
        super().__init__(
            ("norm", norm(in_channels)),
            ("act", build_act(act)),
            ("conv", nn.Conv2D(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                               bias_attr=False, data_format=data_format)),
        )
