"""Loading ``latest`` while another process keeps saving into it: every load gets the previous or the new
complete checkpoint, never an error and never files of two saves (issue 24 §4)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

from ppnorm.engine import CheckpointError, load_checkpoint, save_checkpoint
from ppnorm.engine import checkpoint as ckpt
from ppnorm.engine import checkpoint_read

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint_race_worker.py")
SECONDS = 20
STATES = {"epoch": 1, "step": 0, "global_step": 4, "best_top1": 0.5, "best_epoch": 1}


def _start(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, WORKER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_reader_always_gets_a_whole_checkpoint_while_a_writer_saves(tmp_path):
    """Before the fix about 1 load in 200 of this loop failed (a raw FileNotFoundError of a renamed temporary
    file, a complete checkpoint called damaged) or silently mixed the weights of one save with the states of
    the next."""
    prefix = str(tmp_path / "latest")
    writer = _start("write", prefix, str(SECONDS + 10))  # outlives the reader: every load races a save
    reader = _start("read", prefix, str(SECONDS))
    out, err = reader.communicate(timeout=SECONDS + 180)
    writer.kill()
    writer.communicate(timeout=60)
    assert reader.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["loads"] >= 50 and result["steps"][1] > result["steps"][0] + 10, result  # saves happened meanwhile


# ------------------------------------------------------------------ the same races, each at one chosen instant
def _tiny():
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 2), paddle.nn.BatchNorm1D(2))
    return model, paddle.optimizer.Momentum(learning_rate=0.1, parameters=model.parameters())


def _save(prefix, epoch):
    model, optimizer = _tiny()
    model(paddle.ones([4, 3])).sum().backward()
    optimizer.step()
    save_checkpoint(str(prefix), model, optimizer, dict(STATES, epoch=epoch))


def _pending(tmp_path, epoch):
    """``ck`` holds epoch 1, and epoch ``epoch`` committed over it but not yet renamed (a writer mid-commit)."""
    _save(tmp_path / "ck", 1)
    _save(tmp_path / "new", epoch)
    record = {}
    for suffix in ckpt.SUFFIXES:
        shutil.copy(tmp_path / ("new" + suffix), tmp_path / ("ck" + suffix + ckpt.TMP))
        record[suffix] = ckpt.sha256(str(tmp_path / ("new" + suffix)))
    (tmp_path / ("ck" + ckpt.COMMIT)).write_text(json.dumps(record))


def _reads(monkeypatch, before_read):
    """Call ``before_read(path, number)`` before each file read of a load; returns the list of paths read."""
    paths, real = [], checkpoint_read.read_bytes

    def read(path, what):
        paths.append(path)
        before_read(path, len(paths))
        return real(path, what)
    monkeypatch.setattr(checkpoint_read, "read_bytes", read)
    monkeypatch.setattr(checkpoint_read.time, "sleep", lambda seconds: None)
    return paths


def test_temporary_files_renamed_away_mid_read_are_read_again_under_their_final_names(tmp_path, monkeypatch):
    _pending(tmp_path, 2)
    paths = _reads(monkeypatch, lambda path, n: n == 2 and ckpt._finish_commit(str(tmp_path / "ck")))
    assert load_checkpoint(str(tmp_path / "ck"), *_tiny())["epoch"] == 2
    assert paths[:2] == [str(tmp_path / ("ck" + s + ckpt.TMP)) for s in (".pdparams", ".pdopt")]
    assert paths[2:] == [str(tmp_path / ("ck" + s)) for s in ckpt.SUFFIXES]


def test_a_save_committed_between_reading_the_states_and_the_weights_is_read_whole(tmp_path, monkeypatch):
    """Without the retry this was 'ck.pdopt does not belong to ck.pdstates', or weights of one save with the
    states of the other when the save landed after the hash check."""
    _save(tmp_path / "ck", 1)
    _reads(monkeypatch, lambda path, n: n == 2 and _save(tmp_path / "ck", 2))
    model, optimizer = _tiny()
    assert load_checkpoint(str(tmp_path / "ck"), model, optimizer)["epoch"] == 2
    for key, value in paddle.load(str(tmp_path / "ck.pdparams")).items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())


def test_a_damaged_checkpoint_is_reported_after_one_read_when_nothing_changes(tmp_path, monkeypatch):
    _save(tmp_path / "ck", 1)
    (tmp_path / "ck.pdopt").write_bytes((tmp_path / "ck.pdopt").read_bytes()[:-10])
    paths = _reads(monkeypatch, lambda path, n: None)
    with pytest.raises(CheckpointError, match="ck.pdopt does not belong to .*ck.pdstates"):
        load_checkpoint(str(tmp_path / "ck"), *_tiny())
    assert len(paths) == 3


def test_a_checkpoint_that_changes_during_every_read_is_one_line_that_blames_the_writer(tmp_path, monkeypatch):
    _save(tmp_path / "ck", 1)
    paths = _reads(monkeypatch, lambda path, n: path.endswith(".pdopt") and _save(tmp_path / "ck", n))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(str(tmp_path / "ck"), *_tiny())
    assert str(error.value) == (f"Global.checkpoints: {tmp_path / 'ck'} changed while it was read, "
                                f"{checkpoint_read.READ_ATTEMPTS} times: another process keeps saving into it; resume when "
                                f"that process has stopped")
    assert len(paths) == 3 * checkpoint_read.READ_ATTEMPTS
