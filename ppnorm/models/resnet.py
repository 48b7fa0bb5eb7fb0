"""ResNet (He et al. 2016) with a switchable norm / activation / dropout.

Layer names follow ``paddle.vision.models.resnet`` (conv1, bn1, layer1.0.conv1, ..., fc), so its
state_dicts load directly. ``bn1``/``bn2``/``bn3`` hold whichever norm the model was built with.

``norm_position="after_act"`` moves every norm that is followed by its own activation behind that
activation (conv -> act -> norm): the stem's ``bn1``, and in each block every norm but the last. The
block's last norm (``bn2`` of BasicBlock, ``bn3`` of BottleneckBlock) is followed by the residual add,
not by an activation, so it stays where the standard design has it, on the branch before the add; the
shortcut's conv + norm has no activation either. So the identity path stays un-normalized and
``zero_init_residual`` keeps its meaning in both orders. A conv whose norm moved keeps a bias
(:meth:`ppnorm.nn.layers.NormSpec.bias_attr`).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Type

import paddle
import paddle.nn as nn

from ..nn.layers import ConvNormAct, NormSpec, build_act
from .base import ConvClassifier
from .init import zero_last_norm
from .registry import register_model


def _add_shortcut(block, x, out):
    """``out + shortcut(x)`` for a residual block; ``out`` alone for a plain one (``residual=False``)."""
    if not block.residual:
        return out
    return out + (x if block.downsample is None else block.downsample(x))


class BasicBlock(nn.Layer):
    """Two 3x3 convs with a residual sum (ResNet-18/34 and the CIFAR family)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int, downsample: Optional[nn.Layer], norm: NormSpec,
                 act: str, data_format: str, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        self.norm_act = norm.norm_act
        self.conv1 = nn.Conv2D(in_channels, channels, 3, stride=stride, padding=1, bias_attr=norm.bias_attr(),
                               data_format=data_format)
        self.bn1 = norm(channels)
        self.conv2 = nn.Conv2D(channels, channels, 3, padding=1, bias_attr=False, data_format=data_format)
        self.bn2 = norm(channels)
        self.act = build_act(act)
        self.downsample = downsample

    def last_norm(self) -> nn.Layer:
        return self.bn2

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.norm_act(self.conv1(x), self.bn1, self.act)
        out = self.bn2(self.conv2(out))
        return self.act(_add_shortcut(self, x, out))


