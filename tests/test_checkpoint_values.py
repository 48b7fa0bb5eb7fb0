"""Checkpoint and pretrained loading, word for word and value for value (fast; no training).

The cases were found by mutmut (tools/mutation.py checkpoint): each fails if a message, a file
name, the pending-commit rule, the optimizer-state renaming or a dtype rule changes.
"""
import os
import json
import shutil

import numpy as np
import paddle
import pytest

import ppnorm

from ppnorm.engine import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from ppnorm.engine import checkpoint as ckpt
from ppnorm.weights import load_line, load_strict

from test_checkpoint import _tiny  # the same Linear + BatchNorm1D model and Momentum optimizer

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

STATES = {"epoch": 1, "step": 0, "global_step": 4, "best_top1": 0.5, "best_epoch": 1}


def _save(prefix, epoch=1):
    model, optimizer = _tiny()
    model(paddle.ones([4, 3])).sum().backward()
    optimizer.step()
    save_checkpoint(str(prefix), model, optimizer, dict(STATES, epoch=epoch))
    return model


def _message(function, *args):
    with pytest.raises(CheckpointError) as error:
        function(*args)
    return str(error.value)


def test_optimizer_state_is_stored_under_structured_names(tmp_path):
    _save(tmp_path / "ck")
    assert sorted(paddle.load(str(tmp_path / "ck.pdopt"))) == [
        "0.bias_velocity_0", "0.weight_velocity_0", "1.bias_velocity_0", "1.weight_velocity_0"]
    names = {"fc_1.w_0": "fc.weight", "fc_1.w_0_x": "head.weight"}  # one name is a prefix of the other
    state = {"fc_1.w_0_velocity_0": 1, "fc_1.w_0_x_velocity_0": 2, "LR_Scheduler": 3}
    assert ckpt._rename_optimizer_state(state, names) == {"fc.weight_velocity_0": 1, "head.weight_velocity_0": 2,
                                                          "LR_Scheduler": 3}


def test_a_pending_commit_is_read_from_the_temporary_files(tmp_path):
    _save(tmp_path / "ck", epoch=1)
    _save(tmp_path / "new", epoch=2)
    record = {}
    for suffix in ckpt.SUFFIXES:  # "new" committed under the name ck, killed before its renames
        shutil.copy(tmp_path / ("new" + suffix), tmp_path / ("ck" + suffix + ".tmp"))
        record[suffix] = ckpt.sha256(str(tmp_path / ("new" + suffix)))
    (tmp_path / "ck.pdcommit").write_text(json.dumps(record))
    model, optimizer = _tiny()
    assert load_checkpoint(str(tmp_path / "ck"), model, optimizer)["epoch"] == 2
    for bad in ("[1, 2]", '{".pdparams": "0"}'):  # a damaged record: the final files are the checkpoint
        (tmp_path / "ck.pdcommit").write_text(bad)
        assert load_checkpoint(str(tmp_path / "ck"), model, optimizer)["epoch"] == 1


def test_a_missing_checkpoint_file_names_the_three_files(tmp_path):
    _save(tmp_path / "ck")
    os.remove(tmp_path / "ck.pdopt")
    prefix = str(tmp_path / "ck")
    assert _message(load_checkpoint, prefix, *_tiny()) == (
        f"Global.checkpoints: {prefix}.pdopt not found (a checkpoint is the three files "
        f"{prefix}{{.pdparams,.pdopt,.pdstates}}, e.g. output/<run>/latest)")


