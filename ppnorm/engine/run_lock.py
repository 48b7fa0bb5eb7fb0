"""One run per output directory: an advisory lock file that the operating system releases when the process dies."""
import errno
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
    """``path`` can be written: an existing directory takes a probe file; a new one is not created here (a run refused
    later, e.g. at its data check, leaves no empty folder) but its nearest existing parent must be a writable
    directory. A file in the way, a missing permission, a full disk or a folder that is no run's to take over
    (:func:`check_not_a_root`) is a one-line error."""
    check_not_a_root(path, key)
    try:
        if os.path.isdir(path):
            probe = os.path.join(path, ".ppnorm.write-test")
            with open(probe, "w", encoding="utf-8") as handle:
                handle.write("ok")
            os.remove(probe)
        else:
            _check_creatable(path)
    except OSError as error:
        raise unusable(key, path, error) from None
    return path


def unusable(key, path, error):
    """The one-line :class:`OutputDirError` for an ``OSError`` met while preparing output directory ``path``."""
    reason = error.strerror or type(error).__name__
    return OutputDirError(f"{key}={path} cannot be used for writing ({reason}: {error.filename or path}); "
                          f"choose a writable directory")


PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # ppnorm/


def _roots():
    """Folders no run may take over as its output directory, each with what it is."""
    return {os.path.realpath(os.sep): "the file system's root", os.path.realpath(os.path.expanduser("~")):
            "your home directory", os.path.realpath(PACKAGE_DIR): "the ppnorm package",
            os.path.realpath(os.path.dirname(PACKAGE_DIR)): "the folder holding the ppnorm package (the checkout)"}


def check_not_a_root(path, key="Global.output_dir"):
    """Refuse ``/``, the home directory and ppnorm's own folders as an output directory: a run writes checkpoints,
    logs and config.yaml there and treats the folder as its own."""
    what = _roots().get(os.path.realpath(os.path.expanduser(str(path))))
    if what:
        raise OutputDirError(f"{key}={path} is {what}: a run writes its checkpoints, logs and config there; give it a "
                             f"folder of its own, e.g. {key}=output/<run name>")


def _check_creatable(path):
    """Raise the OSError that ``os.makedirs(path)`` would meet first, without creating anything."""
    parent = os.path.abspath(path)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), parent)


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
        try:  # the run is accepted: its output directory is created now, not at the checks before
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            raise unusable("Global.output_dir", os.path.dirname(self.path), error) from None
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


def missing_dirs(path):
    """The folders ``os.makedirs(path)`` would create, deepest first (none when ``path`` exists)."""
    found, path = [], os.path.abspath(path)
    while not os.path.lexists(path):
        found.append(path)
        path = os.path.dirname(path)
    return found


def remove_empty_dirs(created):
    """Remove those of ``created`` (from :func:`missing_dirs`, made by this run) that are still empty, deepest first:
    a run refused after making its output directory leaves nothing behind, and nothing it did not make is touched."""
    for path in created:
        try:
            os.rmdir(path)
        except OSError:  # not empty (the run wrote something), or already gone
            return
