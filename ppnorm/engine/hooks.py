"""The hooks of a config-driven run: one concern each (see :class:`ppnorm.engine.loop.HookBase`).

:func:`default_hooks` lists them in the order they run; the loop stays free of all of this. They
expect a :class:`~ppnorm.engine.trainer.Trainer` (``logger``, ``output_dir``, ``rank``, ``world_size``,
``save``, ``evaluate``); hooks for a bare :class:`~ppnorm.engine.loop.TrainLoop` use only the loop.
"""
import contextlib
import math
import os
import time

import paddle

from ..nn.norm import is_batch_norm, running_stats
from ..signals import label, stop_requests
from .config import save_config
from .distributed import average_norm_statistics
from .ema import UpdateEma
from .logger import format_eta
from .loop import DATA_FAILED, FINISHED, INTERRUPTED, HookBase
from .metrics import AverageMeter
from .run_lock import OutputDirLock

WARMUP_STEPS = 5  # steps left out of the speed (ips) figures: first calls allocate and tune kernels


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became non-finite); the message says where and what to try."""


class OwnOutputDir(HookBase):
    """Lock ``output_dir`` for the whole run (a second run there fails at once) and write ``config.yaml``."""

    def before_train(self, loop):
        if loop.rank == 0:
            self.lock = OutputDirLock(loop.output_dir).acquire()
            save_config(loop.config, loop.output_dir)
            loop.logger.open_file()
            loop.logger.info(f"[Config] resolved config in {os.path.join(loop.output_dir, 'config.yaml')}, "
                             f"full log in {loop.logger.log_file} (-v prints the config here)")

    def after_train(self, loop):
        if getattr(self, "lock", None) is not None:
            self.lock.release()


class StepSeed(HookBase):
    """Seed Paddle from the global step before each step, so dropout masks are the same after a resume."""

    def __init__(self, seed):
        self.seed = seed

    def before_step(self, loop):
        paddle.seed(self.seed * 1_000_003 + loop.states["global_step"])


class FiniteLoss(HookBase):
    """Stop with a one-line :class:`TrainingError` when the loss is NaN or infinite."""

    def after_step(self, loop):
        if math.isfinite(loop.last.loss):
            return
        done = loop.states["epoch"]
        kept = f"the last good checkpoint is {os.path.join(loop.output_dir, 'latest')} (epoch {done})" if done \
            else "no checkpoint was written yet"
        raise TrainingError(f"loss is {loop.last.loss} at epoch {loop.epoch + 1}, step {loop.states['step']}: "
                            f"training stopped; {kept}. Lower Optimizer.lr.learning_rate or set Optimizer.grad_clip")


class FiniteNormStatistics(HookBase):
    """After each epoch, stop before anything is saved if a BatchNorm running statistic is NaN or infinite.

    ReLU after BN turns NaN into 0, so a NaN pixel in the data can leave the loss finite while the
    running statistics (and then the weights) fill with NaN.
    """

    def after_epoch(self, loop):
        for name, layer in loop.model.named_sublayers():
            if not is_batch_norm(layer):
                continue
            for kind, values in zip(("running mean", "running variance"), running_stats(layer)):
                bad = int((~paddle.isfinite(values)).sum())
                if bad:
                    raise TrainingError(f"{kind} of norm layer '{name}' has {bad} non-finite value(s) after epoch "
                                        f"{loop.epoch + 1} (step {loop.states['global_step']} overall): NaN/Inf "
                                        f"reached the network (check the data and Normalize); nothing was saved "
                                        f"for this epoch")


class StopOnSignal(HookBase):
    """The first Ctrl-C, SIGTERM or SIGHUP asks the loop to stop after the current step (``latest`` is then
    saved); a second one quits at once. Register it after :class:`SaveCheckpoints`, so that the save on a
    stop is still covered (a signal during it waits for the commit, see :mod:`ppnorm.signals`)."""

    def before_train(self, loop):
        def request(signum):
            try:
                loop.logger.info(f"{label(signum)}: saving 'latest' after this step (send it again to quit without "
                                 f"saving)")
            except OSError:  # the console is gone (a closed terminal): stop all the same
                pass
            loop.request_stop(signum)

        self.scope = contextlib.ExitStack()
        self.scope.enter_context(stop_requests(request))

    def after_train(self, loop):
        if getattr(self, "scope", None) is not None:
            self.scope.close()
            self.scope = None


class TrainLog(HookBase):
    """PaddleClas-style ``[Train]`` lines every ``print_every`` steps and an ``[Avg]`` line per epoch."""

    def __init__(self, print_every):
        self.print_every = print_every

    def before_epoch(self, loop):
        self.window = {"loss": AverageMeter(), "top1": AverageMeter()}
        self.epoch = {"loss": AverageMeter(), "top1": AverageMeter()}
        self.timed_samples, self.timed_seconds, self.cost = 0, 0.0, AverageMeter()
        self.epoch_start = self.tick = time.time()

    def after_step(self, loop):
        out = loop.last
        top1 = float((out.logits.argmax(axis=1) == out.labels.reshape([-1])).astype("float32").mean())
        for meters in (self.window, self.epoch):
            meters["loss"].update(out.loss, out.batch_size)
            meters["top1"].update(top1, out.batch_size)
        now = time.time()
        if loop.states["global_step"] > WARMUP_STEPS:
            self.timed_samples += out.batch_size
            self.timed_seconds += now - self.tick
            self.cost.update(now - self.tick)
        self.tick = now
        step = loop.states["step"]
        if step % self.print_every == 0 or step == loop.steps_per_epoch:
            self._log_step(loop, out.batch_size)
            self.window = {"loss": AverageMeter(), "top1": AverageMeter()}

    def _log_step(self, loop, batch):
        lr, cost, step = loop.optimizer.get_lr(), self.cost.avg, loop.states["step"]
        remaining = (loop.epochs - loop.epoch) * loop.steps_per_epoch - step
        ips = batch * loop.world_size / cost if cost else 0.0
        loop.logger.info(f"[Train][Epoch {loop.epoch + 1}/{loop.epochs}][Iter: {step}/{loop.steps_per_epoch}]"
                         f"lr: {lr:.5f}, loss: {self.window['loss'].avg:.5f}, top1: {self.window['top1'].avg:.5f}, "
                         f"batch_cost: {cost:.5f}s, ips: {ips:.1f} samples/s, eta: {format_eta(remaining * cost)}")
        loop.logger.scalars({"train/loss": self.window["loss"].avg, "train/top1": self.window["top1"].avg,
                             "train/lr": lr}, loop.states["global_step"])

    def after_epoch(self, loop):
        ips = self.timed_samples * loop.world_size / self.timed_seconds if self.timed_seconds else 0.0
        loop.logger.info(f"[Train][Epoch {loop.epoch + 1}/{loop.epochs}][Avg]loss: {self.epoch['loss'].avg:.5f}, "
                         f"top1: {self.epoch['top1'].avg:.5f}, ips: {ips:.1f} samples/s, "
                         f"time: {time.time() - self.epoch_start:.1f}s")
        loop.logger.scalars({"train/ips": ips}, loop.states["global_step"])  # one x-axis (global step) for all


class SyncNormStatistics(HookBase):
    """Average BatchNorm running statistics over ranks after each epoch (before evaluation and saving)."""

    def after_epoch(self, loop):
        average_norm_statistics(loop.model, loop.world_size)


class EvalAndKeepBest(HookBase):
    """Evaluate every ``interval`` epochs and after the last; save ``best_model`` when top-1 improves."""

    def __init__(self, interval):
        self.interval = interval

    def after_epoch(self, loop):
        epoch = loop.epoch + 1
        if epoch % self.interval and epoch != loop.epochs:
            return
        result = loop.evaluate()
        loop.logger.info(f"[Eval][Epoch {epoch}][Avg]" + ", ".join(
            f"{k}: {v:.5f}" for k, v in result.items() if k != "samples") + f", samples: {result['samples']}")
        loop.logger.scalars({f"eval/{k}": v for k, v in result.items() if k != "samples"},
                            loop.states["global_step"])  # the train scalars' x-axis, so the curves overlay
        if result["top1"] > loop.states["best_top1"]:
            loop.states["best_top1"], loop.states["best_epoch"] = result["top1"], epoch
            loop.save("best_model")


class NormHistograms(HookBase):
    """VisualDL histograms of every norm layer's scale, shift and running statistics, once per epoch."""

    def after_epoch(self, loop):
        loop.logger.norm_histograms(loop.model, loop.states["global_step"])


