"""Activation and dropout factories and the conv + norm + act block shared by every model."""
import paddle.nn as nn

from ..registry import Registry
from .functional import DROPOUT_MODES
from .norm import NORMS, build_norm, check_layout, check_norm_options

ACTIVATIONS = Registry("activation", ordered=True)  # name -> layer class; add one with ACTIVATIONS.register
for _name, _layer in (("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh), ("leaky_relu", nn.LeakyReLU),
                      ("gelu", nn.GELU), ("silu", nn.Silu), ("swish", nn.Swish), ("elu", nn.ELU),
                      ("hardswish", nn.Hardswish), ("identity", nn.Identity)):
    ACTIVATIONS.register(_name, _layer)


def build_act(name):
    """An activation layer by name (``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ``gelu``, ...)."""
    return ACTIVATIONS.build(name)


def build_dropout(p, mode="upscale_in_train"):
    """``nn.Dropout(p, mode)`` (p = drop probability), or Identity when p is 0."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout must be a drop probability in [0, 1), got {p}")
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout_mode must be one of {', '.join(DROPOUT_MODES)}, got '{mode}'")
    return nn.Dropout(p, mode=mode) if p > 0 else nn.Identity()


class NormSpec:
    """Which norm to build, with its options; models pass one of these down instead of a class.

    The kind, layout and option names/values are checked here, once; whether ``groups`` divides a
    layer's channels is checked when that layer is built, and the error names its channel count.
    """

    def __init__(self, kind="bn", options=None, data_format="NCHW", dims=2):
        NORMS.lookup(kind)
        self.kind = kind
        self.options = check_norm_options(options)
        self.dims = dims
        self.data_format = check_layout(dims, data_format)

    def __call__(self, num_channels):
        return build_norm(self.kind, num_channels, dims=self.dims, data_format=self.data_format, **self.options)


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
