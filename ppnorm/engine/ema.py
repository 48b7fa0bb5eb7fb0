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

    The float entries are averaged as one flat buffer: the first update lays ``model``'s float entries end to end
    in one flat tensor and its entries become views of it (``coalesce_tensor``, then each entry shares its slice;
    Paddle's optimizers update parameters in place, so the views stay current), and the average's entries the
    same in a second buffer. An update is then three kernels for any number of entries; each element goes
    through the same ``scale`` and ``add`` as entry by entry, so the averages are bitwise the same. Every update
    checks that the entries still live in the buffers (a cast or a load that reallocates: flattened anew), and
    the first update after a read of :attr:`model` also checks that ``model`` still has the same entries.
    """

    def __init__(self, model, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self._model = copy.deepcopy(model)
        self._model.eval()
        for param in self._model.parameters():
            param.stop_gradient = True
        self._flat = None  # (source model, its float entries, their buffer, the average's entries, theirs, rest)
        self._read = False  # the average was read since the last update: check the source's entries again

    @property
    def model(self):
        """The averaged copy (eval mode, frozen); its float entries are views of the average's buffer."""
        self._read = True
        return self._model

    def _flatten(self, model):
        """Make ``model``'s float entries and the average's views of two flat buffers; None when dtypes differ."""
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
            return model, sources, _share_flat(sources), targets, _share_flat(targets), rest
        except (AttributeError, TypeError, ValueError, RuntimeError):  # private ops: another Paddle may lack them
            return None

    def _still_flat(self, model):
        flat_model, sources, source_flat, targets, target_flat, _ = self._flat
        if flat_model is not model:
            return False
        if self._read:  # the same tensors (compared by identity: == on tensors compares values)
            entries = [value for value in model.state_dict().values() if paddle.is_floating_point(value)]
            if len(entries) != len(sources) or any(a is not b for a, b in zip(entries, sources)):
                return False
        return all(t._is_shared_buffer_with(source_flat) for t in sources) and all(
            t._is_shared_buffer_with(target_flat) for t in targets)

    @paddle.no_grad()
    def update(self, model, step):
        """Move the average toward ``model``'s current weights; ``step`` is the number of steps done (>= 1)."""
        d = ema_decay(self.decay, step)
        if self._flat is None or not self._still_flat(model):
            self._flat = self._flatten(model)
        self._read = False
        if self._flat is None:
            return self._update_entries(model, d)
        _, _, source_flat, _, target_flat, rest = self._flat
        target_flat.scale_(d).add_(paddle.scale(source_flat, 1.0 - d))
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


def _share_flat(tensors):
    """Copy ``tensors`` (one dtype) end to end into one flat tensor and make each of them a view of its slice
    (the values unchanged); returns the flat tensor."""
    views, flat = _coalesce(tensors)
    for tensor, view in zip(tensors, views):
        view._share_buffer_to(tensor)
    if not all(tensor._is_shared_buffer_with(flat) for tensor in tensors):
        raise RuntimeError("coalesce_tensor's views do not share its buffer")
    return flat


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