class SaveCheckpoints(HookBase):
    """``latest`` after every epoch, on a stop and when a batch cannot be read; ``epoch_N`` every ``interval``."""

    def __init__(self, interval):
        self.interval = interval

    def after_epoch(self, loop):
        loop.save("latest")
        if self.interval and (loop.epoch + 1) % self.interval == 0:
            loop.save(f"epoch_{loop.epoch + 1}")

    def after_train(self, loop):
        if loop.outcome in (INTERRUPTED, DATA_FAILED):  # the steps done since the last epoch end are kept
            loop.save("latest")
        if loop.outcome == INTERRUPTED:
            loop.logger.info(resume_note(loop))


def resume_note(loop):
    """Where a stopped run stands and the flag that resumes it exactly."""
    return (f"stopped at epoch {loop.epoch + 1}, step {loop.states['step']} ('latest' saved); resume with "
            f"-o Global.checkpoints={os.path.join(loop.output_dir, 'latest')}")


class FinalReport(HookBase):
    """When training finished, print the ``[Done]`` line with the final evaluation; then close the logs."""

    def before_train(self, loop):
        self.start = time.time()
        if loop.states["epoch"] >= loop.epochs:
            loop.logger.info(f"nothing to train: the checkpoint has already done {loop.states['epoch']} epoch(s) and "
                             f"Global.epochs={loop.epochs}; raise Global.epochs to train further")

    def after_train(self, loop):
        try:
            if loop.outcome == FINISHED:
                self._done_line(loop)
        finally:
            loop.logger.close()

    def _done_line(self, loop):
        seconds = time.time() - self.start
        result = loop.last_eval or loop.evaluate()
        loop.logger.info(f"[Done] top1 {result['top1']:.4f} on {result['samples']} eval samples "
                         f"(best {loop.states['best_top1']:.4f} at epoch {loop.states['best_epoch']}); "
                         f"{loop.epochs} epochs, training time {seconds:.1f}s; checkpoints and VisualDL logs in "
                         f"{loop.output_dir}")


def default_hooks(global_config, ema=False):
    """The hooks of ``tools/train.py``, in the order they run, from the ``Global`` config section
    (``ema``: the loop has an ``ema`` to update, see :mod:`ppnorm.engine.ema`)."""
    return [OwnOutputDir(), StepSeed(global_config["seed"]), FiniteLoss(),
            TrainLog(global_config["print_batch_step"]), SyncNormStatistics(), *([UpdateEma()] if ema else []),
            FiniteNormStatistics(),
            EvalAndKeepBest(global_config["eval_interval"]), NormHistograms(),
            SaveCheckpoints(global_config["save_interval"]), StopOnSignal(), FinalReport()]
