"""DenseNet (Huang et al. 2017) with a switchable norm / activation / dropout.

Each layer is pre-activation (norm -> act -> conv) and concatenates its output to its input.
``paddle.vision.models.densenet`` state_dicts load through :func:`ppnorm.models.convert.from_paddle_vision`.
"""
from __future__ import annotations

from typing import Any, Sequence

import paddle
import paddle.nn as nn

from ..nn.layers import ConvNormAct, NormActConv, NormSpec, build_act
from .base import ConvClassifier
from .registry import register_model


class DenseLayer(nn.Layer):
    """[1x1 bottleneck to bn_size*growth] -> 3x3 conv to ``growth_rate``; output = concat(input, new)."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, norm: NormSpec, act: str, data_format: str,
                 channel_axis: int) -> None:
        super().__init__()
        mid = in_channels
        self.bottleneck = None
        if bn_size:
            mid = bn_size * growth_rate
            self.bottleneck = NormActConv(in_channels, mid, 1, norm, act, data_format)
        self.conv = NormActConv(mid, growth_rate, 3, norm, act, data_format)
        self.channel_axis = channel_axis

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        new = x if self.bottleneck is None else self.bottleneck(x)
        return paddle.concat([x, self.conv(new)], axis=self.channel_axis)


class Transition(nn.Sequential):
    """norm -> act -> 1x1 conv (compress channels) -> 2x2 average pool (halve the size)."""

    def __init__(self, in_channels: int, out_channels: int, norm: NormSpec, act: str, data_format: str) -> None:
        super().__init__(
            ("reduce", NormActConv(in_channels, out_channels, 1, norm, act, data_format)),
            ("pool", nn.AvgPool2D(2, stride=2, data_format=data_format)),
        )


class DenseNet(ConvClassifier):
    """DenseNet with ``block_config`` layers per dense block.

    ``bn_size=None`` drops the 1x1 bottleneck (the d2l DenseNet); ``compression`` is the channel
    ratio kept by each transition. ``stem="imagenet"`` is a 7x7 stride-2 conv + max-pool,
    ``stem="cifar"`` a single 3x3 conv; the choice is kept as ``stem_kind`` and the layers as
    ``stem``. ``zero_init_residual`` is not accepted: DenseNet concatenates instead of adding, so there is no
    residual branch to zero; nor is ``norm_position="after_act"`` (its layers are pre-activation).
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, compression: float = 0.5, stem: str = "imagenet",
                 **options: Any) -> None:
        super().__init__(**options)
        if self.zero_init_residual:
            raise ValueError("zero_init_residual=True does not apply to DenseNet (no residual sum); remove it")
        if self.norm_spec.position != "before_act":
            raise ValueError("norm_position='after_act' is not implemented for DenseNet (its layers are "
                             "pre-activation norm -> act -> conv); remove it")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got '{stem}'")
        fmt, norm, act = self.data_format, self.norm_spec, self.act_name
        self.stem_kind = stem
        if stem == "imagenet":
            self.stem = nn.Sequential(
                ("conv_norm_act", ConvNormAct(self.in_channels, num_init_features, 7, norm, 2, act, fmt)),
                ("pool", nn.MaxPool2D(3, stride=2, padding=1, data_format=fmt)),
            )
        else:
            self.stem = nn.Sequential(
                ("conv_norm_act", ConvNormAct(self.in_channels, num_init_features, 3, norm, 1, act, fmt)))
        channels = num_init_features
        self.stage_names = []
        for index, num_layers in enumerate(block_config):
            block = nn.Sequential()
            for j in range(num_layers):
                block.add_sublayer(f"layer{j + 1}", DenseLayer(channels + j * growth_rate, growth_rate, bn_size,
                                                              norm, act, fmt, self.channel_axis))
            channels += num_layers * growth_rate
            self._add_stage(f"block{index + 1}", block)
            if index != len(block_config) - 1:
                out_channels = int(channels * compression)
                self._add_stage(f"transition{index + 1}", Transition(channels, out_channels, norm, act, fmt))
                channels = out_channels
        self.final_norm = norm(channels)
        self.final_act = build_act(act)
        self._build_head(channels)

    def _add_stage(self, name, layer):
        self.add_sublayer(name, layer)
        self.stage_names.append(name)

    def forward_features(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.final_act(self.final_norm(x))


DENSENET_SPECS = {  # growth rate, layers per block, initial features (Huang et al. 2017, table 1)
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
    "densenet264": (32, (6, 12, 64, 48), 64),
}
for _name, (_growth, _blocks, _init) in DENSENET_SPECS.items():
    register_model(_name, DenseNet, growth_rate=_growth, block_config=_blocks, num_init_features=_init)

# The d2l chapter's DenseNet: growth 32, 4 blocks of 4 layers, no bottleneck, transitions halving
# channels and size; with a 3x3 stem by default so 32x32 (and 8x8) images keep their resolution.
register_model("densenet_small", DenseNet, growth_rate=32, block_config=(4, 4, 4, 4), num_init_features=64,
               bn_size=None, defaults={"stem": "cifar"})
