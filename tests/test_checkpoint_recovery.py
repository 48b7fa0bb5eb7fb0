"""A save that raises part-way (any error, at any of its writes) leaves the previous checkpoint loadable, and a
resume from it continues exactly as the uninterrupted run; the next save succeeds and leaves nothing behind.
And which tensors a Global.pretrained_skip entry names: a layer and everything under it, nothing else, and an
entry that names nothing is an error instead of a silent full load."""
import os

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.engine import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from ppnorm.engine import checkpoint as ckpt
from ppnorm.engine.ema import ModelEma

STATES = {"epoch": 1, "step": 0, "global_step": 3, "best_top1": 0.5, "best_epoch": 1}


def _model():
    paddle.seed(0)
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 4), paddle.nn.BatchNorm1D(4), paddle.nn.Linear(4, 2))
    return model, paddle.optimizer.Momentum(learning_rate=0.1, momentum=0.9, parameters=model.parameters())


def _batch(step):
    rng = np.random.default_rng(step)
    return paddle.to_tensor(rng.normal(size=(5, 3)).astype("float32")), paddle.to_tensor(rng.integers(0, 2, 5))


def _step(model, optimizer, step):
    model.train()
    images, labels = _batch(step)
    paddle.nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    optimizer.clear_grad()


def _arrays(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _same(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


WRITES = [".pdparams.tmp", ".pdopt.tmp", ".pdtrain.tmp", ".pdstates.tmp", ".pdcommit.tmp"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("paddle.save failed"),
                                   KeyboardInterrupt()])
@pytest.mark.parametrize("failing", WRITES)
def test_a_save_that_raises_part_way_keeps_the_previous_checkpoint_and_resume_is_exact(tmp_path, monkeypatch,
                                                                                       failing, error):
    prefix = str(tmp_path / "latest")
    model, optimizer = _model()
    ema = ModelEma(model, 0.5)
    for step in range(3):
        _step(model, optimizer, step)
        ema.update(model, step)
    save_checkpoint(prefix, model, optimizer, STATES, ema)
    at_save, average_at_save = _arrays(model), _arrays(ema.model)
    for step in range(3, 5):  # the uninterrupted run goes on
        _step(model, optimizer, step)
    uninterrupted = _arrays(model)

    real_write, real_open = ckpt._write_synced, open

    def write(obj, path):
        if path.endswith(failing):
            with real_open(path, "wb") as handle:
                handle.write(b"half")
            raise error
        return real_write(obj, path)

    def record_open(path, *args, **kwargs):  # the commit record is written with open(), not _write_synced
        if str(path).endswith(failing):
            real_open(path, "w").write("{")
            raise error
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(ckpt, "_write_synced", write)
    monkeypatch.setattr(ckpt, "open", record_open, raising=False)
    with pytest.raises(CheckpointError if isinstance(error, OSError) else type(error)):
        save_checkpoint(prefix, model, optimizer, dict(STATES, epoch=2, global_step=5), ema)
    monkeypatch.undo()

    resumed, resumed_optimizer = _model()
    resumed_ema = ModelEma(resumed, 0.5)
    assert load_checkpoint(prefix, resumed, resumed_optimizer, resumed_ema) == STATES
    _same(_arrays(resumed), at_save)
    _same(_arrays(resumed_ema.model), average_at_save)
    for step in range(3, 5):
        _step(resumed, resumed_optimizer, step)
    _same(_arrays(resumed), uninterrupted)  # the momentum came back too

    save_checkpoint(prefix, resumed, resumed_optimizer, dict(STATES, epoch=2, global_step=5), resumed_ema)
    assert sorted(os.listdir(tmp_path)) == ["latest.pdopt", "latest.pdparams", "latest.pdstates", "latest.pdtrain"]
    again, again_optimizer = _model()
    assert load_checkpoint(prefix, again, again_optimizer, ModelEma(again, 0.5))["epoch"] == 2
    _same(_arrays(again), uninterrupted)


def test_a_save_that_fails_after_its_commit_point_loads_the_new_checkpoint(tmp_path, monkeypatch):
    prefix = str(tmp_path / "latest")
    model, optimizer = _model()
    save_checkpoint(prefix, model, optimizer, STATES)
    _step(model, optimizer, 0)
    new = _arrays(model)
    finish = ckpt._finish_commit
    calls = []

    def crash_after_commit(path, *written):
        calls.append(path)
        if len(calls) == 2:  # the first call cleans up before writing; the second renames the committed files
            raise RuntimeError("killed while renaming")
        finish(path, *written)
    monkeypatch.setattr(ckpt, "_finish_commit", crash_after_commit)
    with pytest.raises(RuntimeError):
        save_checkpoint(prefix, model, optimizer, dict(STATES, epoch=2))
    monkeypatch.undo()
    assert os.path.exists(prefix + ".pdcommit")
    loaded, loaded_optimizer = _model()
    assert load_checkpoint(prefix, loaded, loaded_optimizer)["epoch"] == 2
    _same(_arrays(loaded), new)


# --- pretrained_skip -----------------------------------------------------------------------------------------------

class Net(paddle.nn.Layer):
    """Layers whose names share prefixes: fc / fc2, layer1 / layer10, layer1.0 / layer1.01 would be wrong."""

    def __init__(self, classes=3):
        super().__init__()
        self.layer1 = paddle.nn.Sequential(paddle.nn.Linear(2, 2), paddle.nn.Linear(2, 2))
        self.layer10 = paddle.nn.Linear(2, 2)
        self.fc2 = paddle.nn.Linear(2, 2)
        self.fc = paddle.nn.Linear(2, classes)


def _pretrained(tmp_path):
    paddle.seed(5)
    source = Net()
    paddle.save(source.state_dict(), str(tmp_path / "w.pdparams"))
    return source, str(tmp_path / "w")


@pytest.mark.parametrize("skip, skipped", [
    (["fc"], ["fc.weight", "fc.bias"]),
    (["layer1"], ["layer1.0.weight", "layer1.0.bias", "layer1.1.weight", "layer1.1.bias"]),
    (["layer1.0"], ["layer1.0.weight", "layer1.0.bias"]),
    (["fc.weight", "layer10"], ["layer10.weight", "layer10.bias", "fc.weight"]),
    ([], [])])
def test_a_skip_entry_names_a_layer_and_what_is_under_it_never_a_longer_name(tmp_path, capsys, skip, skipped):
    source, path = _pretrained(tmp_path)
    paddle.seed(9)
    model = Net()
    fresh = _arrays(model)
    load_pretrained(path, model, skip)
    for key, value in _arrays(model).items():
        expected = fresh[key] if key in skipped else source.state_dict()[key].numpy()
        np.testing.assert_array_equal(value, expected, err_msg=key)
    line = capsys.readouterr().out
    if skipped:
        assert f"skipped {len(skipped)} by pretrained_skip {skip}, kept as initialized: {', '.join(skipped)}\n" in line
    else:
        assert line.endswith("skipped none\n")


@pytest.mark.parametrize("entry", ["fc.", "FC", "head", "layer1.", "fc.weight.", "layer", "f"])
def test_a_skip_entry_that_names_no_tensor_is_an_error_not_a_full_load(tmp_path, capsys, entry):
    source, path = _pretrained(tmp_path)
    model = Net()
    before = _arrays(model)
    with pytest.raises(CheckpointError) as error:
        load_pretrained(path, model, ["fc2", entry])
    assert str(error.value).startswith(f"Global.pretrained_skip: {entry!r} names no tensor of the model or of "
                                       f"{path}.pdparams")
    assert "\n" not in str(error.value)
    _same(_arrays(model), before)  # nothing loaded
    assert capsys.readouterr().out == ""


def test_a_skip_entry_may_name_a_layer_only_the_file_has(tmp_path, capsys):
    source, path = _pretrained(tmp_path)

    class Smaller(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.layer1 = paddle.nn.Sequential(paddle.nn.Linear(2, 2), paddle.nn.Linear(2, 2))
            self.layer10 = paddle.nn.Linear(2, 2)
            self.fc = paddle.nn.Linear(2, 3)
    model = Smaller()
    load_pretrained(path, model, ["fc2"])  # the head the file has and the model lacks
    np.testing.assert_array_equal(model.fc.weight.numpy(), source.fc.weight.numpy())
    assert capsys.readouterr().out.endswith("skipped none\n")


def test_build_model_applies_pretrained_skip_to_a_new_head(tmp_path, capsys):
    source = ppnorm.build_model("mlp", in_features=4, hidden=[3], num_classes=5)
    paddle.save(source.state_dict(), str(tmp_path / "m.pdparams"))
    model = ppnorm.build_model("mlp", in_features=4, hidden=[3], num_classes=2, pretrained=str(tmp_path / "m"),
                               pretrained_skip=["fc"])
    assert model.fc.weight.shape == [3, 2]
    with pytest.raises(CheckpointError, match=r"^Global.pretrained_skip: 'head' names no tensor"):
        ppnorm.build_model("mlp", in_features=4, hidden=[3], num_classes=5, pretrained=str(tmp_path / "m"),
                           pretrained_skip=["head"])


def test_the_error_names_an_example_layer_of_the_model():
    from ppnorm.weights import load_strict
    model = Net()
    with pytest.raises(CheckpointError) as error:
        load_strict(model, model.state_dict(), "w.pdparams", ["head"])
    assert str(error.value) == ("Global.pretrained_skip: 'head' names no tensor of the model or of w.pdparams; give "
                                "layer names or prefixes as in the tensor names, e.g. 'fc' for fc.bias")
    model.tail = paddle.nn.Sequential(paddle.nn.Linear(2, 2))  # registered last: its name has two dots
    with pytest.raises(CheckpointError, match=r"e.g. 'tail.0' for tail.0.bias$"):
        load_strict(model, model.state_dict(), "f", ["head"])
    with pytest.raises(CheckpointError, match=r"e.g. 'fc' for fc.weight$"):
        load_strict(paddle.nn.ReLU(), {}, "f", ["head"])  # a model without tensors


def test_skip_and_skip_mismatched_together_keep_both_as_initialized(tmp_path, capsys):
    source, path = _pretrained(tmp_path)
    paddle.seed(9)
    model = Net(classes=5)
    fresh = _arrays(model)
    load_pretrained(path, model, ["fc2"], skip_mismatched=True)
    for key, value in _arrays(model).items():
        kept = key.startswith(("fc2.", "fc."))
        np.testing.assert_array_equal(value, fresh[key] if kept else source.state_dict()[key].numpy(), err_msg=key)
    line = capsys.readouterr().out
    assert "skipped 2 by pretrained_skip ['fc2'], kept as initialized: fc2.weight, fc2.bias; skipped 2 of another " \
           "shape" in line


def test_a_shape_mismatch_gives_the_callers_advice_and_names_the_file(tmp_path):
    source, path = _pretrained(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_pretrained(path, Net(classes=5), fix="load the whole model")
    assert str(error.value) == (f"{path}.pdparams (ppnorm/paddle.vision names): fc.weight has shape [2, 3] but the "
                                f"model has [2, 5]; load the whole model")


def test_a_missing_first_projection_names_the_file():
    from ppnorm.weights import load_strict

    class Block(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.layer1 = paddle.nn.LayerList([paddle.nn.Layer()])
            self.layer1[0].downsample = paddle.nn.Linear(2, 2)
            self.fc = paddle.nn.Linear(2, 2)
    model = Block()
    state = {"fc.weight": model.fc.weight.numpy(), "fc.bias": model.fc.bias.numpy()}
    with pytest.raises(CheckpointError, match=r"^w.pdparams has no weights for the first block's projection"):
        load_strict(model, state, "w.pdparams", ())
