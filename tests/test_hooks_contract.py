"""What the training hooks promise, checked on a tiny loop (Linear-BatchNorm-Linear, 3 steps of 4 samples per
epoch): seeds per global step, the non-finite guards, the log lines, best-model selection and ties, checkpoint
names, the stop and resume note, the final report, and the order of the default hooks. Each test runs in a
fraction of a second: the loop is the real :class:`TrainLoop`; saving, evaluation and the logger are recorded."""
import math
import os
import signal
import time

import numpy as np
import paddle
import pytest

from ppnorm import signals
from ppnorm.engine import hooks as H
from ppnorm.engine.ema import UpdateEma
from ppnorm.engine.loop import FINISHED, INTERRUPTED, PAUSED, HookBase, TrainLoop
from ppnorm.engine.run_lock import OutputDirLock

STEPS, BATCH = 3, 4


class Batches:
    """``STEPS`` fixed batches per epoch (different per epoch) of ``sizes`` samples, the first ``skip`` left out."""
    steps_per_epoch = STEPS

    def __init__(self, sizes=(BATCH,) * STEPS):
        self.sizes = sizes

    def batches(self, epoch, skip=0):
        rng = np.random.default_rng(epoch)
        return [(paddle.to_tensor(rng.normal(size=(size, 3)).astype("float32")),
                 paddle.to_tensor(rng.integers(0, 2, size=(size, 1)).astype("int64")))
                for size in self.sizes][skip:]


class Log:
    def __init__(self):
        self.lines, self.scalar_calls, self.histograms, self.closed, self.opened = [], [], [], 0, 0
        self.log_file = "train.log"

    def info(self, message):
        self.lines.append(message)

    def scalars(self, values, step):
        self.scalar_calls.append((values, step))

    def norm_histograms(self, model, step):
        self.histograms.append((model, step))

    def open_file(self):
        self.opened += 1

    def close(self):
        self.closed += 1


class Loop(TrainLoop):
    """A :class:`TrainLoop` with what the hooks expect of a Trainer; ``save`` and ``evaluate`` are recorded."""

    def __init__(self, tmp_path, hooks, epochs=2, results=(), states=None, rank=0, sizes=(BATCH,) * STEPS, **kwargs):
        paddle.seed(0)
        model = paddle.nn.Sequential(paddle.nn.Linear(3, 4), paddle.nn.BatchNorm1D(4), paddle.nn.Linear(4, 2))
        optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
        super().__init__(model, optimizer, None, Batches(sizes), epochs, hooks=hooks, states=states or dict(
            epoch=0, step=0, global_step=0, best_top1=-1.0, best_epoch=0), **kwargs)
        self.output_dir, self.rank, self.world_size, self.logger = str(tmp_path), rank, 1, Log()
        self.config = {"Global": {"epochs": epochs}}
        self.saved, self.results, self.last_eval = [], list(results), None

    def save(self, name):
        self.saved.append((name, dict(self.states)))

    def evaluate(self):
        self.model.eval()  # like the evaluator; the loop must switch back to training
        self.last_eval = self.results.pop(0)
        return self.last_eval


class At(HookBase):
    """Run ``action(loop)`` at ``stage`` when ``loop.states['global_step'] == step`` (every time if step is None)."""

    def __init__(self, stage, action, step=None):
        self.action, self.step = action, step
        setattr(self, stage, self._run)

    def _run(self, loop):
        if self.step is None or loop.states["global_step"] == self.step:
            self.action(loop)


class Clock:
    """``time.time`` advancing one second per call."""

    def __init__(self):
        self.now = 1000.0

    def time(self):
        self.now += 1.0
        return self.now


def result(top1, samples=10):
    return {"loss": 1.0 - top1, "top1": top1, "top5": 1.0, "samples": samples}


# --- seeding ---------------------------------------------------------------------------------------------------

def test_each_step_is_seeded_from_the_seed_and_the_global_step_so_no_epoch_repeats_a_seed(tmp_path):
    draws = []
    loop = Loop(tmp_path, [H.StepSeed(7), At("before_step", lambda l: draws.append(float(paddle.rand([]))))],
                epochs=3)
    loop.train()
    expected = []
    for global_step in range(3 * STEPS):
        paddle.seed(7 * 1_000_003 + global_step)
        expected.append(float(paddle.rand([])))
    assert draws == expected
    assert len(set(draws)) == 3 * STEPS  # no two steps (of any epochs) share a seed


