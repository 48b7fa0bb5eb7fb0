"""Export channels-last (NHWC) models as a channels-first graph behind one input transpose.

Paddle Inference's oneDNN kernels keep every 4-D tensor in NCHW order and rotate shapes only where a oneDNN op
meets a plain CPU op (Paddle issue #38126); a channels-last graph whose norms are group_norm, layer norms or
element-wise ops then runs on rotated shapes: a conv channel-count error, a broadcast mismatch or garbage logits.
The same weights in the same model built with ``data_format: NCHW`` are a graph oneDNN runs right (conv, pool
and norm weights do not depend on the layout), so export saves that twin behind ``transpose(x, [0, 3, 1, 2])``:
the exported model still takes NHWC input, and the export's own check compares it with the NHWC model.
"""
from __future__ import annotations

from typing import Any

import paddle

from ..engine.builder import model_from_config

CHANNELS_FIRST = [0, 3, 1, 2]  # NHWC -> NCHW


class ChannelsLastInput(paddle.nn.Layer):
    """``model`` (channels-first) fed an NHWC batch: transposes it to NCHW first."""

    def __init__(self, model: paddle.nn.Layer) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.model(paddle.transpose(x, CHANNELS_FIRST))


def for_inference(config: dict, model: paddle.nn.Layer, layout: str, dataset: Any) -> paddle.nn.Layer:
    """What export saves for ``model``: itself when channels-first, else its NCHW twin (same weights) that
    takes NHWC input."""
    if layout != "NHWC":
        return model
    arch = dict(config["Arch"], data_format="NCHW")
    settings = dict(config["Global"], pretrained_model=None)  # the weights are copied from ``model``
    twin = model_from_config({**config, "Arch": arch, "Global": settings}, dataset, "DataLoader.Eval.dataset")
    copy_weights(model, twin)
    twin.eval()
    return ChannelsLastInput(twin)


def copy_weights(source: paddle.nn.Layer, target: paddle.nn.Layer) -> None:
    """Copy ``source``'s parameters and buffers into ``target``'s, in order (names may differ: ``in`` is an
    InstanceNorm2D channels-first, a GroupNorm channels-last); shapes must agree one to one."""
    sources, targets = list(source.state_dict().items()), list(target.state_dict().items())
    shapes = [list(value.shape) for _, value in sources], [list(value.shape) for _, value in targets]
    if shapes[0] != shapes[1]:
        raise ValueError(f"the channels-first twin of {type(source).__name__} has other weights "
                         f"({len(targets)} tensors, {len(sources)} expected); export it with Arch.data_format=NCHW")
    for (_, value), (_, slot) in zip(sources, targets):
        slot.set_value(value)