def test_states_without_file_hashes_or_optimizer_name_load_and_name_damaged_files(tmp_path):
    _save(tmp_path / "ck")
    states = {k: v for k, v in paddle.load(str(tmp_path / "ck.pdstates")).items() if k not in ("files", "optimizer")}
    paddle.save(states, str(tmp_path / "ck.pdstates"))
    assert load_checkpoint(str(tmp_path / "ck"), *_tiny()) == STATES  # an older checkpoint: no hashes, no name
    for suffix, what in ((".pdparams", "weights"), (".pdopt", "optimizer state")):
        copy = tmp_path / suffix[1:]
        shutil.copytree(tmp_path, copy, ignore=shutil.ignore_patterns("pd*"))
        (copy / ("ck" + suffix)).write_bytes(b"not a checkpoint" * 10)
        assert _message(load_checkpoint, str(copy / "ck"), *_tiny()) == (
            f"{copy / ('ck' + suffix)} cannot be read as Paddle {what} (ValueError); the file is truncated or not "
            f"a Paddle file; use another checkpoint")
    (tmp_path / "ck.pdstates").write_bytes(b"")
    assert _message(load_checkpoint, str(tmp_path / "ck"), *_tiny()) == (
        f"{tmp_path / 'ck.pdstates'} is empty (0 bytes): the training states file is damaged; use another checkpoint")
    (tmp_path / "ck.pdstates").write_bytes(b"x")  # one byte is not "empty"
    assert "cannot be read as Paddle training states" in _message(load_checkpoint, str(tmp_path / "ck"), *_tiny())
    paddle.save(dict(states, epoch="one"), str(tmp_path / "ck.pdstates"))
    assert _message(load_checkpoint, str(tmp_path / "ck"), *_tiny()) == (
        f"{tmp_path / 'ck.pdstates'} does not hold ppnorm training states (epoch, step, global_step, best_top1, "
        f"best_epoch); it is damaged or not a ppnorm checkpoint")
    paddle.save({"metric": 0.5, "epoch": 3}, str(tmp_path / "ck.pdstates"))  # what PaddleClas's save_model writes
    assert _message(load_checkpoint, str(tmp_path / "ck"), *_tiny()) == (
        f"{tmp_path / 'ck.pdstates'} is a PaddleClas checkpoint; ppnorm resumes only its own (the optimizer state is "
        f"keyed by PaddleClas's parameter names): start from its weights with -o Global.pretrained_model="
        f"{tmp_path / 'ck'}")


def test_a_save_creates_its_directory_and_fsyncs_files_then_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    _save(tmp_path / "new" / "dir" / "latest")
    where = str(tmp_path / "new" / "dir")
    names = [os.path.relpath(path, where) for path in synced]
    # the directory (leftovers dropped), each file before its rename, the directory after the commit rename
    # and after the final renames
    assert names == [".", "latest.pdparams.tmp", "latest.pdopt.tmp", "latest.pdstates.tmp", "latest.pdcommit.tmp",
                     ".", "."]
    monkeypatch.chdir(tmp_path / "new")
    synced.clear()
    _save("bare")  # a prefix without a directory: the current one
    assert sorted(os.listdir(".")) == ["bare.pdopt", "bare.pdparams", "bare.pdstates", "dir"]
    assert [synced[i] for i in (0, 5, 6)] == [str(tmp_path / "new")] * 3


def _nested():
    return paddle.nn.Sequential(paddle.nn.Sequential(paddle.nn.Linear(3, 2)), paddle.nn.Linear(2, 2),
                                paddle.nn.Linear(2, 2), paddle.nn.Linear(2, 2))


def test_load_strict_messages_word_for_word():
    model = _nested()
    own = {k: v.numpy() for k, v in model.state_dict().items()}
    assert _message(load_strict, model, [1], "f", ()) == "f holds a list, not a state_dict of weights"
    assert _message(load_strict, model, {}, "f", ()) == (
        "f has no weights for 8 parameters of the model, e.g. 0.0.weight, 0.0.bias, 1.weight; it was saved from "
        "another architecture, or add their layer names to Global.pretrained_skip")
    assert _message(load_strict, model, dict(own, a=1, b=2, c=3, d=4), "f", ()) == (
        "f has 4 weights the model lacks, e.g. a, b, c; it was saved from another architecture (e.g. another "
        "Arch.norm); use the same Arch")
    assert _message(load_strict, model, dict(own, **{"0.0.weight": np.zeros((2, 2), "float32")}), "f", ()) == (
        "f: 0.0.weight has shape [2, 2] but the model has [3, 2]; to train this layer from scratch set "
        "Global.pretrained_skip=[0.0]")
    assert _message(load_strict, model, dict(own, **{"0.0.weight": np.zeros((3, 2), "int64")}), "f", ()) == (
        "f: 0.0.weight has dtype int64 but the model needs float32")
    assert _message(load_strict, model, dict(own, **{"0.0.weight": [[1], [1, 2]]}), "f", ()) == (
        "f: 0.0.weight is not a tensor (list); the file is not a state_dict of weights")


def test_float_weights_are_refused_for_an_integer_buffer():
    model = paddle.nn.Linear(2, 2)
    model.register_buffer("count", paddle.to_tensor([3], dtype="int64"))
    state = {k: v.numpy().astype("float32") for k, v in model.state_dict().items()}
    assert _message(load_strict, model, state, "f", ()) == "f: count has dtype float32 but the model needs int64"