def test_a_resumed_run_draws_the_seeds_of_the_steps_it_resumes_at(tmp_path):
    def run(states, epochs=2):
        draws = []
        Loop(tmp_path, [H.StepSeed(1), At("before_step", lambda l: draws.append(float(paddle.rand([]))))],
             epochs=epochs, states=states).train()
        return draws
    whole = run(None)
    resumed = run(dict(epoch=1, step=1, global_step=STEPS + 1, best_top1=-1.0, best_epoch=0))
    assert resumed == whole[STEPS + 1:]


def test_the_model_is_in_train_mode_at_every_step_after_evaluations(tmp_path):
    modes = []
    loop = Loop(tmp_path, [H.EvalAndKeepBest(1), At("before_step", lambda l: modes.append(l.model.training))],
                epochs=3, results=[result(0.1), result(0.2), result(0.3)])
    loop.train()
    assert modes == [True] * (3 * STEPS) and not loop.model.training  # the last evaluation left it in eval mode


# --- the non-finite guards ------------------------------------------------------------------------------------

def _poisoned_loss(bad, at_global_step):
    """Cross entropy, replaced by ``bad`` at the given (1-based) global step."""
    calls = []

    def loss(logits, labels):
        calls.append(None)
        value = paddle.nn.functional.cross_entropy(logits, labels)
        return value * float(bad) if len(calls) == at_global_step else value
    return loss


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_stops_training_at_its_step_naming_the_last_checkpoint(tmp_path, bad):
    loop = Loop(tmp_path, [H.FiniteLoss(), H.SaveCheckpoints(0)], epochs=3, loss_fn=_poisoned_loss(bad, STEPS + 2))
    with pytest.raises(H.TrainingError) as error:
        loop.train()
    shown = {math.inf: "inf", -math.inf: "-inf"}.get(bad, "nan")
    assert str(error.value) == (
        f"loss is {shown} at epoch 2, step 2: training stopped; the last good checkpoint is "
        f"{os.path.join(str(tmp_path), 'latest')} (epoch 1). Lower Optimizer.lr.learning_rate or set "
        f"Optimizer.grad_clip")
    assert loop.states["global_step"] == STEPS + 2 and [name for name, _ in loop.saved] == ["latest"]


def test_a_non_finite_loss_in_the_first_epoch_says_no_checkpoint_was_written(tmp_path):
    loop = Loop(tmp_path, [H.FiniteLoss()], loss_fn=_poisoned_loss(math.nan, 1))
    with pytest.raises(H.TrainingError) as error:
        loop.train()
    assert str(error.value) == ("loss is nan at epoch 1, step 1: training stopped; no checkpoint was written yet. "
                                "Lower Optimizer.lr.learning_rate or set Optimizer.grad_clip")


def test_finite_losses_train_to_the_end(tmp_path):
    assert Loop(tmp_path, [H.FiniteLoss()]).train() == FINISHED


def _set(layer_index, kind, channels, value):
    def poison(loop):
        bn = loop.model[layer_index]
        buffer = bn._mean if kind == "mean" else bn._variance
        array = buffer.numpy()
        array[channels] = value
        buffer.set_value(array)
    return poison


@pytest.mark.parametrize("kind, value, channels, count, name", [
    ("variance", math.inf, [2], 1, "running variance"), ("variance", math.nan, [0, 3], 2, "running variance"),
    ("mean", -math.inf, [1], 1, "running mean"), ("mean", math.nan, [0, 1, 2], 3, "running mean")])
def test_non_finite_running_statistics_stop_before_anything_is_saved(tmp_path, kind, value, channels, count, name):
    hooks = H.default_hooks({"seed": 0, "print_batch_step": 10, "eval_interval": 1, "save_interval": 1})
    keep = [hook for hook in hooks if isinstance(hook, (H.FiniteNormStatistics, H.EvalAndKeepBest,
                                                        H.SaveCheckpoints))]
    loop = Loop(tmp_path, [At("after_epoch", _set(1, kind, channels, value), step=2 * STEPS), *keep],
                epochs=3, results=[result(0.5), result(0.6)])
    with pytest.raises(H.TrainingError) as error:
        loop.train()
    assert str(error.value) == (
        f"{name} of norm layer '1' has {count} non-finite value(s) after epoch 2 (step {2 * STEPS} overall): NaN/Inf "
        f"reached the network (check the data and Normalize); nothing was saved for this epoch")
    assert [(saved, states["epoch"]) for saved, states in loop.saved] == [("best_model", 1), ("latest", 1),
                                                                          ("epoch_1", 1)]