class BottleneckBlock(nn.Layer):
    """1x1 reduce, 3x3 (with the stride), 1x1 expand x4, residual sum (ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int, downsample: Optional[nn.Layer], norm: NormSpec,
                 act: str, data_format: str, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        out_channels = channels * self.expansion
        self.norm_act = norm.norm_act
        self.conv1 = nn.Conv2D(in_channels, channels, 1, bias_attr=norm.bias_attr(), data_format=data_format)
        self.bn1 = norm(channels)
        self.conv2 = nn.Conv2D(channels, channels, 3, stride=stride, padding=1, bias_attr=norm.bias_attr(),
                               data_format=data_format)
        self.bn2 = norm(channels)
        self.conv3 = nn.Conv2D(channels, out_channels, 1, bias_attr=False, data_format=data_format)
        self.bn3 = norm(out_channels)
        self.act = build_act(act)
        self.downsample = downsample

    def last_norm(self) -> nn.Layer:
        return self.bn3

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.norm_act(self.conv1(x), self.bn1, self.act)
        out = self.norm_act(self.conv2(out), self.bn2, self.act)
        out = self.bn3(self.conv3(out))
        return self.act(_add_shortcut(self, x, out))


STEMS = ("imagenet", "deep", "cifar")


def _check_lr_mult(lr_mult_list, count):
    """One-line ``ValueError`` unless ``lr_mult_list`` is None or ``count`` numbers >= 0."""
    if lr_mult_list is None:
        return
    if (not isinstance(lr_mult_list, (list, tuple)) or len(lr_mult_list) != count
            or any(isinstance(m, bool) or not isinstance(m, (int, float)) or m < 0 for m in lr_mult_list)):
        raise ValueError(f"lr_mult_list needs {count} numbers >= 0 (the stem, then each stage), got {lr_mult_list!r}")


class ResNet(ConvClassifier):
    """ResNet with stages ``depths`` of ``block`` at ``widths`` channels.

    ``stem="imagenet"``: 7x7 stride-2 conv + 3x3 max-pool (224x224 images);
    ``stem="deep"``: three 3x3 convs (32, 32, ``widths[0]`` channels, the first with stride 2) + the
    max-pool, the ResNet-C/D stem of Bag of Tricks (He et al. 2019) as PaddleClas builds it;
    ``stem="cifar"``: one 3x3 stride-1 conv, no max-pool (32x32 and smaller images).
    The choice is kept as ``stem_kind``; the stem's layers are ``conv1``, ``bn1`` and ``maxpool``
    (for ``deep``, ``conv1`` holds the first two conv-norm-act and the third conv).
    Shortcuts that change shape are a strided 1x1 conv + norm (option B of the paper);
    ``avg_down=True`` makes them a 2x2 average pool then a stride-1 1x1 conv + norm (ResNet-D).
    ``first_projection=True`` gives the first block a 1x1 conv shortcut even when shapes match
    (PaddleClas's ResNets, ``use_first_short_conv``). ``lr_mult_list``: one learning-rate factor for
    the stem and one per stage (PaddleClas's option; the fc keeps 1).
    ``residual=False`` builds the paper's "plain" counterpart: the same layers without any shortcut.
    See :class:`ConvClassifier` for the options every model shares.
    """

    def __init__(self, block: Type[nn.Layer], depths: Sequence[int], widths: Sequence[int] = (64, 128, 256, 512),
                 stem: str = "imagenet", residual: bool = True, avg_down: bool = False, first_projection: bool = False,
                 lr_mult_list: Optional[Sequence[float]] = None, **options: Any) -> None:
        super().__init__(**options)
        if self.zero_init_residual and not residual:
            raise ValueError("zero_init_residual=True zeroes the last norm of each residual branch; a plain "
                             "network (residual=False) would then output zeros: drop one of the two")
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {', '.join(STEMS)}, got '{stem}'")
        _check_lr_mult(lr_mult_list, 1 + len(depths))
        self.residual, self.avg_down, self.first_projection = residual, avg_down, first_projection
        self.stem_kind = stem
        self._build_stem(stem, widths[0])
        in_channels = widths[0]
        self.stage_names = []
        for index, (depth, width) in enumerate(zip(depths, widths)):
            stride = 1 if index == 0 else 2
            stage, in_channels = self._make_stage(block, in_channels, width, depth, stride, index == 0)
            name = f"layer{index + 1}"
            setattr(self, name, stage)
            self.stage_names.append(name)
        self._build_head(in_channels)
        if self.zero_init_residual:
            for layer in self.sublayers():
                if isinstance(layer, (BasicBlock, BottleneckBlock)):
                    zero_last_norm(layer.last_norm())
        if lr_mult_list is not None:
            self._set_lr_mult(lr_mult_list)

    def _build_stem(self, stem, width):
        fmt, norm, act = self.data_format, self.norm_spec, self.act_name
        if stem == "deep":
            self.conv1 = nn.Sequential(
                ConvNormAct(self.in_channels, 32, 3, norm, 2, act, fmt), ConvNormAct(32, 32, 3, norm, 1, act, fmt),
                nn.Conv2D(32, width, 3, padding=1, bias_attr=norm.bias_attr(), data_format=fmt))
        else:
            large = stem == "imagenet"
            self.conv1 = nn.Conv2D(self.in_channels, width, 7 if large else 3, stride=2 if large else 1,
                                   padding=3 if large else 1, bias_attr=norm.bias_attr(), data_format=fmt)
        self.bn1 = norm(width)
        self.act = build_act(act)
        self.maxpool = nn.Identity() if stem == "cifar" else nn.MaxPool2D(3, stride=2, padding=1, data_format=fmt)

    def _shortcut(self, in_channels, out_channels, stride):
        """1x1 conv + norm; with ``avg_down`` and a stride, a 2x2 average pool first and a stride-1 conv.

        The conv and norm are named ``0`` and ``1`` in both forms, so checkpoints name them alike.
        """
        pool = self.avg_down and stride != 1
        layers = [("0", nn.Conv2D(in_channels, out_channels, 1, stride=1 if pool else stride, bias_attr=False,
                                  data_format=self.data_format)),
                  ("1", self.norm_spec(out_channels))]
        if pool:  # PaddleClas: padding "SAME" + ceil_mode, so odd sizes keep the conv branch's size
            layers.insert(0, ("pool", nn.AvgPool2D(2, stride=stride, padding="SAME", ceil_mode=True,
                                                   data_format=self.data_format)))
        return nn.Sequential(*layers)

    def _make_stage(self, block, in_channels, width, depth, stride, first):
        out_channels = width * block.expansion
        downsample = None
        if self.residual and (stride != 1 or in_channels != out_channels or (first and self.first_projection)):
            downsample = self._shortcut(in_channels, out_channels, stride)
        common = (self.norm_spec, self.act_name, self.data_format, self.residual)
        blocks = [block(in_channels, width, stride, downsample, *common)]
        for _ in range(1, depth):
            blocks.append(block(out_channels, width, 1, None, *common))
        return nn.Sequential(*blocks), out_channels

    def _set_lr_mult(self, lr_mult_list):
        """Scale the learning rate of the stem's and each stage's parameters (Paddle's ``optimize_attr``)."""
        groups = [[self.conv1, self.bn1]] + [[getattr(self, name)] for name in self.stage_names]
        for mult, layers in zip(lr_mult_list, groups):
            for layer in layers:
                for param in layer.parameters():
                    param.optimize_attr["learning_rate"] = float(mult)

    def forward_features(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.maxpool(self.norm_spec.norm_act(self.conv1(x), self.bn1, self.act))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x


IMAGENET_DEPTHS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (BottleneckBlock, (3, 4, 6, 3)),
    "resnet101": (BottleneckBlock, (3, 4, 23, 3)),
    "resnet152": (BottleneckBlock, (3, 8, 36, 3)),
}
for _name, (_block, _depths) in IMAGENET_DEPTHS.items():
    register_model(_name, ResNet, block=_block, depths=_depths)
    # ResNet-D as PaddleClas's ResNet*_vd: deep stem, average-pool shortcuts, a projection in the first block
    register_model(f"{_name}_vd", ResNet, block=_block, depths=_depths, stem="deep", avg_down=True,
                   first_projection=True)

# He et al. 2016, section 4.2: 6n+2 layers, three stages of n blocks at 16/32/64 channels.
for _n in (3, 5, 7, 9, 18):
    register_model(f"resnet{6 * _n + 2}", ResNet, block=BasicBlock, depths=(_n, _n, _n), widths=(16, 32, 64),
                   stem="cifar")
