"""Losses from the ``Loss`` config section: a ``LOSSES`` registry of classes called as ``loss(logits, labels)``.

Adding one is one decorated class whose ``__init__`` takes the section's options::

    @LOSSES.register("MyLoss")
    class MyLoss:
        def __init__(self, weight=1.0): ...
        def __call__(self, logits, labels): ...
"""
import numbers

import paddle.nn.functional as F

from ..registry import Registry

LOSSES = Registry("loss", ordered=True)


@LOSSES.register("CrossEntropy")
class CrossEntropy:
    """Mean softmax cross-entropy of integer labels, with optional label smoothing in [0, 1)."""

    def __init__(self, label_smoothing=0.0):
        value = label_smoothing
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:  # NaN too
            raise ValueError(f"Loss.label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = label_smoothing

    def __call__(self, logits, labels):
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)


def build_loss(loss_config):
    """The loss of a ``Loss`` section, e.g. ``{"name": "CrossEntropy", "label_smoothing": 0.1}``."""
    options = dict(loss_config)
    name = options.pop("name", "CrossEntropy")
    LOSSES.check_options(name, options, where=f"Loss '{name}'")
    return LOSSES.build(name, **options)