def test_finite_statistics_and_layers_without_running_statistics_pass(tmp_path):
    loop = Loop(tmp_path, [H.FiniteNormStatistics()])
    loop.model = paddle.nn.Sequential(loop.model, paddle.nn.LayerNorm(2), paddle.nn.GroupNorm(1, 2))
    loop.train_model = loop.model
    assert loop.train() == FINISHED


# --- evaluation and the best model ----------------------------------------------------------------------------

def test_evaluation_every_interval_and_after_the_last_epoch_saves_best_model_only_on_a_strict_improvement(tmp_path):
    loop = Loop(tmp_path, [H.EvalAndKeepBest(2)], epochs=7,
                results=[result(0.5), result(0.5), result(0.75), result(0.25)])
    loop.train()
    assert [(name, states["epoch"], states["best_top1"], states["best_epoch"]) for name, states in loop.saved] == [
        ("best_model", 2, 0.5, 2), ("best_model", 6, 0.75, 6)]  # evaluated after epochs 2, 4 (a tie), 6 and 7
    assert loop.states["best_top1"] == 0.75 and loop.states["best_epoch"] == 6 and loop.results == []
    evals = [line for line in loop.logger.lines if line.startswith("[Eval]")]
    assert evals == [f"[Eval][Epoch {epoch}][Avg]loss: {1 - top1:.5f}, top1: {top1:.5f}, top5: 1.00000, samples: 10"
                     for epoch, top1 in ((2, 0.5), (4, 0.5), (6, 0.75), (7, 0.25))]
    assert loop.logger.scalar_calls == [
        ({"eval/loss": 1 - top1, "eval/top1": top1, "eval/top5": 1.0}, epoch * STEPS)
        for epoch, top1 in ((2, 0.5), (4, 0.5), (6, 0.75), (7, 0.25))]


def test_a_first_evaluation_of_zero_top1_is_still_the_best_model(tmp_path):
    loop = Loop(tmp_path, [H.EvalAndKeepBest(1)], epochs=1, results=[result(0.0)])
    loop.train()
    assert loop.saved == [("best_model", dict(epoch=1, step=0, global_step=STEPS, best_top1=0.0, best_epoch=1))]


# --- checkpoints ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("interval, periodic", [(0, []), (1, [1, 2, 3, 4, 5]), (2, [2, 4]), (3, [3]), (6, [])])
def test_latest_after_every_epoch_and_epoch_n_every_save_interval(tmp_path, interval, periodic):
    loop = Loop(tmp_path, [H.SaveCheckpoints(interval)], epochs=5)
    assert loop.train() == FINISHED
    expected = []
    for epoch in range(1, 6):
        expected += [("latest", epoch)] + ([(f"epoch_{epoch}", epoch)] if epoch in periodic else [])
    assert [(name, states["epoch"]) for name, states in loop.saved] == expected


def test_a_requested_stop_saves_latest_mid_epoch_and_says_how_to_resume(tmp_path):
    loop = Loop(tmp_path, [H.SaveCheckpoints(1), At("after_step", lambda l: l.request_stop(), step=STEPS + 2)],
                epochs=3)
    assert loop.train() == INTERRUPTED
    assert loop.saved == [("latest", dict(epoch=1, step=0, global_step=STEPS, best_top1=-1.0, best_epoch=0)),
                          ("epoch_1", dict(epoch=1, step=0, global_step=STEPS, best_top1=-1.0, best_epoch=0)),
                          ("latest", dict(epoch=1, step=2, global_step=STEPS + 2, best_top1=-1.0, best_epoch=0))]
    assert loop.logger.lines == [f"stopped at epoch 2, step 2 ('latest' saved); resume with "
                                 f"-o Global.checkpoints={os.path.join(str(tmp_path), 'latest')}"]


def test_a_pause_or_a_failure_saves_nothing_more(tmp_path):
    loop = Loop(tmp_path, [H.SaveCheckpoints(0)], epochs=3)
    assert loop.train(stop_after_epoch=1) == PAUSED and [name for name, _ in loop.saved] == ["latest"]
    failing = Loop(tmp_path, [H.SaveCheckpoints(0), At("after_step", lambda l: 1 / 0, step=1)])
    with pytest.raises(ZeroDivisionError):
        failing.train()
    assert failing.saved == [] and failing.logger.lines == []


