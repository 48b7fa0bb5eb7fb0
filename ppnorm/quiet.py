"""Known harmless warnings, silenced where they arise (``-v`` on any tool shows everything again).

Imported before Paddle (``ppnorm/__init__``), so it must not import Paddle itself. Each entry says why it
is harmless for ppnorm; a warning not listed here is always shown.
"""
import warnings

KNOWN_HARMLESS = [
    # paddle.utils.cpp_extension checks for ccache at import; ppnorm compiles no C++ extension.
    (r"No ccache found", UserWarning),
    # Paddle's BatchNorm1D/2D/3D warn on every training forward that they track running statistics: that is
    # the documented behaviour ppnorm relies on (experiments/batchnorm_basics checks it number by number).
    (r"When training, we now always track global mean and variance", UserWarning),
]


def quiet_known_warnings():
    for message, category in KNOWN_HARMLESS:
        warnings.filterwarnings("ignore", message=message, category=category)


def show_all_warnings():
    """Undo :func:`quiet_known_warnings` (``-v``): every warning from here on is printed."""
    for message, category in KNOWN_HARMLESS:
        warnings.filters[:] = [f for f in warnings.filters
                               if not (f[0] == "ignore" and f[1] is not None and f[1].pattern == message
                                       and f[2] is category)]
