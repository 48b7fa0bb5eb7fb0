"""What a normalization layer is: traits declared with its class, and the one place reading its private state.

A norm layer class says what it is where it is registered: the norm factory's kinds declare the Paddle
classes they build (``ppnorm.nn.norm.norm_kind``), and a layer of ppnorm's own declares itself::

    @norm_layer(batch_stats=True, takes_mask=True)
    class MaskedBatchNorm1D(nn.Layer): ...

:func:`is_norm` (no weight decay on its scale and shift, norm histograms) and :func:`is_batch_norm`
(running statistics: cross-rank averaging, the non-finite guard, PreciseBN) read these declarations, so
a new norm class is seen by every one of those places without touching them. A layer keeping batch
statistics stores them as Paddle's batch norms do (``_mean``, ``_variance``, ``_momentum``, ``_epsilon``);
only the helpers below read those attributes, so a Paddle upgrade touches this file alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple, Optional, Tuple

if TYPE_CHECKING:
    import paddle


class NormTraits(NamedTuple):
    """``batch_stats``: keeps running statistics of batches (read and written by :func:`running_stats` and
    friends); ``takes_mask``: ``forward(x, mask)``, so it is no drop-in for a one-input batch norm (conv
    folding and ghost batches leave it alone)."""
    batch_stats: bool = False
    takes_mask: bool = False


_DECLARED = {}  # layer class -> NormTraits


def declare_norm_layers(classes: Iterable[type], **traits: bool) -> None:
    """Declare ``classes`` (and their subclasses) norm layers with ``traits`` (see :class:`NormTraits`)."""
    declared = NormTraits(**traits)
    for klass in classes:
        if _DECLARED.get(klass, declared) != declared:
            raise ValueError(f"{klass.__name__} is declared a norm layer twice with different traits: "
                             f"{_DECLARED[klass]} and {declared}")
        _DECLARED[klass] = declared


def norm_layer(**traits: bool) -> Callable[[type], type]:
    """Class decorator: ``@norm_layer(batch_stats=True)`` declares the class a norm layer."""
    def declare(klass):
        declare_norm_layers([klass], **traits)
        return klass
    return declare


def norm_traits(layer: paddle.nn.Layer) -> Optional[NormTraits]:
    """The :class:`NormTraits` of ``layer``'s class (its nearest declared base class), or None: not a norm."""
    for klass in type(layer).__mro__:
        if klass in _DECLARED:
            return _DECLARED[klass]
    return None


def is_norm(layer: paddle.nn.Layer) -> bool:
    """True for every declared normalization layer (all the norm factory builds, and ppnorm's own)."""
    return norm_traits(layer) is not None


def is_batch_norm(layer: paddle.nn.Layer, with_mask: bool = True) -> bool:
    """True for the norm layers that keep running statistics (BatchNorm1D/2D/3D, SyncBatchNorm,
    MaskedBatchNorm1D); ``with_mask=False`` leaves out those whose forward also takes a mask."""
    traits = norm_traits(layer)
    return traits is not None and traits.batch_stats and (with_mask or not traits.takes_mask)


def _require_batch_norm(layer):
    if not is_batch_norm(layer):
        raise TypeError(f"{type(layer).__name__} is not a batch norm: it keeps no running statistics")


def running_stats(layer: paddle.nn.Layer) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """A batch norm's ``(running_mean, running_variance)`` buffers (Paddle's biased variance); in place."""
    _require_batch_norm(layer)
    return layer._mean, layer._variance


def set_running_stats(layer: paddle.nn.Layer, mean: Any, variance: Any) -> None:
    """Overwrite a batch norm's running mean and variance (tensors or arrays of shape [C])."""
    _require_batch_norm(layer)
    layer._mean.set_value(mean)
    layer._variance.set_value(variance)


def bn_momentum(layer: paddle.nn.Layer) -> float:
    """A batch norm's momentum (Paddle's convention: the weight of the old running value)."""
    _require_batch_norm(layer)
    return layer._momentum


def set_bn_momentum(layer: paddle.nn.Layer, momentum: float) -> None:
    _require_batch_norm(layer)
    layer._momentum = momentum


def norm_epsilon(layer: paddle.nn.Layer) -> float:
    """The epsilon a norm layer adds to the variance."""
    return layer._epsilon


def norm_groups(layer: paddle.nn.Layer) -> int:
    """The number of groups of a GroupNorm."""
    return layer._num_groups
