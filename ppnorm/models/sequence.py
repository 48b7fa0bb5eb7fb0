"""A small 1-D convolutional classifier for padded variable-length sequences ``[N, C, L]`` with a mask."""
from __future__ import annotations

from typing import Optional, Sequence

import paddle
import paddle.nn as nn

from ..errors import check_count
from ..nn.layers import build_act
from ..nn.norm import build_norm
from ..nn.sequence import MaskedBatchNorm1D, TimeLayerNorm, masked_mean
from .registry import register_model

SEQUENCE_NORMS = ("none", "bn", "bn_masked", "ln")


def sequence_norm(kind: str, channels: int) -> nn.Layer:
    """The norm of one conv block: ``bn`` is BatchNorm1D counting padding (via ``build_norm``),
    ``bn_masked`` counts valid steps only, ``ln`` is LayerNorm over the channels of each time step.

    ``build_norm("ln", C, dims=1)`` would be ``nn.LayerNorm(C)`` over the LAST axis (L on ``[N, C, L]``),
    which mixes time steps and padding, so ``ln`` here is :class:`TimeLayerNorm`.
    """
    if kind == "bn_masked":
        return MaskedBatchNorm1D(channels)
    if kind == "ln":
        return TimeLayerNorm(channels)
    if kind in ("bn", "none"):
        return build_norm(kind, channels, dims=1)
    raise ValueError(f"seq_conv1d norm must be one of {', '.join(SEQUENCE_NORMS)}, got {kind!r}")


class SeqConv1D(nn.Layer):
    """Conv1D -> norm -> act blocks (``same`` padding), padded steps re-zeroed after every block, then the
    mean over the valid steps and a Linear classifier. ``forward(x, mask=None)``: ``x [N, C, L]``, ``mask [N, L]``.

    ``mask_channel=True`` is the form the training tools use (data set ``waveforms``): the mask is the last
    channel of ``x``, so ``in_channels`` counts it and ``forward(x)`` takes one tensor ``[N, C + 1, L]``.
    """

    def __init__(self, in_channels: int = 1, widths: Sequence[int] = (32, 32, 32), kernel_size: int = 5,
                 num_classes: int = 4, norm: str = "ln", act: str = "relu", mask_channel: bool = False) -> None:
        super().__init__()
        check_count("num_classes", num_classes, 1)
        if not isinstance(mask_channel, bool):
            raise ValueError(f"mask_channel must be true or false, got {mask_channel!r}")
        self.mask_channel = mask_channel
        self.input_kind = "sequence+mask" if mask_channel else "sequence"
        check_count("in_channels", in_channels, 2 if mask_channel else 1,
                    " (with mask_channel the mask is one of them)" if mask_channel else "")
        chans = [in_channels - int(mask_channel)] + list(widths)
        self.convs = nn.LayerList([nn.Conv1D(a, b, kernel_size, padding=kernel_size // 2,
                                             bias_attr=None if norm == "none" else False)
                                   for a, b in zip(chans[:-1], chans[1:])])
        self.norms = nn.LayerList([sequence_norm(norm, b) for b in chans[1:]])
        self.act = build_act(act)
        self.fc = nn.Linear(chans[-1], num_classes)

    def forward(self, x: paddle.Tensor, mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if len(x.shape) != 3:
            raise ValueError(f"seq_conv1d takes sequences [N, C, L] (and a padding mask [N, L]), got a "
                             f"{len(x.shape)}-D input {list(x.shape)}; train it on a sequence data set "
                             f"(DataLoader.*.dataset.name: waveforms, with Arch.mask_channel: true)")
        if self.mask_channel:
            if mask is not None:
                raise ValueError("seq_conv1d with mask_channel takes the mask as the last channel of x, not as mask")
            x, mask = x[:, :-1], x[:, -1]
        if mask is None:
            mask = paddle.ones([x.shape[0], x.shape[2]], dtype=x.dtype)
        m = mask.unsqueeze(1)
        x = x * m
        for conv, norm in zip(self.convs, self.norms):
            z = conv(x)
            z = norm(z, mask) if isinstance(norm, MaskedBatchNorm1D) else norm(z)
            x = self.act(z) * m
        return self.fc(masked_mean(x, mask))


register_model("seq_conv1d", SeqConv1D)
