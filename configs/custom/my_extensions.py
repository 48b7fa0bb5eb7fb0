"""Your own model and hook, registered here and imported by my_extensions.yaml (Global.custom_imports).

Copy both files next to your config and rename what you need: a config may name everything this file
registers (Arch.name: tiny_cnn, Hooks: [{name: LossCsv}]). ppnorm imports this file before it checks the
config, so a typo in a name is still a one-line error with the closest valid name.
"""
import os

import paddle.nn as nn
import paddle.nn.functional as F

from ppnorm.engine.hook_api import HOOKS, HookBase
from ppnorm.models import register_model
from ppnorm.nn import build_norm


class TinyCNN(nn.Layer):
    """One 3x3 convolution, a norm of the factory (``norm``: bn, gn, ln, ...), ReLU, global average, a classifier.

    ``num_classes`` and ``in_channels`` come from the data set unless the config's Arch gives them.
    """

    def __init__(self, num_classes=10, in_channels=3, width=16, norm="bn"):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, width, 3, padding=1, bias_attr=False)
        self.norm = build_norm(norm, width)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = F.relu(self.norm(self.conv(x)))
        return self.fc(x.mean(axis=[2, 3]))


register_model("tiny_cnn", TinyCNN)


@HOOKS.register("LossCsv")
class LossCsv(HookBase):
    """After each epoch, append ``epoch,loss,lr`` (epochs done, the last step's values) to ``<output_dir>/<file>``."""

    priority = 80  # after the checkpoints (70): the line is written once the epoch is saved

    def __init__(self, file="loss.csv"):
        self.file = file

    def after_epoch(self, ctx):
        if ctx.rank != 0:
            return
        path = os.path.join(ctx.output_dir, self.file)
        new = not os.path.exists(path)
        with open(path, "a", encoding="utf-8") as handle:
            if new:
                handle.write("epoch,loss,lr\n")
            handle.write(f"{ctx.states['epoch']},{ctx.metrics['loss']:.6f},{ctx.metrics['lr']:.6g}\n")
