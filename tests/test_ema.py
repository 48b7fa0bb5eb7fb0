"""EMA of the weights (EMA.decay): the update against numpy, the decay warmup, checkpoints and exact resume."""
import json
import os
import re
import shutil

import numpy as np
import paddle
import pytest

from ppnorm.engine import CheckpointError, ConfigError, Trainer, load_checkpoint, load_config, save_checkpoint
from ppnorm.engine import checkpoint as ckpt
from ppnorm.engine.cli import eval_main
from ppnorm.engine.config import SCHEMA
from ppnorm.engine.ema import ModelEma, ema_decay

from test_checkpoint import _tiny  # Linear(3, 2) + BatchNorm1D(2) and a Momentum optimizer

DIGITS = "configs/digits/resnet20.yaml"
STATES = {"epoch": 1, "step": 0, "global_step": 4, "best_top1": 0.5, "best_epoch": 1}


@pytest.mark.parametrize("decay, step, expected", [
    (0.999, 1, 2 / 11), (0.999, 8, 0.5), (0.999, 980, 981 / 990), (0.999, 8990, 0.999), (0.999, 10 ** 6, 0.999),
    (0.9, 80, 0.9), (0.9, 79, 80 / 89), (0.9, 70, 71 / 80)])
def test_the_decay_warms_up_as_one_plus_t_over_ten_plus_t(decay, step, expected):
    assert ema_decay(decay, step) == pytest.approx(expected, rel=1e-12)


def _numpy_state(model):
    return {key: value.numpy().copy() for key, value in model.state_dict().items()}


def test_the_update_averages_parameters_and_batchnorm_statistics_like_numpy():
    paddle.seed(3)
    model, optimizer = _tiny()
    ema = ModelEma(model, decay=0.6)
    expected = _numpy_state(model)
    data = np.random.default_rng(0).normal(size=(4, 4, 3)).astype("float32")
    for step, batch in enumerate(data, start=1):
        model(paddle.to_tensor(batch)).square().sum().backward()
        optimizer.step()
        optimizer.clear_grad()
        ema.update(model, step)
        d = min(0.6, (1 + step) / (10 + step))  # 2/11, 3/12, 0.6, 0.6
        expected = {k: d * expected[k] + (1 - d) * v for k, v in _numpy_state(model).items()}
    got = _numpy_state(ema.model)
    assert sorted(got) == ["0.bias", "0.weight", "1._mean", "1._variance", "1.bias", "1.weight"]
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-9, err_msg=key)
        assert not np.array_equal(got[key], model.state_dict()[key].numpy()), key  # an average, not a copy
    assert all(p.stop_gradient for p in ema.model.parameters()) and not ema.model.training


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_model_ema_refuses_a_decay_outside_zero_one(decay):
    with pytest.raises(ValueError, match=re.escape(f"EMA decay must be in (0, 1), got {decay!r}")):
        ModelEma(_tiny()[0], decay)


def test_config_key_is_checked_and_off_by_default(tmp_path):
    assert SCHEMA["EMA"]["decay"].default == 0.0
    off = load_config(DIGITS, ["EMA.decay=0", "Global.use_visualdl=false", f"Global.output_dir={tmp_path}"])
    assert Trainer(off).ema is None and load_config(DIGITS, ["EMA.decay=0.5"])["EMA"]["decay"] == 0.5
    with pytest.raises(ConfigError, match=re.escape("EMA.decay must be < 1.0, got 1.0")):
        load_config(DIGITS, ["EMA.decay=1"])
    with pytest.raises(ConfigError, match=r"unknown key 'EMA.decy' \(did you mean 'decay'\?\)"):
        load_config(DIGITS, ["EMA.decy=0.9"])


def _stepped(seed=0):
    paddle.seed(seed)
    model, optimizer = _tiny()
    model(paddle.ones([4, 3])).sum().backward()
    optimizer.step()
    return model, optimizer


def _save_with_ema(prefix):
    model, optimizer = _stepped()
    ema = ModelEma(model, 0.5)
    model.train()
    model(paddle.arange(12, dtype="float32").reshape([4, 3])).sum().backward()
    optimizer.step()
    ema.update(model, 20)
    save_checkpoint(str(prefix), model, optimizer, STATES, ema)
    return model, ema


def test_an_ema_checkpoint_holds_the_average_in_pdparams_and_the_raw_weights_in_pdtrain(tmp_path):
    model, ema = _save_with_ema(tmp_path / "ck")
    assert sorted(os.listdir(tmp_path)) == ["ck.pdopt", "ck.pdparams", "ck.pdstates", "ck.pdtrain"]
    assert paddle.load(str(tmp_path / "ck.pdstates"))["ema_decay"] == 0.5
    fresh, optimizer = _tiny()
    fresh_ema = ModelEma(fresh, 0.5)
    assert load_checkpoint(str(tmp_path / "ck"), fresh, optimizer, fresh_ema) == STATES
    for key, value in _numpy_state(model).items():
        np.testing.assert_array_equal(fresh.state_dict()[key].numpy(), value)
        np.testing.assert_array_equal(fresh_ema.model.state_dict()[key].numpy(), ema.model.state_dict()[key].numpy())
        np.testing.assert_array_equal(paddle.load(str(tmp_path / "ck.pdparams"))[key].numpy(),
                                      ema.model.state_dict()[key].numpy())


