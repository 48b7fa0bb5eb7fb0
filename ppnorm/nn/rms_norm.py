"""RMSNorm, the ``rms`` norm kind: :func:`~ppnorm.nn.functional.rms_norm` with a per-channel scale and shift."""
from __future__ import annotations

from typing import Optional, Union

import paddle
import paddle.nn as nn

from . import functional as F


class RMSNorm(nn.Layer):
    """Each sample over all its values (C and spatial), divided by their root mean square, not centred; then
    a learned per-channel scale (``weight``, from 1) and shift (``bias``, from 0), each left out when its attr
    is False. Paddle's own ``rms_norm`` has no CPU kernel."""

    def __init__(self, num_channels: int, epsilon: float = 1e-5,
                 weight_attr: Optional[Union[bool, paddle.ParamAttr]] = None,
                 bias_attr: Optional[Union[bool, paddle.ParamAttr]] = None, data_format: str = "NCHW") -> None:
        super().__init__()
        self._epsilon, self._data_format = epsilon, data_format
        self.weight = None if weight_attr is False else self.create_parameter(
            [num_channels], attr=weight_attr, default_initializer=nn.initializer.Constant(1.0))
        self.bias = None if bias_attr is False else self.create_parameter([num_channels], attr=bias_attr, is_bias=True)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.rms_norm(x, self.weight, self.bias, self._epsilon, self._data_format)
