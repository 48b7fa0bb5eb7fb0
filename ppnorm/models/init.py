"""Weight initialization schemes shared by all models."""
from __future__ import annotations

import paddle.nn as nn
from paddle.nn.initializer import Constant, KaimingNormal, Normal, XavierNormal

from ..nn.norm import is_norm

INIT_SCHEMES = ("kaiming", "xavier", "normal", "constant")


def _weight_initializer(scheme, std):
    if scheme == "kaiming":
        return KaimingNormal()  # std = sqrt(2 / fan_in)
    if scheme == "xavier":
        return XavierNormal()  # std = sqrt(2 / (fan_in + fan_out))
    if scheme == "normal":
        return Normal(0.0, std)
    if scheme == "constant":
        return Constant(std)  # every weight the same value ``std`` (the symmetry-breaking failure case)
    raise ValueError(f"init must be one of {', '.join(INIT_SCHEMES)}, got '{scheme}'")


def init_weights(model: nn.Layer, scheme: str = "kaiming", std: float = 0.01) -> None:
    """Conv/Linear weights by ``scheme`` (``normal``: N(0, ``std``); ``constant``: all ``std``), their biases 0; norm layers scale 1, shift 0."""
    weight_init = _weight_initializer(scheme, std)
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, (nn.Conv1D, nn.Conv2D, nn.Conv3D, nn.Linear)):
            weight_init(layer.weight)
            if layer.bias is not None:
                Constant(0.0)(layer.bias)
        elif is_norm(layer):
            for name, param in layer.named_parameters(include_sublayers=False):
                if name in ("weight", "scale"):
                    Constant(1.0)(param)
                elif name == "bias":
                    Constant(0.0)(param)


def zero_last_norm(norm_layer: nn.Layer) -> None:
    """Set a norm's scale to 0 so its residual branch starts as the identity (Goyal et al. 2017)."""
    weight = getattr(norm_layer, "weight", None)
    if weight is None:
        weight = getattr(norm_layer, "scale", None)
    if weight is not None:
        Constant(0.0)(weight)
