"""Known harmless warnings, silenced where they arise (``-v`` on any tool shows everything again).

Imported before Paddle (``ppnorm/__init__``), so it must not import Paddle itself. Each entry says why it
is harmless for ppnorm; a warning not listed here is always shown.
"""
import contextlib
import os
import re
import sys
import threading
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
    _SHOW_ALL[0] = True
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


# Paddle's C++ logging (glog) writes this to file descriptor 2 while paddle.jit.save converts a model (tools/export.py):
# "W1207 16:38:20.466866 27962 eager_utils.cc:3584] Paddle static graph(PIR) not support input out tensor for now!!!!!"
# The exported model is checked against the trained one right after; nothing in ppnorm passes an `out` tensor.
PADDLE_PIR_WARNING = re.compile(r"W\d{4} [\d:.]+ +\d+ [\w./]+:\d+\] Paddle static graph\(PIR\) not support input out "
                                r"tensor")
_GLOG_WARNING_START = re.compile(r"W(\d|$)")  # a glog warning's start: held until its line is complete
_SHOW_ALL = [False]  # -v: nothing is filtered


@contextlib.contextmanager
def without_fd2_lines(pattern=PADDLE_PIR_WARNING):
    """Within the block, drop the lines written to file descriptor 2 (C++ code writes there directly) that start
    with a match of ``pattern``; everything else passes on at once, line by line (or as it comes, when it cannot
    become such a line). After ``-v`` (:func:`show_all_warnings`) nothing is dropped."""
    if _SHOW_ALL[0]:
        yield
        return
    sys.stderr.flush()
    saved, (read_end, write_end) = os.dup(2), os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_pass_lines, args=(read_end, saved, pattern), daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer closes: the thread reads the rest, then end of file
        thread.join(timeout=5)
        os.close(saved)


def _pass_lines(read_end, target, pattern):
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as source:
        while True:
            chunk = source.read(65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not pattern.match(line.decode("utf-8", "replace")))
            if pending and not _GLOG_WARNING_START.match(pending.decode("utf-8", "replace")):
                out, pending = out + pending, b""
            _write_all(target, out)
    if pending and not pattern.match(pending.decode("utf-8", "replace")):
        _write_all(target, pending)


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]