# --- the log lines --------------------------------------------------------------------------------------------

def test_train_lines_every_print_every_steps_and_at_the_epochs_end_with_window_averages(tmp_path, monkeypatch):
    monkeypatch.setattr(H, "time", Clock())
    steps = []
    loop = Loop(tmp_path, [At("after_step", lambda l: steps.append(l.last)), H.TrainLog(2)], epochs=3)
    loop.train()
    losses = [out.loss for out in steps]
    top1 = [float((out.logits.argmax(axis=1) == out.labels.reshape([-1])).astype("float32").mean()) for out in steps]
    assert sorted(set(top1)) != [top1[0]]  # the batches are not all scored alike
    lines, scalars = [], []
    timed = 0  # steps after the warm-up; each takes one clock second
    for epoch in range(3):
        window = []
        for step in range(1, STEPS + 1):
            index = epoch * STEPS + step - 1
            window.append(index)
            timed += index + 1 > H.WARMUP_STEPS
            if step % 2 == 0 or step == STEPS:
                loss, top = (sum(values[i] for i in window) / len(window) for values in (losses, top1))
                cost = 1.0 if timed else 0.0
                ips = f"{BATCH / cost:.1f}" if cost else "0.0"
                eta = H.format_eta(((3 - epoch) * STEPS - step) * cost)
                lines.append(f"[Train][Epoch {epoch + 1}/3][Iter: {step}/{STEPS}]lr: 0.10000, loss: {loss:.5f}, "
                             f"top1: {top:.5f}, batch_cost: {cost:.5f}s, ips: {ips} samples/s, eta: {eta}")
                scalars.append(({"train/loss": pytest.approx(loss), "train/top1": pytest.approx(top),
                                 "train/lr": 0.1}, index + 1))
                window = []
        first = epoch * STEPS
        loss, top = (sum(values[first:first + STEPS]) / STEPS for values in (losses, top1))
        timed_in_epoch = sum(first + s + 1 > H.WARMUP_STEPS for s in range(STEPS))
        ips = f"{BATCH * timed_in_epoch / timed_in_epoch:.1f}" if timed_in_epoch else "0.0"
        lines.append(f"[Train][Epoch {epoch + 1}/3][Avg]loss: {loss:.5f}, top1: {top:.5f}, ips: {ips} samples/s, "
                     f"time: {STEPS + 1:.1f}s")  # before_epoch, 3 steps, after_epoch: one second per clock read
        scalars.append(({"train/ips": float(ips)}, (epoch + 1) * STEPS))
    assert loop.logger.lines == lines
    assert loop.logger.scalar_calls == scalars


def test_the_averages_weigh_each_batch_by_its_size(tmp_path):
    steps = []
    loop = Loop(tmp_path, [At("after_step", lambda l: steps.append(l.last)), H.TrainLog(STEPS)], epochs=1,
                sizes=(4, 1, 3))
    loop.train()
    sizes = [out.batch_size for out in steps]
    loss = sum(out.loss * n for out, n in zip(steps, sizes)) / 8
    top1 = sum(float((out.logits.argmax(axis=1) == out.labels.reshape([-1])).astype("float32").sum())
               for out in steps) / 8
    assert sizes == [4, 1, 3] and f"loss: {loss:.5f}, top1: {top1:.5f}," in loop.logger.lines[0]
    assert f"[Avg]loss: {loss:.5f}, top1: {top1:.5f}," in loop.logger.lines[1]
    unweighted = sum(out.loss for out in steps) / 3
    assert f"{unweighted:.5f}" != f"{loss:.5f}"


def test_the_held_logits_are_bounded_and_the_averages_stay_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(H, "time", Clock())
    lines, held = {}, {}
    for bound in (10 ** 9, 2 * BATCH * 2):  # any number of steps; two steps' logits (batch x 2 classes each)
        monkeypatch.setattr(H, "UNSCORED_VALUES", bound)
        log = H.TrainLog(100)
        held[bound] = []
        loop = Loop(tmp_path, [log, At("after_step", lambda l, b=bound, t=log: held[b].append(len(t.unscored)))],
                    epochs=2)
        loop.train()
        lines[bound] = loop.logger.lines
    assert held == {10 ** 9: [1, 2, 0] * 2, 2 * BATCH * 2: [1, 0, 0] * 2}  # the second step's scoring empties it
    assert lines[10 ** 9] == lines[2 * BATCH * 2] and len(lines[10 ** 9]) == 4


