"""Ghost batch normalization: BN over groups of a batch's images, as BN over each GPU's share of a large batch."""
from __future__ import annotations

import paddle
import paddle.nn as nn

from .norm_layers import is_batch_norm


class GhostBatchNorm(nn.Layer):
    """A BN layer that, in training, normalizes each group of ``size`` images of the batch on its own
    (and updates the running statistics once per group, as BN at batch ``size`` would)."""

    def __init__(self, bn: nn.Layer, size: int) -> None:
        super().__init__()
        self.bn, self.size = bn, size

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if not self.training or x.shape[0] <= self.size:
            return self.bn(x)
        return paddle.concat([self.bn(part) for part in paddle.split(x, x.shape[0] // self.size)])


def ghost_batches(model: nn.Layer, size: int) -> int:
    """Wrap every BN layer of ``model`` in :class:`GhostBatchNorm` (in place); returns how many were wrapped."""
    wrapped = 0
    for layer in [model, *model.sublayers()]:
        for name, child in list(layer.named_children()):
            if is_batch_norm(child, with_mask=False):
                setattr(layer, name, GhostBatchNorm(child, size))
                wrapped += 1
    return wrapped
