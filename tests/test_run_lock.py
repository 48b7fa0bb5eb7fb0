"""One run per output directory, however the directory is spelled: `out`, `out/`, `./out`, an absolute path or a
symlink name the same lock, the same checkpoints and the same refused folders. Also what check_output_dir probes
and creates (nothing), and which folders a refused run removes again."""
import errno
import fcntl
import os

import pytest
from helpers import assert_says

from ppnorm.engine import run_lock as R


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "out", tmp_path / "link")
    return tmp_path


SPELLINGS = ["out", "out/", "./out", "out/.", "link", "link/"]


# --- the lock ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("held", ["out", "./out/"])
@pytest.mark.parametrize("other", SPELLINGS + ["ABSOLUTE"])
def test_every_spelling_of_a_locked_directory_is_refused(cwd, held, other):
    other = str(cwd / "out") if other == "ABSOLUTE" else other
    with R.OutputDirLock(held) as lock:
        assert lock.handle is not None and lock.path == os.path.join(held, ".ppnorm.lock")
        with pytest.raises(R.RunLockError) as error:
            R.OutputDirLock(other).acquire()
        assert_says(str(error.value), f"{os.path.dirname(os.path.join(other, '.ppnorm.lock'))} ",
                    f"(PID {os.getpid()})", "another Global.output_dir")
    assert lock.handle is None
    R.OutputDirLock(other).acquire().release()  # released: free under any name


def test_the_lock_file_holds_the_pid_and_a_second_acquire_is_a_no_op(cwd):
    (cwd / "out" / ".ppnorm.lock").write_text("12345678 left by a dead run")
    lock = R.OutputDirLock("out").acquire()
    handle = lock.handle
    assert (cwd / "out" / ".ppnorm.lock").read_text() == str(os.getpid())
    assert lock.acquire() is lock and lock.handle is handle
    lock.release()
    lock.release()  # twice: nothing to do
    assert lock.handle is None and handle.closed


def test_a_holder_that_wrote_no_pid_is_unknown(cwd):
    handle = open(cwd / "out" / ".ppnorm.lock", "a+")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(R.RunLockError, match=r"^out is in use by another run \(PID unknown\); "):
            R.OutputDirLock("out").acquire()
    finally:
        handle.close()


def test_acquiring_creates_the_output_directory_and_refuses_a_file_in_the_way(cwd):
    with R.OutputDirLock("new/deep"):
        assert os.listdir(cwd / "new" / "deep") == [".ppnorm.lock"]
    with R.OutputDirLock("") as here:  # the current directory
        assert here.path == ".ppnorm.lock" and sorted(os.listdir(cwd)) == [".ppnorm.lock", "link", "new", "out"]
    (cwd / "file").write_text("x")
    with pytest.raises(R.OutputDirError) as error:
        R.OutputDirLock("file/run").acquire()
    assert str(error.value) == ("Global.output_dir=file/run cannot be used for writing (Not a directory: "
                                "file/run); choose a writable directory")


def test_without_fcntl_there_is_no_lock_and_no_file(cwd, monkeypatch):
    monkeypatch.setattr(R, "fcntl", None)
    lock = R.OutputDirLock("fresh").acquire()
    assert lock.handle is None and not (cwd / "fresh").exists()
    R.OutputDirLock("fresh").acquire()


# --- another run's checkpoints ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SPELLINGS)
@pytest.mark.parametrize("checkpoints", ["out/latest", "./out/latest", "link/latest", "ABSOLUTE"])
def test_resuming_a_run_under_another_spelling_of_its_directory_is_allowed(cwd, path, checkpoints):
    (cwd / "out" / "latest.pdparams").write_text("x")
    checkpoints = str(cwd / "out" / "best_model") if checkpoints == "ABSOLUTE" else checkpoints
    R.check_no_other_run(path, checkpoints)
    with pytest.raises(R.OutputDirError):
        R.check_no_other_run(path)


def test_a_checkpoint_named_without_a_folder_is_in_the_current_directory(cwd, monkeypatch):
    (cwd / "out" / "latest.pdopt").write_text("x")
    with pytest.raises(R.OutputDirError):
        R.check_no_other_run("out", "latest")
    monkeypatch.chdir(cwd / "out")
    R.check_no_other_run(".", "latest")
    R.check_no_other_run(str(cwd / "link"), "latest")


@pytest.mark.parametrize("suffix", [".pdparams", ".pdopt", ".pdstates", ".pdcommit"])
def test_any_checkpoint_file_marks_a_run_and_the_message_names_the_ways_on(cwd, suffix):
    (cwd / "out" / ("best_model" + suffix)).write_text("x")
    (cwd / "out" / "best_model.txt").write_text("x")
    with pytest.raises(R.OutputDirError) as error:
        R.check_no_other_run("out/", str(cwd / "elsewhere" / "latest"))
    assert str(error.value) == ("Global.output_dir=out/ already holds another run's checkpoints (best_model); resume "
                                "it with -o Global.checkpoints=out/latest, replace it with -o Global.overwrite=true, "
                                "or train into another --output_dir")
    (cwd / "out" / "latest.pdparams").write_text("x")
    with pytest.raises(R.OutputDirError, match=r"checkpoints \(latest, best_model\); "):
        R.check_no_other_run("out")
    R.check_no_other_run("out", overwrite=True)


def test_other_files_are_no_run(cwd):
    for name in ("latest", "best_model.pdparams.tmp", "epoch_3.pdparams", "latest.yaml"):
        (cwd / "out" / name).write_text("x")
    R.check_no_other_run("out")
    R.check_no_other_run("missing")


