"""What the six tools share: their common flags and one error policy.

Flags, spelled the same in every tool: ``-c/--config`` and ``-o/--override`` wherever a config is
read, ``--device`` and ``--cpu_threads`` (mapped onto ``Global.device`` / ``Global.cpu_threads`` where a
config holds them), ``--output_dir`` where a tool writes files, and ``-v/--verbose``.

Error policy (:func:`run_tool`): a user error (a ``ValueError`` such as ``ConfigError``, ``DataError``,
``CheckpointError``, a builder's check, or a tool's own error classes) is one ``error: ...`` line on
stderr and exit code 2. Anything else is a bug: one line naming the tool, the ppnorm and Paddle
versions and where to report it, with the traceback written to a log file (and printed with ``-v``).
Ctrl-C, SIGTERM and SIGHUP (:mod:`ppnorm.signals`) are one ``error: tools/<tool>.py interrupted (<signal>)``
line and exit code 128 + the signal's number: 130, 143, 129.
"""
import argparse
import errno
import functools
import os
import signal
import sys
import tempfile
import traceback

from . import __version__
from .boot import release
from .errors import first_line
from .quiet import show_all_warnings
from .signals import Stopped, exit_code, handling, label, raised

REPORT_TO = "the ppnorm repository's issue tracker"
_AS_COMMAND = [False]  # set by ppnorm.__main__: the tools run as ``ppnorm <tool>`` (an installed package)


def run_as_command(on=True):
    """Set by ``ppnorm``/``python -m ppnorm`` while a tool runs: messages name ``ppnorm <tool>`` instead of
    ``tools/<tool>.py``."""
    _AS_COMMAND[0] = on


def tool_name(tool):
    """How the user started ``tool``, for messages: ``ppnorm train`` or ``tools/train.py``."""
    return f"ppnorm {tool}" if _AS_COMMAND[0] else f"tools/{tool}.py"


def tool_command(tool):
    """The command that starts ``tool`` the way the user started this one: ``ppnorm infer`` or
    ``python tools/infer.py`` (a clone)."""
    return f"ppnorm {tool}" if _AS_COMMAND[0] else f"python tools/{tool}.py"
DEVICES = ("auto", "cpu", "gpu")


