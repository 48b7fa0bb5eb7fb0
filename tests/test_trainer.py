"""End-to-end training on digits: resume exactness, Ctrl-C, eval tool, errors, logs."""
import os
import signal

import numpy as np
import paddle
import pytest
from weights import assert_same_weights, load_weights

from ppnorm.engine import CheckpointError, ConfigError, Trainer, TrainingError, load_config
from ppnorm.engine.cli import eval_main, train_main
from ppnorm.engine.loop import FINISHED, INTERRUPTED, HookBase

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

DIGITS = "configs/digits/resnet20.yaml"


def _config(tmp_path, *overrides, name="run"):
    base = [f"Global.output_dir={tmp_path / name}", "Global.epochs=3", "Global.use_visualdl=false",
            "Global.eval_interval=1", "DataLoader.Train.batch_size=128", "Global.print_batch_step=5"]
    return load_config(DIGITS, base + list(overrides))



@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Three epochs of resnet20 on digits, with dropout so RNG state matters on resume."""
    tmp = tmp_path_factory.mktemp("full")
    trainer = Trainer(_config(tmp, "Arch.dropout=0.2"))
    result = trainer.train()
    return tmp / "run", result


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_training_writes_checkpoints_and_learns(uninterrupted):
    out, result = uninterrupted
    for name in ("latest", "best_model"):
        for suffix in (".pdparams", ".pdopt", ".pdstates"):
            assert (out / (name + suffix)).is_file()
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    assert (out / "config.yaml").is_file()
    states = paddle.load(str(out / "latest.pdstates"))
    assert states["epoch"] == 3 and states["step"] == 0 and states["global_step"] == 33
    assert result["samples"] == 360 and result["top1"] > 0.5  # 3 short epochs: far above chance (0.1)


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_resume_after_an_epoch_gives_exactly_the_same_weights(tmp_path, uninterrupted):
    Trainer(_config(tmp_path, "Arch.dropout=0.2")).train(stop_after_epoch=2)
    assert paddle.load(str(tmp_path / "run" / "latest.pdstates"))["epoch"] == 2
    resumed = Trainer(_config(tmp_path, "Arch.dropout=0.2", f"Global.checkpoints={tmp_path / 'run' / 'latest'}"))
    result = resumed.train()
    assert_same_weights(load_weights(tmp_path / "run" / "latest"), load_weights(uninterrupted[0] / "latest"))
    assert result == uninterrupted[1]


class _AtGlobalStep(HookBase):
    """Runs ``action(loop)`` once, before (``when='before'``) or after the step that makes ``global_step`` ``at``."""

    def __init__(self, at, action, when="after"):
        self.at, self.action, self.when = at, action, when

    def before_step(self, loop):
        if self.when == "before" and loop.states["global_step"] == self.at:
            self.action(loop)

    def after_step(self, loop):
        if self.when == "after" and loop.states["global_step"] == self.at:
            self.action(loop)


@pytest.mark.slow
def test_resuming_a_finished_run_says_nothing_was_trained(tmp_path, uninterrupted, capsys):
    out, result = uninterrupted
    trainer = Trainer(_config(tmp_path, "Arch.dropout=0.2", f"Global.checkpoints={out / 'latest'}"))
    assert trainer.train() == result
    lines = capsys.readouterr().out.splitlines()
    assert "nothing to train: the checkpoint has already done 3 epoch(s) and Global.epochs=3" in lines[-2]
    assert not [line for line in lines if line.startswith("[Train]")]


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_ctrl_c_mid_epoch_saves_latest_and_resume_is_exact(tmp_path, uninterrupted):
    trainer = Trainer(_config(tmp_path, "Arch.dropout=0.2"))
    trainer.register_hooks([_AtGlobalStep(15, lambda loop: os.kill(os.getpid(), signal.SIGINT))])  # epoch 2, step 4
    assert trainer.train() is None and trainer.outcome == INTERRUPTED
    states = paddle.load(str(tmp_path / "run" / "latest.pdstates"))
    assert (states["epoch"], states["step"], states["global_step"]) == (1, 4, 15)
    resumed = Trainer(_config(tmp_path, "Arch.dropout=0.2", f"Global.checkpoints={tmp_path / 'run' / 'latest'}"))
    resumed.train()
    assert_same_weights(load_weights(tmp_path / "run" / "latest"), load_weights(uninterrupted[0] / "latest"))


@pytest.mark.slow
def test_hooks_run_in_order_at_every_stage(tmp_path):
    calls = []

    class Recorder(HookBase):
        def __init__(self, name):
            self.name = name

        def __getattribute__(self, stage):
            if stage in ("before_train", "before_epoch", "before_step", "after_step", "after_epoch", "after_train"):
                return lambda loop: calls.append((object.__getattribute__(self, "name"), stage,
                                                  loop.states["epoch"], loop.states["step"]))
            return object.__getattribute__(self, stage)

    trainer = Trainer(_config(tmp_path, "Global.epochs=2", "DataLoader.Train.batch_size=512"),
                      hooks=[Recorder("a"), Recorder("b")])
    assert trainer.steps_per_epoch == 2
    assert trainer.train() is None and trainer.outcome == FINISHED  # no FinalReport hook: nothing evaluated
    stages = [(stage, epoch, step) for name, stage, epoch, step in calls if name == "a"]
    one_epoch = lambda e: [("before_epoch", e, 0), ("before_step", e, 0), ("after_step", e, 1),
                           ("before_step", e, 1), ("after_step", e, 2), ("after_epoch", e + 1, 0)]
    assert stages == [("before_train", 0, 0)] + one_epoch(0) + one_epoch(1) + [("after_train", 2, 0)]
    assert [name for name, *_ in calls] == ["a", "b"] * len(stages)
    assert not os.path.exists(tmp_path / "run" / "latest.pdparams")  # checkpoints are a hook too


@pytest.mark.slow
def test_run_step_does_one_optimizer_step(tmp_path):
    trainer = Trainer(_config(tmp_path, "Optimizer.lr.name=Constant", "Optimizer.lr.learning_rate=0.5",
                              "Optimizer.momentum=0.0", "Optimizer.weight_decay=0.0", "Loss.label_smoothing=0.0",
                              "Arch.dropout=0.0"), hooks=[])
    images, labels, _ = next(iter(trainer.data.batches(0)))
    before = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
    trainer.model.train()
    logits = trainer.model(images)
    loss = paddle.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    grads = {p.name: p.grad.numpy().copy() for p in trainer.model.parameters() if not p.stop_gradient}
    trainer.optimizer.clear_grad()
    trainer.model.set_state_dict({k: paddle.to_tensor(v) for k, v in before.items()})
    out = trainer.run_step((images, labels))
    assert out.loss == pytest.approx(float(loss), rel=1e-6) and out.batch_size == 128
    np.testing.assert_allclose(out.logits.numpy(), logits.numpy(), rtol=1e-5, atol=1e-6)
    assert len(grads) == 65  # every trainable parameter of resnet20 moved by plain SGD
    for key, param in trainer.model.named_parameters():
        expected = before[key] - 0.5 * grads[param.name] if param.name in grads else param.numpy()
        np.testing.assert_allclose(param.numpy(), expected, rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_eval_tool_prints_the_final_evaluation_of_training(uninterrupted, capsys):
    out, result = uninterrupted
    code = eval_main(["-c", DIGITS, "-o", "Arch.dropout=0.2", f"Global.pretrained_model={out / 'latest'}"])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == (f"[Eval][Avg]loss: {result['loss']:.5f}, top1: {result['top1']:.5f}, "
                    f"top5: {result['top5']:.5f}, samples: 360")


@pytest.mark.slow
def test_train_tool_prints_the_familiar_lines(tmp_path, capsys):
    code = train_main(["-c", DIGITS, "-o", f"Global.output_dir={tmp_path}", "Global.epochs=1",
                       "Global.use_visualdl=true", "DataLoader.Train.batch_size=256", "Global.print_batch_step=2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    step_lines = [l for l in lines if l.startswith("[Train][Epoch 1/1][Iter: 2/5]")]
    assert step_lines and all(k in step_lines[0] for k in ("lr: ", "loss: ", "top1: ", "batch_cost: ", "ips: ",
                                                           "samples/s", "eta: "))
    assert any(l.startswith("[Eval][Epoch 1][Avg]loss: ") for l in lines)
    assert lines[-1].startswith("[Done] top1 ") and "on 360 eval samples" in lines[-1]
    logs = os.listdir(tmp_path / "vdl")
    assert logs and os.path.getsize(tmp_path / "vdl" / logs[0]) > 0


@pytest.mark.slow
def test_visualdl_gets_scalars_and_norm_histograms(tmp_path):
    from visualdl import LogReader

    Trainer(_config(tmp_path, "Global.epochs=1", "Global.use_visualdl=true")).train()
    reader = LogReader(file_path=str(tmp_path / "run" / "vdl" / os.listdir(tmp_path / "run" / "vdl")[0]))
    tags = reader.get_tags()
    scalars, histograms = set(tags.get("scalar", [])), set(tags.get("histogram", []))
    assert {"train/loss", "train/top1", "train/lr", "train/ips", "eval/loss", "eval/top1", "eval/top5"} <= scalars
    for kind in ("scale", "shift", "running_mean", "running_var"):
        assert f"norm/bn1/{kind}" in histograms
    steps_per_epoch = 1437 // 128  # digits train split, drop_last
    last_train_step = max(record.id for record in reader.get_data("scalar", "train/loss"))
    assert [record.id for record in reader.get_data("scalar", "eval/top1")] == [steps_per_epoch] == [last_train_step]
    assert sum(t.endswith("/running_var") for t in histograms) == 21  # every BatchNorm of resnet20: stem, 9 blocks x 2, 2 shortcuts


@pytest.mark.slow
def test_nan_loss_stops_with_a_message_and_keeps_the_good_checkpoint(tmp_path):
    trainer = Trainer(_config(tmp_path))

    def poison(loop):
        weight = loop.model.fc.weight
        weight.set_value(paddle.full_like(weight, float("nan")))

    trainer.register_hooks([_AtGlobalStep(13, poison, when="before")])  # the 14th step: epoch 2, step 3
    with pytest.raises(TrainingError, match=r"loss is nan at epoch 2, step 3: training stopped; the last good "
                                            r"checkpoint is .*latest \(epoch 1\)"):
        trainer.train()
    weights = load_weights(tmp_path / "run" / "latest")
    assert all(np.isfinite(v.numpy()).all() for v in weights.values())
    assert paddle.load(str(tmp_path / "run" / "latest.pdstates"))["epoch"] == 1


@pytest.mark.slow
def test_pretrained_shape_mismatch_is_refused_unless_skipped(tmp_path, uninterrupted):
    out = uninterrupted[0]
    with pytest.raises(CheckpointError, match=r"fc.weight has shape \[64, 10\] but the model has \[64, 12\]; .*"
                                              r"Global.pretrained_skip=\[fc\]"):
        Trainer(_config(tmp_path, "Arch.num_classes=12", f"Global.pretrained_model={out / 'latest'}"))
    trainer = Trainer(_config(tmp_path, "Arch.num_classes=10", "Arch.dropout=0.2", "Global.pretrained_skip=[fc]",
                              f"Global.pretrained_model={out / 'latest.pdparams'}"))
    loaded = trainer.model.state_dict()
    saved = load_weights(out / "latest")
    np.testing.assert_array_equal(loaded["conv1.weight"].numpy(), saved["conv1.weight"].numpy())
    assert not np.array_equal(loaded["fc.weight"].numpy(), saved["fc.weight"].numpy())
    with pytest.raises(CheckpointError, match="has no weights for"):
        Trainer(_config(tmp_path, "Arch.name=resnet32", f"Global.pretrained_model={out / 'latest'}"))


def test_setup_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(ConfigError, match="SyncBatchNorm .* has no CPU kernel"):
        Trainer(_config(tmp_path, "Arch.norm=sync_bn"))
    with pytest.raises(ConfigError, match="SyncBatchNorm"):
        Trainer(_config(tmp_path, "Global.sync_bn=true"))
    with pytest.raises(ConfigError, match=r"Arch.num_classes=5 but DataLoader.Train.dataset has labels up to 9"):
        Trainer(_config(tmp_path, "Arch.num_classes=5"))
    with pytest.raises(CheckpointError, match=r"Global.checkpoints: .*nothing.pdparams not found"):
        Trainer(_config(tmp_path, f"Global.checkpoints={tmp_path / 'nothing'}"))
    assert train_main(["-c", DIGITS, "-o", "Global.epochs=-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Global.epochs must be >= 1" in err and "\n" not in err


def test_weight_decay_can_skip_norm_and_bias(tmp_path):
    config = _config(tmp_path, "Optimizer.weight_decay=0.5", "Optimizer.no_weight_decay_on_norm_and_bias=true",
                     "Optimizer.lr.name=Constant", "Optimizer.momentum=0.0")
    trainer = Trainer(config)
    model = trainer.model
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    for p in model.parameters():  # zero gradients: only weight decay moves parameters
        if not p.stop_gradient:
            p.grad = paddle.zeros_like(p)
    trainer.optimizer.step()
    after = model.state_dict()
    np.testing.assert_array_equal(after["bn1.weight"].numpy(), before["bn1.weight"])
    np.testing.assert_array_equal(after["fc.bias"].numpy(), before["fc.bias"])
    np.testing.assert_allclose(after["conv1.weight"].numpy(), before["conv1.weight"] * (1 - 0.1 * 0.5), rtol=1e-5)