# --- folders no run may take ------------------------------------------------------------------------------------------

def test_the_root_home_and_the_package_are_refused_under_any_spelling(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    os.symlink(home, tmp_path / "home-link")
    package = R.PACKAGE_DIR
    cases = {"/": "the file system's root", "//": "the file system's root", "/.": "the file system's root",
             "~": "your home directory", "~/": "your home directory", str(home): "your home directory",
             str(tmp_path / "home-link"): "your home directory", package: "the ppnorm package",
             package + "/engine/..": "the ppnorm package",
             os.path.dirname(package): "the folder holding the ppnorm package (the checkout)"}
    for path, what in cases.items():
        with pytest.raises(R.OutputDirError) as error:
            R.check_not_a_root(path, "output_dir")
        assert_says(str(error.value), f"output_dir={path} is {what}: ", "e.g. output_dir=output/<run name>")
    with pytest.raises(R.OutputDirError, match=r"^Global.output_dir=~ is your home"):
        R.check_output_dir("~")
    with pytest.raises(R.OutputDirError, match=r"^--output_dir=/ is the file system's root: "):
        R.check_output_dir("/", "--output_dir")
    with pytest.raises(R.OutputDirError, match=r"^Global.output_dir=/ is the file system's root: .* e.g. "
                                               r"Global.output_dir=output/<run name>$"):
        R.check_not_a_root("/")
    for fine in (str(home / "run"), "~/run", os.path.join(package, "engine"), str(tmp_path)):
        R.check_not_a_root(fine)
    R.check_not_a_root(tmp_path / "run")  # a Path


# --- writable output directories --------------------------------------------------------------------------------------

def test_an_existing_directory_is_probed_and_left_as_it_was(cwd):
    assert R.check_output_dir("out/") == "out/"
    assert sorted(os.listdir(cwd / "out")) == []


def test_a_new_directory_is_checked_but_not_created(cwd):
    assert R.check_output_dir("new/deeper/run", "--output_dir") == "new/deeper/run"
    assert sorted(os.listdir(cwd)) == ["link", "out"]


def test_a_probe_that_cannot_be_written_is_a_one_line_error(cwd):
    (cwd / "out" / ".ppnorm.write-test").mkdir()
    with pytest.raises(R.OutputDirError) as error:
        R.check_output_dir("out", "output_dir")
    assert str(error.value) == ("output_dir=out cannot be used for writing (Is a directory: out/.ppnorm.write-test); "
                                "choose a writable directory")


def test_a_file_or_a_dangling_link_in_the_way_is_not_a_directory(cwd):
    (cwd / "file").write_text("x")
    os.symlink(cwd / "gone", cwd / "dangling")
    for path, blocked in (("file/run/deep", "file"), ("dangling/run", "dangling"), ("file", "file")):
        with pytest.raises(R.OutputDirError) as error:
            R.check_output_dir(path)
        assert str(error.value) == (f"Global.output_dir={path} cannot be used for writing (Not a directory: "
                                    f"{cwd / blocked}); choose a writable directory")


def test_a_parent_without_write_or_search_permission_is_refused(cwd, monkeypatch):
    asked = []

    def access(path, mode):
        asked.append((path, mode))
        return False
    monkeypatch.setattr(R.os, "access", access)
    with pytest.raises(R.OutputDirError) as error:
        R.check_output_dir("out/new/run")
    assert asked == [(str(cwd / "out"), os.W_OK | os.X_OK)]
    assert str(error.value) == (f"Global.output_dir=out/new/run cannot be used for writing (Permission denied: "
                                f"{cwd / 'out'}); choose a writable directory")


def test_unusable_names_the_error_type_and_the_path_when_the_error_does_not():
    assert str(R.unusable("k", "p", OSError())) == "k=p cannot be used for writing (OSError: p); choose a writable " \
                                                   "directory"
    error = OSError(errno.ENOSPC, "No space left on device", "p/x")
    assert str(R.unusable("k", "p", error)) == "k=p cannot be used for writing (No space left on device: p/x); " \
                                               "choose a writable directory"


# --- folders a refused run removes ------------------------------------------------------------------------------------

def test_missing_dirs_lists_what_makedirs_would_create_deepest_first(cwd):
    assert R.missing_dirs("out/a/b") == [str(cwd / "out" / "a" / "b"), str(cwd / "out" / "a")]
    assert R.missing_dirs("link/a") == [str(cwd / "link" / "a")]
    assert R.missing_dirs("out/") == [] and R.missing_dirs("dangling-free") == [str(cwd / "dangling-free")]
    os.symlink(cwd / "gone", cwd / "dangling")
    assert R.missing_dirs("dangling") == []  # a link is there, even if it leads nowhere


def test_remove_empty_dirs_stops_at_the_first_folder_that_is_not_empty(cwd):
    created = R.missing_dirs("out/a/b/c")
    os.makedirs("out/a/b/c")
    (cwd / "out" / "a" / "keep.txt").write_text("x")
    R.remove_empty_dirs(created)
    assert sorted(os.listdir(cwd / "out" / "a")) == ["keep.txt"]
    (cwd / "out" / "a" / "keep.txt").unlink()
    os.makedirs("out/a/b")
    R.remove_empty_dirs(created)  # c is already gone: nothing more is removed
    assert os.path.isdir(cwd / "out" / "a" / "b")
    R.remove_empty_dirs(created[1:])
    assert os.listdir(cwd / "out") == []
