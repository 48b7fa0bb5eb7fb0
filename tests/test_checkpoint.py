"""Checkpoints: committed as one unit under SIGKILL at any instant, damaged files refused in one line."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from ppnorm.engine import CheckpointError, load_checkpoint, save_checkpoint
from ppnorm.engine import checkpoint as checkpoint_module
from ppnorm.engine.cli import train_main
from ppnorm.engine.run_lock import OutputDirLock, RunLockError

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = ["-c", "configs/digits/resnet20.yaml", "-o", "Global.epochs=3", "Global.use_visualdl=false",
       "Global.eval_interval=1", "DataLoader.Train.batch_size=256", "Arch.dropout=0.2"]


def _weights(prefix):
    return {k: v.numpy() for k, v in paddle.load(str(prefix) + ".pdparams").items()}


def _train(out, *extra):
    assert train_main(RUN + [f"Global.output_dir={out}", *extra]) == 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    _train(out)
    return _weights(out / "latest")


@pytest.mark.parametrize("point, resumed_epoch", [("params_partial", 1), ("opt_written", 1), ("committed", 2),
                                                  ("one_renamed", 2)])
@pytest.mark.slow
def test_sigkill_while_saving_leaves_a_whole_checkpoint_and_resume_is_exact(tmp_path, reference, point,
                                                                            resumed_epoch):
    out = tmp_path / "run"
    killed = subprocess.run([sys.executable, "tests/kill_worker.py", "2", point] + RUN
                            + [f"Global.output_dir={out}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    model, optimizer = _tiny()
    with pytest.raises(CheckpointError):  # the tiny model is not resnet20: proves the files are read at all
        load_checkpoint(str(out / "latest"), model, optimizer)
    pending = point in ("committed", "one_renamed")  # committed: the temporary files are the new checkpoint
    states = paddle.load(str(out / ("latest.pdstates.tmp" if pending else "latest.pdstates")))
    assert states["epoch"] == resumed_epoch
    _train(out, f"Global.checkpoints={out / 'latest'}")
    assert not [f for f in os.listdir(out) if f.endswith((".tmp", ".pdcommit"))]
    final = _weights(out / "latest")
    assert sorted(final) == sorted(reference)
    for key in final:
        np.testing.assert_array_equal(final[key], reference[key], err_msg=key)


def _tiny():
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 2), paddle.nn.BatchNorm1D(2))
    return model, paddle.optimizer.Momentum(learning_rate=0.1, parameters=model.parameters())


def _save_tiny(prefix, epoch=1):
    model, optimizer = _tiny()
    model(paddle.ones([4, 3])).sum().backward()
    optimizer.step()
    save_checkpoint(str(prefix), model, optimizer, {"epoch": epoch, "step": 0, "global_step": 4 * epoch,
                                                     "best_top1": 0.5, "best_epoch": epoch})
    return model


def test_round_trip_restores_weights_optimizer_and_states(tmp_path):
    saved = _save_tiny(tmp_path / "ck", epoch=3)
    model, optimizer = _tiny()
    states = load_checkpoint(str(tmp_path / "ck"), model, optimizer)
    assert states == {"epoch": 3, "step": 0, "global_step": 12, "best_top1": 0.5, "best_epoch": 3}
    for key, value in saved.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())
    assert sorted(os.listdir(tmp_path)) == ["ck.pdopt", "ck.pdparams", "ck.pdstates"]


@pytest.mark.parametrize("suffix", [".pdparams", ".pdopt", ".pdstates"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_damaged_files_are_one_line_errors_naming_the_file(tmp_path, suffix, damage):
    _save_tiny(tmp_path / "ck")
    path = tmp_path / ("ck" + suffix)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10}[damage])
    model, optimizer = _tiny()
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(str(tmp_path / "ck"), model, optimizer)
    message = str(error.value)
    assert str(path) in message and "\n" not in message


def test_files_of_two_checkpoints_are_not_loaded_together(tmp_path):
    _save_tiny(tmp_path / "a", epoch=1)
    _save_tiny(tmp_path / "b", epoch=2)
    os.replace(tmp_path / "b.pdparams", tmp_path / "a.pdparams")
    model, optimizer = _tiny()
    with pytest.raises(CheckpointError, match=r"a.pdparams does not belong to .*a.pdstates"):
        load_checkpoint(str(tmp_path / "a"), model, optimizer)


def test_uncommitted_leftovers_are_ignored_and_cleaned(tmp_path):
    saved = _save_tiny(tmp_path / "ck", epoch=1)
    (tmp_path / "ck.pdparams.tmp").write_bytes(b"half a file")  # a save killed before its commit
    model, optimizer = _tiny()
    assert load_checkpoint(str(tmp_path / "ck"), model, optimizer)["epoch"] == 1
    np.testing.assert_array_equal(model[0].weight.numpy(), saved[0].weight.numpy())
    _save_tiny(tmp_path / "ck", epoch=2)
    assert sorted(os.listdir(tmp_path)) == ["ck.pdopt", "ck.pdparams", "ck.pdstates"]


@pytest.mark.parametrize("failing_write", [1, 2, 3, 4])  # .pdparams, .pdopt, .pdstates, the commit record
def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint_and_leaves_no_temporary(tmp_path, monkeypatch,
                                                                                        failing_write):
    saved = _save_tiny(tmp_path / "ck", epoch=1)
    real_open, calls = open, []

    def open_on_a_filling_disk(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            calls.append(path)
            if len(calls) == failing_write:
                handle.write(b"half" if "b" in mode else "half")  # what a full disk leaves behind
                handle.close()
                raise OSError(28, "No space left on device")
        return handle

    monkeypatch.setattr(checkpoint_module, "open", open_on_a_filling_disk, raising=False)
    with pytest.raises(CheckpointError) as error:
        _save_tiny(tmp_path / "ck", epoch=2)
    message = str(error.value)
    assert "No space left on device" in message and str(tmp_path / "ck") in message and "\n" not in message
    assert sorted(os.listdir(tmp_path)) == ["ck.pdopt", "ck.pdparams", "ck.pdstates"]
    monkeypatch.undo()
    assert len(calls) == failing_write
    model, optimizer = _tiny()
    assert load_checkpoint(str(tmp_path / "ck"), model, optimizer)["epoch"] == 1
    np.testing.assert_array_equal(model[0].weight.numpy(), saved[0].weight.numpy())


def test_garbage_training_states_and_another_optimizer_are_refused(tmp_path):
    _save_tiny(tmp_path / "ck")
    states = paddle.load(str(tmp_path / "ck.pdstates"))
    paddle.save(dict(states, epoch="three"), str(tmp_path / "ck.pdstates"))
    model, optimizer = _tiny()
    with pytest.raises(CheckpointError, match="does not hold ppnorm training states"):
        load_checkpoint(str(tmp_path / "ck"), model, optimizer)
    _save_tiny(tmp_path / "ok")
    model, _ = _tiny()
    adam = paddle.optimizer.Adam(learning_rate=0.1, parameters=model.parameters())
    with pytest.raises(CheckpointError, match="holds the state of Optimizer.name=Momentum, but this run uses Adam"):
        load_checkpoint(str(tmp_path / "ok"), model, adam)


def test_weights_of_another_norm_and_float64_weights(tmp_path):
    model, _ = _tiny()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    paddle.save(dict(state, **{"1.extra": np.zeros(2, "float32")}), str(tmp_path / "extra.pdparams"))
    from ppnorm.engine import load_pretrained
    with pytest.raises(CheckpointError, match=r"has 1 weights the model lacks, e.g. 1.extra"):
        load_pretrained(str(tmp_path / "extra"), model)
    doubles = {k: v.astype("float64") + 1.0 for k, v in state.items()}
    paddle.save(doubles, str(tmp_path / "f64.pdparams"))
    load_pretrained(str(tmp_path / "f64"), model)
    for key, value in model.state_dict().items():
        assert value.dtype == paddle.float32
        np.testing.assert_allclose(value.numpy(), doubles[key], rtol=1e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_with_nan_or_inf_are_refused_for_eval_export_and_finetuning(tmp_path, bad):
    from ppnorm.engine import load_pretrained
    model = _save_tiny(tmp_path / "ck")
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["1._mean"] = np.array([0.5, bad], "float32")  # a BN running mean trained into NaN / Inf
    paddle.save(state, str(tmp_path / "bad.pdparams"))
    fresh, _ = _tiny()
    with pytest.raises(CheckpointError, match=r"bad.pdparams.*1._mean holds 1 NaN/Inf value\(s\) of 2"):
        load_pretrained(str(tmp_path / "bad"), fresh)


def test_a_second_run_on_one_output_dir_is_refused_with_the_holders_pid(tmp_path, capsys):
    with OutputDirLock(str(tmp_path)):
        with pytest.raises(RunLockError, match=rf"in use by another run \(PID {os.getpid()}\)"):
            OutputDirLock(str(tmp_path)).acquire()
        assert train_main(RUN + [f"Global.output_dir={tmp_path}", "Global.use_visualdl=true"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and f"PID {os.getpid()}" in err and "\n" not in err
    assert os.listdir(tmp_path) == [".ppnorm.lock"]  # nothing written into the holder's directory, no VisualDL log
    OutputDirLock(str(tmp_path)).acquire().release()  # released: free again


@pytest.mark.parametrize("where", ["a_file", "under_a_file", "read_only"])
def test_an_unwritable_output_dir_is_one_line(tmp_path, capsys, where):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "ro").mkdir(mode=0o500)
    out = {"a_file": tmp_path / "file", "under_a_file": tmp_path / "file" / "run", "read_only": tmp_path / "ro"}[where]
    if where == "read_only" and os.access(out, os.W_OK):
        pytest.skip("running as root: a read-only directory is still writable")
    assert train_main(RUN + [f"Global.output_dir={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: Global.output_dir={out} cannot be used for writing") and "\n" not in err
    assert (tmp_path / "file").read_text() == "mine" and os.listdir(tmp_path / "ro") == []
