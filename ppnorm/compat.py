"""Small helpers for the Paddle APIs that changed between 3.0.0 and the newest release.

ppnorm supports paddlepaddle 3.0.0 to 3.3.1. Where an API differs across that range, the code calls
one helper here instead of checking versions itself:

- ``Layer.train(mode)`` takes no argument before 3.3.0 (only ``train()`` / ``eval()``), and
  ``Layer.eval()`` returns ``None`` on 3.0.0: use ``set_training_mode``, which returns the layer.
- ``require_paddle`` runs first on ``import ppnorm``: no Paddle build at all, or one older than 3.0.0,
  is one ``ImportError`` line naming the install command (Paddle is not a pip requirement of ppnorm,
  so that an existing ``paddlepaddle-gpu`` is never replaced by the CPU wheel; see setup.py).
- Restoring "the" mode of a model with ``train(was_training)`` also loses any sublayer that was in a
  different mode (a frozen BatchNorm in a training model): ``kept_training_modes`` restores each one.
"""
import contextlib
import re

MIN_PADDLE = (3, 0, 0)
INSTALL_HINT = ('install Paddle first: pip install "paddlepaddle>=3.0" for the CPU build, or paddlepaddle-gpu for your '
                'CUDA as shown on https://www.paddlepaddle.org.cn/install/quick')


def paddle_too_old(version):
    """True when a ``paddle.__version__`` string is older than 3.0.0 (``0.0.0``, a develop build, is not)."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version or "")
    if match is None:
        return False  # an unknown format: let Paddle itself decide
    release = tuple(int(part) for part in match.groups())
    return release != (0, 0, 0) and release < MIN_PADDLE


def require_paddle():
    """Import paddle; no Paddle build, or one older than 3.0.0, is a one-line ``ImportError`` with the fix."""
    from .quiet import without_paddle_omp_notice
    try:
        with without_paddle_omp_notice():
            import paddle
    except ModuleNotFoundError as error:
        if error.name != "paddle":
            raise  # paddle is there but broken: its own message says more than ours could
        raise ImportError(f"ppnorm needs PaddlePaddle >= 3.0.0 and none is installed; {INSTALL_HINT}") from None
    version = getattr(paddle, "__version__", "")
    if paddle_too_old(version):
        raise ImportError(f"ppnorm needs PaddlePaddle >= 3.0.0 but paddle {version} is installed; "
                          f"upgrade it: pip install -U \"paddlepaddle>=3.0\" (CPU), or paddlepaddle-gpu 3.x "
                          f"for your CUDA as shown on https://www.paddlepaddle.org.cn/install/quick")
    return paddle


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
