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
    """A copy of ``model`` whose weights follow the EMA of ``model``'s (see the module docstring).

    Between reads of :attr:`model` the float entries are averaged as one flat buffer: per step one
    ``coalesce_tensor`` copies the trained weights into a flat tensor and three kernels update the average,
    instead of three kernels per entry; each element goes through the same ``scale`` and ``add`` as entry by
    entry, so the averages are bitwise the same. Reading :attr:`model` (or :meth:`state_dict`) writes the
    average back into the copy's tensors; the next update flattens them (and ``model``'s entries) anew.
    """

    def __init__(self, model, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self._model = copy.deepcopy(model)
        self._model.eval()
        for param in self._model.parameters():
            param.stop_gradient = True
        self._flat = None  # (source model, its float entries, the average's entries, their views, flat buffer, rest)

    @property
    def model(self):
        """The averaged copy (eval mode, frozen), with every update so far written into its tensors."""
        if self._flat is not None:
            _, _, targets, views, _, _ = self._flat
            for target, view in zip(targets, views):
                paddle.assign(view, output=target)
            self._flat = None
        return self._model

    def _flatten(self, model):
        """Flatten the average's float entries and pair them with ``model``'s; None when dtypes differ."""
        own, pairs, rest = self._model.state_dict(), [], []
        for key, value in model.state_dict().items():
            target = own[key]
            if not paddle.is_floating_point(target):
                rest.append((value, target))
            elif value.dtype != target.dtype:
                return None
            else:
                pairs.append((value, target))
        if not pairs or len({target.dtype for _, target in pairs}) > 1:  # one flat buffer holds one dtype
            return None
        sources, targets = [p[0] for p in pairs], [p[1] for p in pairs]
        try:
            views, flat = _coalesce(targets)
        except (AttributeError, TypeError, ValueError, RuntimeError):  # a private op: another Paddle may lack it
            return None
        return model, sources, targets, views, flat, rest

    @paddle.no_grad()
    def update(self, model, step):
        """Move the average toward ``model``'s current weights; ``step`` is the number of steps done (>= 1)."""
        d = ema_decay(self.decay, step)
        if self._flat is None or self._flat[0] is not model:
            self.model  # noqa: B018 (writes a pending average back before flattening anew)
            self._flat = self._flatten(model)
        if self._flat is None:
            return self._update_entries(model, d)
        _, sources, _, _, flat, rest = self._flat
        flat.scale_(d).add_(_coalesce(sources)[1].scale_(1.0 - d))  # the copy scaled in place
        for value, target in rest:
            paddle.assign(value, output=target)

    def _update_entries(self, model, d):
        """Entry by entry (the weights in another float type than the average): the same arithmetic."""
        own = self._model.state_dict()
        for key, value in model.state_dict().items():
            target = own[key]
            if paddle.is_floating_point(target):  # in place: 3 kernels per entry instead of 5
                value = value if value.dtype == target.dtype else value.astype(target.dtype)
                target.scale_(d).add_(paddle.scale(value, 1.0 - d))
            else:
                paddle.assign(value, output=target)

    def state_dict(self):
        return self.model.state_dict()

    def set_state_dict(self, state):
        self.model.set_state_dict(state)


def _coalesce(tensors):
    """``(views, flat)``: a copy of ``tensors`` (one dtype) laid end to end in one flat tensor, and views of it in
    their shapes (Paddle's ``coalesce_tensor`` without alignment: one kernel for any number of tensors)."""
    return paddle._C_ops.coalesce_tensor(tensors, tensors[0].dtype, True, False, False, 0.0, False, -1, -1, [], [])


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
