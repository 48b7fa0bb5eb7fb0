"""Activation and dropout factories and the conv + norm + act block shared by every model."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import paddle
import paddle.nn as nn

from ..registry import Registry, did_you_mean
from .functional import DROPOUT_MODES
from .norm import NORMS, build_norm, check_layout, check_norm_options

ACTIVATIONS = Registry("activation", ordered=True)  # name -> layer class; add one with ACTIVATIONS.register
for _name, _layer in (("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh), ("leaky_relu", nn.LeakyReLU),
                      ("gelu", nn.GELU), ("silu", nn.Silu), ("swish", nn.Swish), ("elu", nn.ELU),
                      ("hardswish", nn.Hardswish), ("identity", nn.Identity)):
    ACTIVATIONS.register(_name, _layer)


def build_act(name: str) -> nn.Layer:
    """An activation layer by name (``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ``gelu``, ...)."""
    return ACTIVATIONS.build(name)


def build_dropout(p: float, mode: str = "upscale_in_train") -> nn.Layer:
    """``nn.Dropout(p, mode)`` (p = drop probability), or Identity when p is 0."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout must be a drop probability in [0, 1), got {p}")
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout_mode must be one of {', '.join(DROPOUT_MODES)}, got '{mode}'")
    return nn.Dropout(p, mode=mode) if p > 0 else nn.Identity()


NORM_POSITIONS = ("before_act", "after_act")


def check_norm_position(position: str) -> str:
    """Return ``position`` if it is one of :data:`NORM_POSITIONS`, else raise a one-line ``ValueError``."""
    if position not in NORM_POSITIONS:
        raise ValueError(f"norm_position must be one of {', '.join(NORM_POSITIONS)}, got {position!r}"
                         f"{did_you_mean(position, NORM_POSITIONS)}")
    return position


class NormSpec:
    """Which norm to build, with its options, and where it sits; models pass one of these down instead of a class.

    The kind, layout, option names/values and ``position`` are checked here, once; whether ``groups``
    divides a layer's channels is checked when that layer is built, and the error names its channel count.
    ``position``: ``before_act`` (linear/conv -> norm -> act, the BN paper's order) or ``after_act``
    (linear/conv -> act -> norm); :meth:`order` is the one place that decides the order.
    """

    def __init__(self, kind: str = "bn", options: Optional[dict] = None, data_format: Optional[str] = "NCHW",
                 dims: int = 2, position: str = "before_act") -> None:
        NORMS.lookup(kind)
        self.position = check_norm_position(position)
        self.kind = kind
        self.options = check_norm_options(options)
        self.dims = dims
        self.data_format = check_layout(dims, data_format)

    def __call__(self, num_channels: int) -> nn.Layer:
        return build_norm(self.kind, num_channels, dims=self.dims, data_format=self.data_format, **self.options)

    def order(self, norm: Any, act: Any) -> Tuple[Any, Any]:
        """``(norm, act)`` or ``(act, norm)``: the two (layers or named layers) in the order they are applied."""
        return (norm, act) if self.position == "before_act" else (act, norm)

    def bias_attr(self, without_norm: Optional[bool] = False) -> Optional[bool]:
        """``bias_attr`` of the linear/conv layer this norm follows: ``False`` (no bias) when the norm comes
        straight after it, since its shift replaces a bias; with ``after_act`` the activation sits between, so
        the layer keeps its bias (``None``). ``without_norm`` is the choice for kind ``none`` (linear layers
        keep a bias, convs do not, as ppnorm's models always did)."""
        if self.position == "after_act":
            return None
        return without_norm if self.kind == "none" else False

    def norm_act(self, x: paddle.Tensor, norm: nn.Layer, act: nn.Layer) -> paddle.Tensor:
        """``act(norm(x))`` or ``norm(act(x))``, as :meth:`order` says."""
        for layer in self.order(norm, act):
            x = layer(x)
        return x


class ConvNormAct(nn.Sequential):
    """conv -> norm -> act, or conv -> act -> norm when ``norm.position`` is ``after_act`` (``act=None`` leaves
    the activation out). Sub-layers: conv, norm, act (the names, hence the state-dict keys, do not depend on
    the order). The conv has a bias only in the ``after_act`` order (see :meth:`NormSpec.bias_attr`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, norm: NormSpec, stride: int = 1,
                 act: Optional[str] = None, data_format: str = "NCHW") -> None:
        conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                         bias_attr=norm.bias_attr() if act else False, data_format=data_format)
        named_norm = ("norm", norm(out_channels))
        super().__init__(("conv", conv), *(norm.order(named_norm, ("act", build_act(act))) if act else [named_norm]))


class NormActConv(nn.Sequential):
    """Pre-activation order norm -> act -> conv (DenseNet). Sub-layers: norm, act, conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, norm: NormSpec, act: str = "relu",
                 data_format: str = "NCHW") -> None:
        super().__init__(
            ("norm", norm(in_channels)),
            ("act", build_act(act)),
            ("conv", nn.Conv2D(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                               bias_attr=False, data_format=data_format)),
        )
