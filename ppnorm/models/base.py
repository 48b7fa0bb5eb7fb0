"""ConvClassifier: the options every ppnorm model shares, and the pooling + dropout + fc head."""
from __future__ import annotations

from typing import Optional

import paddle
import paddle.nn as nn

from ..errors import check_count
from ..nn.layers import NormSpec, build_act, build_dropout
from .init import init_weights

DATA_FORMATS = ("NCHW", "NHWC")


class ConvClassifier(nn.Layer):
    """Base of every ppnorm model: ``features -> [avgpool -> flatten -> dropout -> fc]``.

    Args shared by all models:
        num_classes: size of the fc layer; 0 leaves the fc out (pooled features are returned).
        in_channels: channels of the input image (>= 1).
        with_pool: ``False`` returns the last feature map (no pooling, no fc).
        norm: a norm-factory kind (``bn``, ``sync_bn``, ``gn``, ``ln``, ``in``, ``none``, ``rms``).
        norm_options: extra factory options, e.g. ``{"groups": 8}`` for ``gn``, ``{"momentum": 0.99}``.
        norm_position: ``before_act`` (conv -> norm -> act, the default) or ``after_act`` (conv -> act -> norm);
            see :class:`~ppnorm.nn.layers.NormSpec` and each model's docstring for what it switches.
        act: activation name (``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ``gelu``, ...).
        dropout: drop probability before the fc layer (0 = none); ``dropout_mode`` is Paddle's mode.
        data_format: ``NCHW`` or ``NHWC`` (the input layout; NHWC is faster on GPUs with AMP).
        init: ``kaiming`` / ``xavier`` / ``normal`` (std ``init_std``) / ``constant`` (every weight ``init_std``)
            for conv and fc weights.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, with_pool: bool = True, norm: str = "bn",
                 norm_options: Optional[dict] = None, norm_position: str = "before_act", act: str = "relu",
                 dropout: float = 0.0, dropout_mode: str = "upscale_in_train", data_format: str = "NCHW",
                 zero_init_residual: bool = False, init: str = "kaiming", init_std: float = 0.01) -> None:
        super().__init__()
        if data_format not in DATA_FORMATS:
            raise ValueError(f"data_format must be one of {', '.join(DATA_FORMATS)}, got '{data_format}'")
        check_count("num_classes", num_classes, 0, " (0 leaves the fc layer out)")
        check_count("in_channels", in_channels, 1)
        build_act(act)  # validate the name before building anything
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.with_pool = with_pool
        self.norm_spec = NormSpec(norm, norm_options, data_format, position=norm_position)
        self.act_name = act
        self.data_format = data_format
        self.channel_axis = 1 if data_format == "NCHW" else 3
        self.zero_init_residual = zero_init_residual
        self._init = (init, init_std)
        self._dropout = (dropout, dropout_mode)

    def _build_head(self, num_features):
        """Create the head and initialize all weights; subclasses call this last in ``__init__``."""
        self.num_features = num_features
        if self.with_pool:
            self.avgpool = nn.AdaptiveAvgPool2D(1, data_format=self.data_format)
            self.dropout = build_dropout(*self._dropout)
            if self.num_classes > 0:
                self.fc = nn.Linear(num_features, self.num_classes)
        init_weights(self, *self._init)

    def forward_features(self, x: paddle.Tensor) -> paddle.Tensor:
        raise NotImplementedError

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.forward_features(x)
        if not self.with_pool:
            return x
        x = paddle.flatten(self.avgpool(x), start_axis=1)
        if self.num_classes > 0:
            x = self.fc(self.dropout(x))
        return x
