"""Small helpers for the Paddle APIs that changed between 3.0.0 and the newest release.

ppnorm supports paddlepaddle 3.0.0 to 3.3.1. Where an API differs across that range, the code calls
one helper here instead of checking versions itself:

- ``Layer.train(mode)`` takes no argument before 3.3.0 (only ``train()`` / ``eval()``), and
  ``Layer.eval()`` returns ``None`` on 3.0.0: use ``set_training_mode``, which returns the layer.
- Restoring "the" mode of a model with ``train(was_training)`` also loses any sublayer that was in a
  different mode (a frozen BatchNorm in a training model): ``kept_training_modes`` restores each one.
"""
import contextlib


def set_training_mode(layer, training):
    """Put ``layer`` and all its sublayers in train (``training=True``) or eval mode; returns ``layer``.

    Same as ``layer.train(training)`` on paddle >= 3.3.0, on every supported release.
    """
    if training:
        layer.train()
    else:
        layer.eval()
    return layer


@contextlib.contextmanager
def kept_training_modes(model, training):
    """Run the block with ``model`` in train or eval mode, then give every sublayer its own mode back."""
    layers = [model] + list(model.sublayers())
    saved = [layer.training for layer in layers]
    set_training_mode(model, training)
    try:
        yield model
    finally:
        set_training_mode(model, saved[0])  # also sets paddle's global dygraph train/eval flag
        for layer, mode in zip(layers, saved):
            layer.training = mode