def test_resuming_an_ema_checkpoint_without_ema_names_the_decay(tmp_path):
    _save_with_ema(tmp_path / "ck")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(str(tmp_path / "ck"), *_tiny())
    assert str(error.value) == (f"{tmp_path / 'ck.pdparams'} holds EMA weights (EMA.decay=0.5) and the training "
                                f"weights are in {tmp_path / 'ck.pdtrain'}; resume with -o EMA.decay=0.5")


def test_a_missing_pdtrain_is_an_error_and_a_plain_checkpoint_starts_the_average(tmp_path):
    _save_with_ema(tmp_path / "ck")
    os.remove(tmp_path / "ck.pdtrain")
    model, optimizer = _tiny()
    with pytest.raises(CheckpointError, match=r"ck.pdtrain not found: .*ck.pdstates was saved with it"):
        load_checkpoint(str(tmp_path / "ck"), model, optimizer, ModelEma(model, 0.5))
    saved, saved_optimizer = _stepped()
    save_checkpoint(str(tmp_path / "plain"), saved, saved_optimizer, STATES)
    ema = ModelEma(model, 0.5)
    load_checkpoint(str(tmp_path / "plain"), model, optimizer, ema)
    for key, value in _numpy_state(saved).items():
        np.testing.assert_array_equal(ema.model.state_dict()[key].numpy(), value)


def test_a_plain_save_over_an_ema_checkpoint_removes_its_pdtrain(tmp_path):
    _save_with_ema(tmp_path / "ck")
    model, optimizer = _stepped()
    save_checkpoint(str(tmp_path / "ck"), model, optimizer, STATES)
    assert sorted(os.listdir(tmp_path)) == ["ck.pdopt", "ck.pdparams", "ck.pdstates"]
    assert load_checkpoint(str(tmp_path / "ck"), *_tiny()) == STATES


def test_a_pending_ema_commit_is_read_from_its_temporary_files_pdtrain_included(tmp_path):
    _save_with_ema(tmp_path / "ck")
    model, ema = _save_with_ema(tmp_path / "new")
    record = {}
    for suffix in ckpt.SUFFIXES + (ckpt.TRAIN,):  # "new" committed under the name ck, killed before its renames
        shutil.copy(tmp_path / ("new" + suffix), tmp_path / ("ck" + suffix + ".tmp"))
        record[suffix] = ckpt.sha256(str(tmp_path / ("new" + suffix)))
    os.remove(tmp_path / "ck.pdtrain")  # the old checkpoint alone could not be loaded any more
    (tmp_path / "ck.pdcommit").write_text(json.dumps(record))
    fresh, optimizer = _tiny()
    load_checkpoint(str(tmp_path / "ck"), fresh, optimizer, ModelEma(fresh, 0.5))
    np.testing.assert_array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())
    save_checkpoint(str(tmp_path / "ck"), fresh, optimizer, STATES)  # rolls the pending one forward first
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("ck")) == ["ck.pdopt", "ck.pdparams", "ck.pdstates"]


def _config(tmp_path, *overrides):
    base = [f"Global.output_dir={tmp_path / 'run'}", "Global.epochs=3", "Global.use_visualdl=false",
            "Global.eval_interval=1", "DataLoader.Train.batch_size=128", "Arch.dropout=0.2", "EMA.decay=0.9"]
    return load_config(DIGITS, base + list(overrides))


def _arrays(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


@pytest.mark.slow
def test_resume_with_ema_is_bitwise_and_eval_tool_scores_the_saved_average(tmp_path, capsys):
    whole = Trainer(_config(tmp_path / "a"))
    result = whole.train()
    Trainer(_config(tmp_path / "b")).train(stop_after_epoch=2)
    resumed = Trainer(_config(tmp_path / "b", f"Global.checkpoints={tmp_path / 'b' / 'run' / 'latest'}"))
    assert resumed.train() == result
    for suffix in (".pdparams", ".pdtrain"):
        a, b = _arrays(tmp_path / "a" / "run" / f"latest{suffix}"), _arrays(tmp_path / "b" / "run" / f"latest{suffix}")
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key + suffix)
    average, raw = (_arrays(tmp_path / "a" / "run" / f"latest{s}") for s in (".pdparams", ".pdtrain"))
    assert not np.array_equal(average["bn1._mean"], raw["bn1._mean"])  # the statistics are averaged too
    assert "[EMA] evaluating and saving the moving average of the weights (EMA.decay=0.9)" in capsys.readouterr().out
    assert eval_main(["-c", DIGITS, "-o", f"Global.pretrained_model={tmp_path / 'a' / 'run' / 'latest'}"]) == 0
    assert f"top1: {result['top1']:.5f}" in capsys.readouterr().out