def test_a_checkpoint_of_another_architecture_names_its_weights_file(tmp_path):
    _save(tmp_path / "ck")
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 2))
    optimizer = paddle.optimizer.Momentum(learning_rate=0.1, parameters=model.parameters())
    assert _message(load_checkpoint, str(tmp_path / "ck"), model, optimizer) == (
        f"{tmp_path / 'ck.pdparams'} has 4 weights the model lacks, e.g. 1.weight, 1.bias, 1._mean; it was saved "
        f"from another architecture (e.g. another Arch.norm); use the same Arch")


def test_load_strict_values_skips_and_dtypes():
    model, source = _nested(), _nested()
    state = {k: v.numpy() for k, v in source.state_dict().items()}  # numpy arrays, as in downloaded files
    state["1.weight"] = state["1.weight"].astype("float16")
    del state["3.weight"]
    state["9.extra"] = np.zeros(1, "float32")
    loaded, skipped = load_strict(model, state, "f", ("3", "9"))
    assert skipped == ["3.weight", "3.bias"] and "3.bias" not in loaded and len(loaded) == 6
    np.testing.assert_array_equal(model.state_dict()["1.weight"].numpy(), state["1.weight"].astype("float32"))
    np.testing.assert_array_equal(model.state_dict()["0.0.bias"].numpy(), state["0.0.bias"])
    assert model.state_dict()["1.weight"].dtype == paddle.float32


def test_load_line_names_six_skipped_tensors_then_counts_the_rest():
    six = [f"s{i}" for i in range(6)]
    assert load_line("f", "src", ["a"], six, ["s"]) == (
        "[Pretrained] loaded 1 tensors from f (src); skipped 6 by pretrained_skip ['s'], kept as initialized: "
        "s0, s1, s2, s3, s4, s5")
    assert load_line("f", "src", ["a"], six + ["s6"], ["s"]).endswith("s3, s4, s5 and 1 more")
    assert load_line("f", "src", ["a"], six + ["s6", "s7"], ["s"]).endswith("s3, s4, s5 and 2 more")
    assert load_line("f", "src", ["a", "b"], [], []) == "[Pretrained] loaded 2 tensors from f (src); skipped none"


def test_pretrained_files_that_are_not_weights(tmp_path):
    paddle.save([1, 2], str(tmp_path / "list.pdparams"))
    assert _message(load_pretrained, str(tmp_path / "list"), _tiny()[0]) == (
        f"{tmp_path / 'list.pdparams'} holds a list, not a state_dict of weights")
    (tmp_path / "junk.pdparams").write_bytes(b"junk" * 10)
    assert _message(load_pretrained, str(tmp_path / "junk"), _tiny()[0]) == (
        f"{tmp_path / 'junk.pdparams'} cannot be read as Paddle weights (ValueError); the file is truncated or not "
        f"a Paddle file; use another checkpoint")
    assert _message(load_pretrained, str(tmp_path / "none"), _tiny()[0]) == (
        f"Global.pretrained_model: {tmp_path / 'none.pdparams'} not found")


def _rename_by_scan(state, names):
    """The rule written out plainly: the longest old name ``n`` with ``key.startswith(n + "_")``."""
    renamed = {}
    for key, value in state.items():
        old = max((n for n in names if key.startswith(n + "_")), key=len, default=None)
        renamed[names[old] + key[len(old):] if old else key] = value
    return renamed


@pytest.mark.parametrize("optimizer", ["Momentum", "AdamW"])
def test_renaming_a_real_optimizer_state_follows_the_longest_prefix_rule(optimizer):
    model = ppnorm.build_model("densenet_small", in_channels=1, num_classes=10)
    opt = getattr(paddle.optimizer, optimizer)(0.1, parameters=model.parameters())
    model(paddle.randn([2, 1, 8, 8])).mean().backward()
    opt.step()
    state, names = opt.state_dict(), ckpt._param_names(model)
    renamed = ckpt._rename_optimizer_state(state, names)
    assert renamed == _rename_by_scan(state, names) and len(renamed) == len(state)
    assert sum(old != new for old, new in zip(state, renamed)) >= sum(not p.stop_gradient for p in model.parameters())
    names_and_traps = dict(names, **{"a": "x", "a_b": "y", "a_b_c": "z"})
    traps = {"a_b_c_velocity_0": 1, "a_b_moment1_0": 2, "a_beta1_pow_acc_0": 3, "a_": 4, "_a": 5, "b": 6}
    assert ckpt._rename_optimizer_state(traps, names_and_traps) == _rename_by_scan(traps, names_and_traps)
