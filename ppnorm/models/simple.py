"""Small models for the experiments: an MLP and a plain CNN, with the same norm / act / dropout switches."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import paddle
import paddle.nn as nn

from ..errors import check_count
from ..nn.layers import ConvNormAct, NormSpec, build_act, build_dropout
from .base import ConvClassifier
from .init import init_weights
from .registry import register_model


class DenseNormAct(nn.Sequential):
    """Linear -> norm -> act -> dropout, or Linear -> act -> norm -> dropout when ``norm.position`` is
    ``after_act``. Sub-layers: linear, norm, act, dropout (named alike in both orders).

    ``norm`` is a :class:`~ppnorm.nn.layers.NormSpec` for ``[N, K]`` features (``dims=1``). In the default
    order the norm's input (``linear``'s output) is the "pre-activation" the BN paper plots.
    """

    def __init__(self, in_features: int, out_features: int, norm: NormSpec, act: str, dropout: float = 0.0,
                 dropout_mode: str = "upscale_in_train") -> None:
        super().__init__(
            ("linear", nn.Linear(in_features, out_features, bias_attr=norm.bias_attr(without_norm=None))),
            *norm.order(("norm", norm(out_features)), ("act", build_act(act))),
            ("dropout", build_dropout(dropout, dropout_mode)),
        )


class MLP(nn.Layer):
    """Flatten, ``len(hidden)`` DenseNormAct layers, then a Linear classifier.

    ``norm`` is a norm-factory kind for [N, K] features (``bn``, ``ln``, ``none``); a layer without a
    norm keeps its Linear bias (with a norm the norm's shift replaces it). ``norm_position="after_act"``
    puts each norm after its activation; the Linear then keeps its bias (the activation sits between).
    """

    def __init__(self, in_features: int = 64, hidden: Sequence[int] = (100, 100, 100), num_classes: int = 10,
                 norm: str = "none", norm_options: Optional[dict] = None, norm_position: str = "before_act",
                 act: str = "relu", dropout: float = 0.0, dropout_mode: str = "upscale_in_train", init: str = "kaiming",
                 init_std: float = 0.01) -> None:
        super().__init__()
        check_count("in_features", in_features, 1)
        check_count("num_classes", num_classes, 1)
        norm_spec = NormSpec(norm, norm_options, data_format=None, dims=1, position=norm_position)
        build_act(act)  # validate the name before building anything
        widths = [in_features] + list(hidden)
        self.layers = nn.LayerList([DenseNormAct(a, b, norm_spec, act, dropout, dropout_mode)
                                    for a, b in zip(widths[:-1], widths[1:])])
        self.fc = nn.Linear(widths[-1], num_classes)
        init_weights(self, init, init_std)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = paddle.flatten(x, start_axis=1)
        for layer in self.layers:
            x = layer(x)
        return self.fc(x)


DOWNSAMPLES = ("max", "avg", "conv")


class SimpleCNN(ConvClassifier):
    """Stages of ``convs_per_stage`` [3x3 conv -> norm -> act] (``norm_position="after_act"``: conv -> act ->
    norm, the conv with a bias), a 2x2 stride-2 downsampling between stages,
    then the head.

    A fast, plain (non-residual) CNN for 8x8 digits and other small images. ``downsample``: ``max`` pooling,
    ``avg`` pooling, or ``conv`` (a learned 2x2 stride-2 convolution with as many channels, the
    strided-conv alternative to pooling).
    """

    def __init__(self, widths: Sequence[int] = (32, 64), convs_per_stage: int = 2, downsample: str = "max",
                 **options: Any) -> None:
        super().__init__(**options)
        if downsample not in DOWNSAMPLES:
            raise ValueError(f"downsample must be one of {', '.join(DOWNSAMPLES)}, got {downsample!r}")
        layers, channels = [], self.in_channels
        for index, width in enumerate(widths):
            if index > 0:
                layers.append(self._downsample(downsample, channels))
            for _ in range(convs_per_stage):
                layers.append(ConvNormAct(channels, width, 3, self.norm_spec, act=self.act_name,
                                          data_format=self.data_format))
                channels = width
        self.features = nn.Sequential(*layers)
        self._build_head(channels)

    def _downsample(self, kind, channels):
        if kind == "max":
            return nn.MaxPool2D(2, data_format=self.data_format)
        if kind == "avg":
            return nn.AvgPool2D(2, data_format=self.data_format)
        return nn.Conv2D(channels, channels, 2, stride=2, data_format=self.data_format)

    def forward_features(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.features(x)


register_model("mlp", MLP)
register_model("simple_cnn", SimpleCNN)
