"""Ctrl-C, SIGTERM and SIGHUP stop every tool the same way (exit code 128 + the signal's number).

``import paddle`` installs a C++ handler for SIGTERM that prints a ``FatalError`` dump and can
deadlock (it allocates memory inside the handler); SIGHUP has no handler at all and ends the process
silently. :func:`handling` replaces both with one Python handler for the three stop signals:

* while a training loop listens (:func:`stop_requests`), the first signal asks it to stop after the
  current step (it then saves ``latest``); a later one quits at once;
* otherwise the signal raises :class:`Stopped` (a ``KeyboardInterrupt``), which the tools' error
  policy (:func:`ppnorm.cli.run_tool`) turns into one line and the exit code;
* inside :func:`waits_end_on_stop` a requested stop also ends a wait for data (:func:`check_wait`),
  so that a worker stuck on one sample cannot hold the stop back;
* inside :func:`deferred` (a checkpoint being written) a signal waits until the block is done, and
  is dropped when a stop is already under way, so a second signal never cuts a save short.

Python runs the handler in the main thread between bytecodes; waits in the main thread must be
interruptible (lock and queue waits are, on POSIX) for a signal to end the run in bounded time.
"""
import contextlib
import signal

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """A stop signal ended the run; ``signum`` says which, ``note`` (or None) what was kept and how to go on."""

    def __init__(self, signum=signal.SIGINT, note=None):
        super().__init__(label(signum))
        self.signum, self.note = signum, note


def label(signum):
    """``Ctrl-C`` for SIGINT, else the signal's name (``SIGTERM``, ``SIGHUP``)."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def exit_code(signum):
    """The shell's convention for a run ended by signal ``signum``: 128 + its number."""
    return 128 + int(signum)


class StopWhileWaiting(Exception):
    """A stop was requested while the main thread waited for the next batch: stop without it."""


_STATE = {"installed": False, "on_stop": None, "stopping": False, "deferring": 0, "pending": None, "waits_end": 0,
          "raised": None}


def raised():
    """The signal whose :class:`Stopped` was last raised, or None: a library that catches it and raises its own
    error instead (Paddle's dy2static wraps it in "In transformed code") still ended the run by that signal."""
    return _STATE["raised"]


def _handle(signum, frame=None):
    if _STATE["deferring"]:
        if not _STATE["stopping"] and _STATE["pending"] is None:
            _STATE["pending"] = signum
        return
    on_stop = _STATE["on_stop"]
    if on_stop is not None and not _STATE["stopping"]:
        _STATE["stopping"] = True  # the next signal quits at once
        on_stop(signum)
        return
    _STATE["raised"] = signum
    raise Stopped(signum)


@contextlib.contextmanager
def handling():
    """Route the stop signals to this module for the block (main thread only; elsewhere a no-op).

    Nested uses keep the outer installation. Paddle is imported first, so that its C++ handler is
    the one replaced."""
    import paddle  # noqa: F401 - installs Paddle's handlers, which ours must replace

    if _STATE["installed"]:
        yield
        return
    try:
        previous = {signum: signal.signal(signum, _handle) for signum in STOP_SIGNALS}
    except ValueError:  # not the main thread: signals are the main thread's
        yield
        return
    _STATE["installed"], _STATE["raised"] = True, None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _STATE["installed"] = False


@contextlib.contextmanager
def stop_requests(callback):
    """Within the block the first stop signal calls ``callback(signum)`` instead of raising :class:`Stopped`."""
    with handling():
        _STATE["on_stop"], _STATE["stopping"] = callback, False
        if _STATE["raised"] is not None:  # a stop raised before the block that a library swallowed: stop now
            _STATE["stopping"] = True
            callback(_STATE["raised"])
        try:
            yield
        finally:
            _STATE["on_stop"], _STATE["stopping"] = None, False


@contextlib.contextmanager
def deferred():
    """Hold a stop signal until the block ends (e.g. a checkpoint is committed), then act on it."""
    _STATE["deferring"] += 1
    try:
        yield
    finally:
        _STATE["deferring"] -= 1
        signum, _STATE["pending"] = _STATE["pending"], None
        if signum is not None and not _STATE["deferring"]:
            _handle(signum)
        elif signum is not None:
            _STATE["pending"] = signum


@contextlib.contextmanager
def waits_end_on_stop():
    """Within the block, :func:`check_wait` raises :class:`StopWhileWaiting` once a stop was requested."""
    _STATE["waits_end"] += 1
    try:
        yield
    finally:
        _STATE["waits_end"] -= 1


def check_wait():
    """Called between the timeouts of a wait (e.g. for a worker's batch); see :func:`waits_end_on_stop`."""
    if _STATE["waits_end"] and _STATE["stopping"]:
        raise StopWhileWaiting
