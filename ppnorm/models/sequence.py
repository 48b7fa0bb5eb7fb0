"""A small 1-D convolutional classifier for padded variable-length sequences ``[N, C, L]`` with a mask."""
import paddle
import paddle.nn as nn

from ..nn.layers import build_act
from ..nn.norm import build_norm
from ..nn.sequence import MaskedBatchNorm1D, TimeLayerNorm, masked_mean
from .base import check_count
from .registry import register_model

SEQUENCE_NORMS = ("none", "bn", "bn_masked", "ln")


def sequence_norm(kind, channels):
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
    raise ValueError(f"sequence norm must be one of {', '.join(SEQUENCE_NORMS)}, got {kind!r}")


class SeqConv1D(nn.Layer):
    """Conv1D -> norm -> act blocks (``same`` padding), padded steps re-zeroed after every block, then the
    mean over the valid steps and a Linear classifier. ``forward(x, mask=None)``: ``x [N, C, L]``, ``mask [N, L]``."""

    def __init__(self, in_channels=1, widths=(32, 32, 32), kernel_size=5, num_classes=4, norm="ln", act="relu"):
        super().__init__()
        check_count("num_classes", num_classes, 1)
        chans = [in_channels] + list(widths)
        self.convs = nn.LayerList([nn.Conv1D(a, b, kernel_size, padding=kernel_size // 2,
                                             bias_attr=None if norm == "none" else False)
                                   for a, b in zip(chans[:-1], chans[1:])])
        self.norms = nn.LayerList([sequence_norm(norm, b) for b in chans[1:]])
        self.act = build_act(act)
        self.fc = nn.Linear(chans[-1], num_classes)

    def forward(self, x, mask=None):
        if len(x.shape) != 3:
            raise ValueError(f"seq_conv1d takes sequences [N, C, L] (and a padding mask [N, L]), got a "
                             f"{len(x.shape)}-D input {list(x.shape)}; it is for the API and the sequence_norm "
                             f"experiment, the training tools feed images")
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
