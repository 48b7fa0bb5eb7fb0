"""What a ppnorm tool does before Paddle is imported (``ppnorm/__init__`` calls :func:`start` first thing).

* A deleted working directory (``cd x; rm -r ../x; ppnorm train ...``) is one line and exit 2, instead of a
  traceback from deep inside Paddle's import.
* The stop signals (Ctrl-C, SIGTERM, SIGHUP) are held (blocked) while Paddle is imported: Paddle installs a C++
  SIGTERM handler at import that prints a ``FatalError`` dump, and a Ctrl-C there would be a traceback.
  :func:`ppnorm.cli.run_tool` releases them once its own handlers are in place (:func:`release`), so a signal sent
  in the first second ends the tool with its one ``interrupted`` line and 128 + N like any other; one still held
  when the process exits (a tool that ended before reaching ``run_tool``) is reported the same way at exit.

Only a process started as a tool does this (``ppnorm``, ``python -m ppnorm``, ``tools/<tool>.py``): ``import ppnorm``
in a program of its own changes no signal.
"""
import atexit
import os
import signal
import sys

TOOLS = ("train", "eval", "export", "infer", "experiment", "benchmark")
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_HELD = [False]


def tool_process():
    """How this process was started, if as a ppnorm tool: ``ppnorm <command>`` or ``tools/<tool>.py``; else None."""
    argv = sys.argv or [""]
    script = os.path.basename(argv[0])
    if script in ("ppnorm", "ppnorm.exe"):
        return f"ppnorm {argv[1]}" if len(argv) > 1 else "ppnorm"
    if script in [f"{tool}.py" for tool in TOOLS] and os.path.basename(os.path.dirname(argv[0])) == "tools":
        return f"tools/{script}"
    original = list(getattr(sys, "orig_argv", []))
    if "-m" in original[:-1] and original[original.index("-m") + 1] == "ppnorm":
        rest = original[original.index("-m") + 2:]
        return f"ppnorm {rest[0]}" if rest else "ppnorm"
    return None


def start():
    """For a tool process: refuse a deleted working directory, then hold the stop signals until :func:`release`."""
    name = tool_process()
    if name is None:
        return
    try:
        os.getcwd()
    except FileNotFoundError:
        print(f"error: the current directory no longer exists (it was deleted or moved); cd to an existing "
              f"directory and run {name} again", file=sys.stderr)
        sys.exit(2)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        _HELD[0] = True
        atexit.register(_report_held, name)


def release():
    """Deliver the stop signals again (a held one now reaches the Python handler installed meanwhile)."""
    if _HELD[0]:
        _HELD[0] = False
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _report_held(name):
    """At exit: a stop signal still held (the tool ended before ``run_tool``) is the one line and 128 + N."""
    if not _HELD[0]:
        return
    pending = [signum for signum in STOP_SIGNALS if signum in signal.sigpending()]
    if pending:
        shown = "Ctrl-C" if pending[0] == signal.SIGINT else signal.Signals(pending[0]).name
        try:
            sys.stdout.flush()
            print(f"error: {name} interrupted ({shown})", file=sys.stderr, flush=True)
        finally:
            os._exit(128 + int(pending[0]))
