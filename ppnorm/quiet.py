"""Known harmless warnings, silenced where they arise (``-v`` on any tool shows everything again).

Imported before Paddle (``ppnorm/__init__``), so it must not import Paddle itself. Each entry says why it
is harmless for ppnorm; a warning not listed here is always shown.
"""
import contextlib
import sys
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


# Paddle prints this to stderr when it is imported with OMP_NUM_THREADS above 1 (advice for data-parallel
# training); ppnorm applies the thread count itself (Global.cpu_threads, --cpu_threads, else OMP_NUM_THREADS).
PADDLE_OMP_NOTICE = ("WARNING: OMP_NUM_THREADS set to ", "PLEASE USE OMP_NUM_THREADS WISELY.")


class _DropLines:
    """A stream that passes whole lines on to ``target`` except those starting with one of ``prefixes``."""

    def __init__(self, target, prefixes):
        self.target, self.prefixes, self.pending = target, prefixes, ""

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if not line.startswith(self.prefixes):
                self.target.write(line + "\n")
        return len(text)

    def flush(self):
        self.target.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, ...: the real stream's
        return getattr(self.target, name)

    def close_pending(self):
        if self.pending and not self.pending.startswith(self.prefixes):
            self.target.write(self.pending)
        self.pending = ""


@contextlib.contextmanager
def without_paddle_omp_notice():
    """While Paddle is imported, drop its two-line ``OMP_NUM_THREADS`` notice from stderr (and nothing else)."""
    original = sys.stderr
    sys.stderr = _DropLines(original, PADDLE_OMP_NOTICE)
    try:
        yield
    finally:
        sys.stderr.close_pending()
        sys.stderr = original