def test_the_batch_cost_averages_the_timed_steps_and_the_eta_counts_the_steps_left(tmp_path, monkeypatch):
    class Uneven:  # the clock moves only in `tick`
        now = 0.0

        def time(self):
            return self.now

    clock = Uneven()
    monkeypatch.setattr(H, "time", clock)

    def tick(loop):
        clock.now += loop.states["global_step"] + 1
    loop = Loop(tmp_path, [At("before_step", tick), H.TrainLog(100)], epochs=4)
    loop.world_size = 2
    loop.train()
    # global step k takes k seconds; steps 6..12 are timed, and each epoch averages its own
    lines = {line.split("]")[1] + line.split("]")[2]: line for line in loop.logger.lines}
    for epoch, timed, left in ((2, [6], 2 * STEPS), (3, [7, 8, 9], STEPS), (4, [10, 11, 12], 0)):
        cost = sum(timed) / len(timed)
        assert lines[f"[Epoch {epoch}/4[Iter: 3/3"].endswith(
            f"batch_cost: {cost:.5f}s, ips: {BATCH * 2 / cost:.1f} samples/s, eta: {H.format_eta(left * cost)}")
        seconds = sum(range((epoch - 1) * STEPS + 1, epoch * STEPS + 1))
        assert lines[f"[Epoch {epoch}/4[Avg"].endswith(
            f"ips: {len(timed) * BATCH * 2 / sum(timed):.1f} samples/s, time: {seconds:.1f}s")


