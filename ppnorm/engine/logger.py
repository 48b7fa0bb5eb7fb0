"""Console lines in the PaddleClas shape, and VisualDL scalars and norm-layer histograms (rank 0 only)."""
import datetime
import errno
import io
import os
import sys
import tempfile

from ..models.init import is_norm


def log_writer_class():
    """``visualdl.LogWriter``. Importing VisualDL writes ``~/.visualdl/conf`` (its server settings); with a home
    folder that is missing or read-only (a container user such as ``nobody``) the import would fail or create that
    home, so VisualDL is pointed at a folder of ppnorm's own in the temporary directory for the import."""
    home = os.path.expanduser("~")
    if "visualdl" in sys.modules or (os.path.isdir(home) and os.access(home, os.W_OK)):
        from visualdl import LogWriter
        return LogWriter
    saved = os.environ.get("HOME")
    os.environ["HOME"] = os.path.join(tempfile.gettempdir(), f"ppnorm-visualdl-{os.getuid()}")
    try:
        from visualdl import LogWriter
    finally:
        os.environ.pop("HOME") if saved is None else os.environ.__setitem__("HOME", saved)
    return LogWriter


def format_eta(seconds):
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class Logger:
    """Prints on rank 0; writes VisualDL logs under ``<output_dir>/vdl`` when enabled.

    The log file is created at the first value written, so a run refused before training (e.g. by
    another run's lock on the output directory) leaves nothing behind.
    """

    def __init__(self, output_dir, rank=0, use_visualdl=True, stream=None, verbose=False):
        self.rank, self.verbose = rank, verbose
        self.stream = stream or sys.stdout
        self.logdir = os.path.join(output_dir, "vdl")
        self.log_file = os.path.join(output_dir, "train.log")
        self._lines, self._file = [], None  # lines wait in memory until the run owns output_dir (open_file)
        self._writer_class = None
        self._writer = None
        self._console_gone = False
        if rank == 0 and use_visualdl:
            self._writer_class = log_writer_class()  # VisualDL is imported only when logging is on

    @property
    def vdl(self):
        """The VisualDL writer (created on first use), or None when logging is off."""
        if self._writer is None and self._writer_class is not None:
            self._writer = self._writer_class(logdir=self.logdir)
        return self._writer

    def info(self, message):
        """A console line, also written to ``train.log``."""
        if self.rank == 0:
            self._console(message)
            self._write(message)

    def detail(self, message):
        """A line for ``train.log`` only (and the console with ``-v``), e.g. the resolved config."""
        if self.rank == 0:
            if self.verbose:
                self._console(message)
            self._write(message)

    def _console(self, message):
        """Print ``message``; once the console is gone (a closed terminal, the reader of a pipe ended: EIO,
        EPIPE) training goes on with ``train.log`` alone instead of failing at its next line."""
        if self._console_gone:
            return
        try:
            print(message, file=self.stream, flush=True)
        except OSError as error:
            if error.errno not in (errno.EIO, errno.EPIPE):
                raise
            self._console_gone = True
            _to_devnull(self.stream)

    def _write(self, message):
        if self._file is None:
            self._lines.append(message)
        else:
            self._file.write(message + "\n")
            self._file.flush()

    def open_file(self):
        """Start ``train.log`` (appending: a resumed run continues it) with the lines logged so far."""
        if self.rank == 0 and self._file is None:
            self._file = open(self.log_file, "a", encoding="utf-8")
            for line in self._lines:
                self._file.write(line + "\n")
            self._file.flush()
            self._lines = []

    def scalars(self, values, step):
        if self.vdl is not None:
            for tag, value in values.items():
                self.vdl.add_scalar(tag=tag, value=float(value), step=step)

    def norm_histograms(self, model, step):
        """Scale, shift, running mean and running variance of every norm layer, as histograms."""
        if self.vdl is None:
            return
        names = {"weight": "scale", "scale": "scale", "bias": "shift", "_mean": "running_mean",
                 "_variance": "running_var"}
        for layer_name, layer in model.named_sublayers():
            if not is_norm(layer):
                continue
            for name, param in layer.named_parameters(include_sublayers=False):
                if name in names:
                    self.vdl.add_histogram(tag=f"norm/{layer_name}/{names[name]}", values=param.numpy().ravel(),
                                           step=step, buckets=20)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._writer_class = None  # closed: no new log file


def _to_devnull(stream):
    """Point ``stream``'s file descriptor at /dev/null, so that what is still buffered (and the interpreter's
    flush at exit, which would otherwise make the exit code 120) goes nowhere instead of failing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # no descriptor (e.g. a StringIO)
        pass
