"""One run per output directory: an advisory lock file that the operating system releases when the process dies."""
import os

try:
    import fcntl
except ImportError:  # not POSIX: no lock (a second run could overwrite the first's files)
    fcntl = None

LOCK_NAME = ".ppnorm.lock"
RUN_CHECKPOINTS = ("latest", "best_model")  # a directory holding one of these holds a run
CHECKPOINT_FILES = (".pdparams", ".pdopt", ".pdstates", ".pdcommit")


class RunLockError(RuntimeError):
    """Another process is training into the same output directory."""


class OutputDirError(ValueError):
    """The output directory cannot be created or written."""


def check_output_dir(path, key="Global.output_dir"):
    """Create ``path`` if needed; a file in the way, a missing permission or a full disk is one-line error."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".ppnorm.write-test")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("ok")
        os.remove(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OutputDirError(f"{key}={path} cannot be used for writing ({reason}: {error.filename or path}); "
                             f"choose a writable directory") from None
    return path


def _same_dir(prefix, directory):
    return os.path.realpath(os.path.dirname(prefix) or ".") == os.path.realpath(directory)


def check_no_other_run(path, checkpoints=None, overwrite=False):
    """A new run (not resuming a checkpoint of ``path``) into a directory that holds ``latest`` or
    ``best_model`` is a one-line error naming the three ways on, unless ``overwrite`` (Global.overwrite)."""
    if overwrite or (checkpoints and _same_dir(checkpoints, path)):
        return
    found = [name for name in RUN_CHECKPOINTS
             if any(os.path.exists(os.path.join(path, name + suffix)) for suffix in CHECKPOINT_FILES)]
    if found:
        raise OutputDirError(f"Global.output_dir={path} already holds another run's checkpoints ({', '.join(found)}); "
                             f"resume it with -o Global.checkpoints={os.path.join(path, 'latest')}, replace it with "
                             f"-o Global.overwrite=true, or train into another --output_dir")


class OutputDirLock:
    """``with OutputDirLock(dir):`` or ``acquire()`` / ``release()``; a second holder gets a one-line error."""

    def __init__(self, output_dir):
        self.path = os.path.join(output_dir, LOCK_NAME)
        self.handle = None

    def acquire(self):
        if fcntl is None or self.handle is not None:
            return self
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunLockError(f"{os.path.dirname(self.path)} is in use by another run (PID {holder}); wait for it, "
                               f"stop it, or set another Global.output_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle
        return self

    def release(self):
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