def reader_may_leave(main):
    """Decorate a tool's entry: when the reader of its output goes away (``ppnorm ... | head -1``), end quietly with
    the shell's code for it (141) instead of a BrokenPipeError."""
    @functools.wraps(main)
    def entry(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # Python's final flush of stdout must not fail again
            return 128 + signal.SIGPIPE
    return entry


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


class _ListConfigs(argparse.Action):
    """``--list-configs``: the names of the configs shipped with ppnorm (``-c`` takes them), then exit."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="list the configs shipped with ppnorm (give one as -c NAME) and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from .config_files import configs_dir, list_configs
        names = list_configs()
        print("\n".join(names) if names else "no shipped configs found")
        if names:
            print(f"({len(names)} configs in {configs_dir()}; a path to your own YAML file works too)")
        parser.exit()


def add_config_options(parser, required=True, metavar="Section.key=value", example="-o Global.epochs=3"):
    """``-c CONFIG`` (a YAML file, or a shipped config's name), ``--list-configs`` and the repeatable
    ``-o key=value ...`` (several values after each ``-o``)."""
    parser.add_argument("-c", "--config", required=required,
                        help="YAML config file, or the name of a shipped config (e.g. digits/resnet20; see "
                             "--list-configs); a file on disk wins over a shipped name")
    parser.add_argument("--list-configs", action=_ListConfigs)
    parser.add_argument("-o", "--override", action="append", nargs="+", default=[], metavar=metavar,
                        help=f"override config values, e.g. {example} (everything after the first '=' "
                             f"is the value, read as YAML)")


def add_runtime_options(parser, output_help=None):
    """``--device``, ``--cpu_threads``, ``-v`` and, when the tool writes files, ``--output_dir``."""
    parser.add_argument("--device", choices=DEVICES, default=None,
                        help="default: the config's Global.device; without a config 'auto' (the GPU when "
                             "this Paddle build has CUDA and sees one, else the CPU)")
    parser.add_argument("--cpu_threads", type=positive_int, default=None,
                        help="threads for Paddle's CPU kernels (default: Global.cpu_threads, else "
                             "OMP_NUM_THREADS, else all available cores)")
    if output_help:
        parser.add_argument("--output_dir", default=None, help=output_help)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print everything: the resolved config, every warning, and on an error the full "
                             "traceback")


def parse(parser, argv):
    """``parser.parse_args`` with ``args.override`` (if any) flattened to one list of ``key=value``."""
    args = parser.parse_args(argv)
    if getattr(args, "verbose", False):
        show_all_warnings()
    if hasattr(args, "override"):
        args.override = [item for group in args.override for item in group]
    return args


def resolve_device(device):
    """``auto`` -> ``gpu`` when this Paddle build has CUDA and sees a GPU, else ``cpu``."""
    if device != "auto":
        return device
    import paddle
    has_gpu = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    return "gpu" if has_gpu else "cpu"


def omp_threads(value):
    """``OMP_NUM_THREADS`` as read by a tool *before* importing paddle (which sets it to 1 when unset)."""
    return int(value) if value and value.strip().isdigit() and int(value) > 0 else None


def _paddle_version():
    paddle = sys.modules.get("paddle")
    return getattr(paddle, "__version__", "not imported")


def _write_log(tool, text):
    """Write ``text`` to a new file in the temporary directory; its path, or None if that fails."""
    try:
        handle, path = tempfile.mkstemp(prefix=f"ppnorm-{tool}-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        return path
    except OSError:
        return None


def report_unexpected(tool, error, verbose=False):
    """The one line for a bug: tool, versions, where to report it, where the traceback is. Returns 1."""
    text = traceback.format_exc()
    if verbose:
        sys.stderr.write(text)
    log = _write_log(tool, f"ppnorm {__version__}, Paddle {_paddle_version()}, {sys.argv!r}\n{text}")
    where = f"traceback in {log}" if log else "rerun with -v for the traceback"
    print(f"error: unexpected {type(error).__name__} in {tool_name(tool)}: {first_line(error)} "
          f"(ppnorm {__version__}, Paddle {_paddle_version()}); this is a bug, please report it with the "
          f"{where} to {REPORT_TO}", file=sys.stderr)
    return 1


# The disk said no (full, over quota, read-only, not permitted): the user's to fix, not a bug. Each with its fix.
STORAGE_ERRORS = {errno.ENOSPC: "free space or choose another output directory",
                  errno.EDQUOT: "free space or choose another output directory",
                  errno.EROFS: "choose a writable location",
                  errno.EACCES: "fix the file's permissions or choose another location",
                  errno.EPERM: "fix the file's permissions or choose another location"}


def run_tool(tool, function, verbose=False, user_errors=()):
    """Run ``function()`` (returns the exit code) under the error policy of this module and with the stop
    signals handled (:func:`ppnorm.signals.handling`)."""
    with handling():
        try:
            return _run(tool, function, verbose, user_errors)
        except KeyboardInterrupt as stop:  # a signal while the line of another error was printed
            return _interrupted(tool, stop)


def _interrupted(tool, stop):
    """The one line for a run ended by a stop signal; returns 128 + the signal's number."""
    signum = getattr(stop, "signum", signal.SIGINT)  # a plain KeyboardInterrupt is Ctrl-C
    note = f"; {stop.note}" if getattr(stop, "note", None) else ""
    try:
        print(f"error: {tool_name(tool)} interrupted ({label(signum)}){note}", file=sys.stderr, flush=True)
    except OSError:  # the terminal is gone (SIGHUP) or the pipe closed: the exit code still says it
        pass
    return exit_code(signum)


def _run(tool, function, verbose, user_errors):
    try:
        release()  # a stop signal held since the start (ppnorm.boot) now raises Stopped here
        code = function()
        if raised() is not None:  # a library caught our Stopped and went on: the run was still stopped
            return _interrupted(tool, Stopped(raised()))
        return code
    except KeyboardInterrupt as stop:
        return _interrupted(tool, stop)
    except Exception:  # noqa: BLE001 - a stop signal that a library wrapped in an error of its own is still a stop
        if raised() is None:
            return _error(tool, verbose, user_errors)
        return _interrupted(tool, Stopped(raised()))


def _error(tool, verbose, user_errors):
    """The one line for the exception being handled: a user error (exit 2), a full disk (2), or a bug (1)."""
    try:
        raise
    except (ValueError,) + tuple(user_errors) as error:
        if verbose:
            traceback.print_exc()
        print(f"error: {first_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            return report_unexpected(tool, error, verbose)
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror}{where} ({tool_name(tool)}); {STORAGE_ERRORS[error.errno]}, then run again",
              file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the last resort: one line and a log instead of a traceback
        return report_unexpected(tool, error, verbose)
