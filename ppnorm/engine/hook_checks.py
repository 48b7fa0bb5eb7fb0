"""The guards of a run: per-step seeding and the stops on a non-finite loss or norm statistic (default hooks)."""
import math
import os

import paddle

from ..nn.norm import is_batch_norm, running_stats
from .hook_api import HOOKS, HookBase


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became non-finite); the message says where and what to try."""


@HOOKS.register("StepSeed")
class StepSeed(HookBase):
    """Seed Paddle from the global step before each step, so dropout masks are the same after a resume."""

    priority = 10

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls(settings["seed"])

    def __init__(self, seed):
        self.seed = seed

    def before_step(self, ctx):
        paddle.seed(self.seed * 1_000_003 + ctx.states["global_step"])


@HOOKS.register("FiniteLoss")
class FiniteLoss(HookBase):
    """Stop with a one-line :class:`TrainingError` when the loss is NaN or infinite."""

    priority = 15

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def after_step(self, ctx):
        if math.isfinite(ctx.last.loss):
            return
        done = ctx.states["epoch"]
        kept = f"the last good checkpoint is {os.path.join(ctx.output_dir, 'latest')} (epoch {done})" if done \
            else "no checkpoint was written yet"
        raise TrainingError(f"loss is {ctx.last.loss} at epoch {ctx.epoch + 1}, step {ctx.states['step']}: "
                            f"training stopped; {kept}. Lower Optimizer.lr.learning_rate or set Optimizer.grad_clip")


@HOOKS.register("FiniteNormStatistics")
class FiniteNormStatistics(HookBase):
    """After each epoch, stop before anything is saved if a BatchNorm running statistic is NaN or infinite.

    ReLU after BN turns NaN into 0, so a NaN pixel in the data can leave the loss finite while the
    running statistics (and then the weights) fill with NaN.
    """

    priority = 35

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def after_epoch(self, ctx):
        for name, layer in ctx.model.named_sublayers():
            if not is_batch_norm(layer):
                continue
            for kind, values in zip(("running mean", "running variance"), running_stats(layer)):
                bad = int((~paddle.isfinite(values)).sum())
                if bad:
                    raise TrainingError(f"{kind} of norm layer '{name}' has {bad} non-finite value(s) after epoch "
                                        f"{ctx.epoch + 1} (step {ctx.states['global_step']} overall): NaN/Inf "
                                        f"reached the network (check the data and Normalize); nothing was saved "
                                        f"for this epoch")
