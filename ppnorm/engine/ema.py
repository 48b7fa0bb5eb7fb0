"""An exponential moving average (EMA) of a model's weights, evaluated and saved in place of the raw weights.

Like timm's ``ModelEmaV2`` the average covers every ``state_dict`` entry: parameters and the
BatchNorm running mean and variance. After training step ``t`` (1, 2, ...) each float entry becomes
``ema = d * ema + (1 - d) * weight`` with ``d = min(decay, (1 + t) / (10 + t))``: early steps use a
smaller decay, so the average is not dominated by the random initial weights (the warmup of
TensorFlow's ``ExponentialMovingAverage(num_updates=t)``).
"""
import copy

import paddle

from .distributed import average_norm_statistics
from .hook_api import HOOKS, HookBase


def ema_decay(decay, step):
    """The decay used at training step ``step`` (1 for the first step): ``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1.0 + step) / (10.0 + step))


class ModelEma:
    """A copy of ``model`` whose weights follow the EMA of ``model``'s (see the module docstring)."""

    def __init__(self, model, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.eval()
        for param in self.model.parameters():
            param.stop_gradient = True

    @paddle.no_grad()
    def update(self, model, step):
        """Move the average toward ``model``'s current weights; ``step`` is the number of steps done (>= 1)."""
        d = ema_decay(self.decay, step)
        own = self.model.state_dict()
        for key, value in model.state_dict().items():
            target = own[key]
            if paddle.is_floating_point(target):  # in place: 3 kernels per entry instead of 5 (the same arithmetic)
                value = value if value.dtype == target.dtype else value.astype(target.dtype)
                target.scale_(d).add_(paddle.scale(value, 1.0 - d))
            else:
                paddle.assign(value, output=target)

    def state_dict(self):
        return self.model.state_dict()

    def set_state_dict(self, state):
        self.model.set_state_dict(state)


@HOOKS.register("UpdateEma")
class UpdateEma(HookBase):
    """Update ``ctx.ema`` after every step; average its BatchNorm statistics over ranks after each epoch."""

    priority = 30

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls() if ema else None

    def after_step(self, ctx):
        ctx.ema.update(ctx.model, ctx.states["global_step"])

    def after_epoch(self, ctx):
        average_norm_statistics(ctx.ema.model, ctx.world_size)