def test_norm_histograms_and_statistics_sync_run_once_per_epoch_at_the_global_step(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(H, "average_norm_statistics", lambda model, world: synced.append((model, world)))
    loop = Loop(tmp_path, [H.SyncNormStatistics(), H.NormHistograms()], epochs=2)
    loop.world_size = 3
    loop.train()
    assert synced == [(loop.model, 3)] * 2
    assert loop.logger.histograms == [(loop.model, STEPS), (loop.model, 2 * STEPS)]


# --- the run's output directory, the final report, signals ------------------------------------------------------

def test_rank_zero_locks_the_output_dir_writes_config_yaml_and_unlocks_after_training(tmp_path):
    held = []

    def try_lock(loop):
        with pytest.raises(Exception, match="in use by another run"):
            OutputDirLock(str(tmp_path)).acquire()
        held.append(True)
    loop = Loop(tmp_path, [H.OwnOutputDir(), At("after_step", try_lock, step=1)], epochs=1)
    loop.train()
    assert held == [True] and loop.logger.opened == 1
    assert "epochs: 1" in (tmp_path / "config.yaml").read_text()
    assert loop.logger.lines == [f"[Config] resolved config in {os.path.join(str(tmp_path), 'config.yaml')}, full "
                                 f"log in train.log (-v prints the config here)"]
    OutputDirLock(str(tmp_path)).acquire().release()  # released


def test_other_ranks_neither_lock_nor_write(tmp_path):
    loop = Loop(tmp_path / "run", [H.OwnOutputDir()], epochs=1, rank=1)
    assert loop.train() == FINISHED
    assert not (tmp_path / "run").exists() and loop.logger.lines == [] and loop.logger.opened == 0


def test_the_final_report_gives_the_last_evaluation_and_the_best_and_closes_the_log(tmp_path, monkeypatch):
    monkeypatch.setattr(H, "time", Clock())
    loop = Loop(tmp_path, [H.EvalAndKeepBest(1), H.FinalReport()], epochs=2,
                results=[result(0.75, samples=12), result(0.5, samples=12)])
    loop.train()
    assert loop.logger.lines[-1] == (f"[Done] top1 0.5000 on 12 eval samples (best 0.7500 at epoch 1); 2 epochs, "
                                     f"training time 1.0s; checkpoints and VisualDL logs in {tmp_path}")
    assert loop.logger.closed == 1


def test_the_final_report_evaluates_when_nothing_did_and_a_stop_only_closes_the_log(tmp_path):
    loop = Loop(tmp_path, [H.FinalReport()], epochs=1, results=[result(0.25, samples=8)])
    loop.train()
    assert loop.logger.lines[-1].startswith("[Done] top1 0.2500 on 8 eval samples (best -1.0000 at epoch 0); 1 epochs")
    stopped = Loop(tmp_path, [H.FinalReport(), At("after_step", lambda l: l.request_stop(), step=1)])
    assert stopped.train() == INTERRUPTED and stopped.logger.lines == [] and stopped.logger.closed == 1


def test_a_finished_checkpoint_says_there_is_nothing_to_train(tmp_path):
    loop = Loop(tmp_path, [H.FinalReport()], epochs=2, results=[result(0.5)],
                states=dict(epoch=2, step=0, global_step=6, best_top1=0.5, best_epoch=2))
    loop.train()
    assert loop.logger.lines[0] == ("nothing to train: the checkpoint has already done 2 epoch(s) and "
                                    "Global.epochs=2; raise Global.epochs to train further")
    fresh = Loop(tmp_path, [H.FinalReport()], epochs=2, results=[result(0.5)],
                 states=dict(epoch=1, step=0, global_step=3, best_top1=0.5, best_epoch=1))
    fresh.train()
    assert not fresh.logger.lines[0].startswith("nothing to train")


def _train(loop):
    """``loop.train()``; a :class:`Stopped` (a KeyboardInterrupt, which would end pytest) is returned instead."""
    try:
        return loop.train()
    except KeyboardInterrupt as stopped:
        return stopped


def test_a_signal_stops_after_the_step_and_the_handler_is_restored(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    loop = Loop(tmp_path, [H.StopOnSignal(), At("after_step", lambda l: os.kill(os.getpid(), signal.SIGTERM),
                                                  step=2)], epochs=2)
    assert _train(loop) == INTERRUPTED and loop.states["global_step"] == 2 and loop.stop_signal == signal.SIGTERM
    assert len(loop.logger.lines) == 1 and "saving 'latest' after this step" in loop.logger.lines[0]
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_signal_still_stops_when_the_console_is_gone(tmp_path):
    loop = Loop(tmp_path, [H.StopOnSignal(), At("after_step", lambda l: os.kill(os.getpid(), signal.SIGINT),
                                                  step=1)], epochs=2)

    def closed(message):
        raise OSError("closed terminal")
    loop.logger.info = closed
    assert _train(loop) == INTERRUPTED and loop.states["global_step"] == 1


def test_the_signal_hook_cleans_up_after_a_failed_start_and_after_a_second_run(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    hook = H.StopOnSignal()

    def fail(loop):
        raise RuntimeError("before_train failed")
    with pytest.raises(RuntimeError, match="before_train failed"):  # StopOnSignal.before_train never ran
        Loop(tmp_path, [At("before_train", fail), hook], epochs=1).train()
    assert Loop(tmp_path, [hook], epochs=1).train() == FINISHED
    with pytest.raises(RuntimeError, match="before_train failed"):  # the same hook, after a finished run
        Loop(tmp_path, [At("before_train", fail), hook], epochs=1).train()
    assert signal.getsignal(signal.SIGTERM) == before
    with signals.handling(), pytest.raises(signals.Stopped):  # no finished loop still takes the stop requests
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(1)


# --- the default hooks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ema", [None, False, True])
def test_default_hooks_in_order_with_their_settings(ema):
    settings = {"seed": 5, "print_batch_step": 7, "eval_interval": 3, "save_interval": 4}
    hooks = H.default_hooks(settings) if ema is None else H.default_hooks(settings, ema=ema)
    names = [type(hook).__name__ for hook in hooks]
    assert names == ["OwnOutputDir", "StepSeed", "FiniteLoss", "TrainLog", "SyncNormStatistics",
                     *(["UpdateEma"] if ema else []), "FiniteNormStatistics", "EvalAndKeepBest", "NormHistograms",
                     "SaveCheckpoints", "StopOnSignal", "FinalReport"]
    settings = {type(hook).__name__: hook for hook in hooks}
    assert settings["StepSeed"].seed == 5 and settings["TrainLog"].print_every == 7
    assert settings["EvalAndKeepBest"].interval == 3 and settings["SaveCheckpoints"].interval == 4
    assert all(isinstance(hook, UpdateEma) for hook in hooks if type(hook).__name__ == "UpdateEma")
