"""The hooks of a config-driven run that log, evaluate and report: one concern each (the contract:
:mod:`ppnorm.engine.hook_api`).

:func:`default_hooks` builds every registered hook a default run uses (here and in :mod:`.hook_checks`,
:mod:`.hook_run`, :mod:`.ema`), ordered by priority; the loop stays free of all of this.
"""
import math
import time

import paddle

from .distributed import average_norm_statistics
from .ema import UpdateEma
from .hook_api import FINISHED, HOOKS, HookBase, by_priority
from .hook_checks import FiniteLoss, FiniteNormStatistics, StepSeed, TrainingError
from .hook_run import OwnOutputDir, SaveCheckpoints, StopOnSignal, resume_note
from .logger import format_eta
from .metrics import AverageMeter

__all__ = ["EvalAndKeepBest", "FinalReport", "FiniteLoss", "FiniteNormStatistics", "NormHistograms", "OwnOutputDir",
           "SaveCheckpoints", "StepSeed", "StopOnSignal", "SyncNormStatistics", "TrainLog", "TrainingError",
           "UpdateEma", "WARMUP_STEPS", "default_hooks", "format_eta", "resume_note"]

WARMUP_STEPS = 5  # steps left out of the speed (ips) figures: first calls allocate and tune kernels
UNSCORED_VALUES = 1 << 20  # TrainLog holds at most this many logits (4 MB in fp32) before it counts their top-1


@HOOKS.register("TrainLog")
class TrainLog(HookBase):
    """PaddleClas-style ``[Train]`` lines every ``print_every`` steps and an ``[Avg]`` line per epoch."""

    priority = 20

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls(settings["print_batch_step"])

    def __init__(self, print_every):
        self.print_every = print_every

    def before_epoch(self, ctx):
        self.window = {"loss": AverageMeter(), "top1": AverageMeter()}
        self.epoch = {"loss": AverageMeter(), "top1": AverageMeter()}
        self.unscored = []  # (logits, labels) of the steps whose top-1 is not counted yet (see _score)
        self.timed_samples, self.timed_seconds, self.cost = 0, 0.0, AverageMeter()
        self.epoch_start = self.tick = time.time()

    def after_step(self, ctx):
        batch = ctx.metrics["batch_size"]  # the step's values, written by the loop
        for meters in (self.window, self.epoch):
            meters["loss"].update(ctx.metrics["loss"], batch)
        self.unscored.append((ctx.last.logits.detach(), ctx.last.labels))  # detached: the step's graph can go
        if len(self.unscored) * math.prod(ctx.last.logits.shape) >= UNSCORED_VALUES:  # bounded memory
            self._score()
        now = time.time()
        if ctx.states["global_step"] > WARMUP_STEPS:
            self.timed_samples += batch
            self.timed_seconds += now - self.tick
            self.cost.update(now - self.tick)
        self.tick = now
        step = ctx.states["step"]
        if step % self.print_every == 0 or step == ctx.steps_per_epoch:
            self._score()
            self._log_step(ctx, batch)
            self.window = {"loss": AverageMeter(), "top1": AverageMeter()}

    def _score(self):
        """Count the top-1 hits of the steps held so far in one pass (a few kernels per logged line, not per
        step). The averages are hits / samples, exact (one float32 ``top1_of`` per step, as before, could round the
        fifth decimal the other way for batch sizes that are not powers of two)."""
        if not self.unscored:
            return
        logits = paddle.concat([logits for logits, _ in self.unscored])
        labels = paddle.concat([labels.reshape([-1]) for _, labels in self.unscored])
        samples = int(labels.shape[0])
        top1 = int((logits.argmax(axis=1) == labels).astype("int64").sum()) / samples
        for meters in (self.window, self.epoch):
            meters["top1"].update(top1, samples)
        self.unscored = []

    def _log_step(self, ctx, batch):
        lr, cost, step = ctx.metrics["lr"], self.cost.avg, ctx.states["step"]
        remaining = (ctx.epochs - ctx.epoch) * ctx.steps_per_epoch - step
        ips = batch * ctx.world_size / cost if cost else 0.0
        ctx.logger.info(f"[Train][Epoch {ctx.epoch + 1}/{ctx.epochs}][Iter: {step}/{ctx.steps_per_epoch}]"
                        f"lr: {lr:.5f}, loss: {self.window['loss'].avg:.5f}, top1: {self.window['top1'].avg:.5f}, "
                        f"batch_cost: {cost:.5f}s, ips: {ips:.1f} samples/s, eta: {format_eta(remaining * cost)}")
        ctx.logger.scalars({"train/loss": self.window["loss"].avg, "train/top1": self.window["top1"].avg,
                            "train/lr": lr}, ctx.states["global_step"])

    def after_epoch(self, ctx):
        self._score()
        ips = self.timed_samples * ctx.world_size / self.timed_seconds if self.timed_seconds else 0.0
        ctx.logger.info(f"[Train][Epoch {ctx.epoch + 1}/{ctx.epochs}][Avg]loss: {self.epoch['loss'].avg:.5f}, "
                        f"top1: {self.epoch['top1'].avg:.5f}, ips: {ips:.1f} samples/s, "
                        f"time: {time.time() - self.epoch_start:.1f}s")
        ctx.logger.scalars({"train/ips": ips}, ctx.states["global_step"])  # one x-axis (global step) for all


@HOOKS.register("SyncNormStatistics")
class SyncNormStatistics(HookBase):
    """Average BatchNorm running statistics over ranks after each epoch (before evaluation and saving)."""

    priority = 25

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def after_epoch(self, ctx):
        average_norm_statistics(ctx.model, ctx.world_size)


@HOOKS.register("EvalAndKeepBest")
class EvalAndKeepBest(HookBase):
    """Evaluate every ``interval`` epochs and after the last; save ``best_model`` when top-1 improves."""

    priority = 60

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls(settings["eval_interval"])

    def __init__(self, interval):
        self.interval = interval

    def after_epoch(self, ctx):
        epoch = ctx.epoch + 1
        if epoch % self.interval and epoch != ctx.epochs:
            return
        result = ctx.evaluate()
        ctx.logger.info(f"[Eval][Epoch {epoch}][Avg]" + ", ".join(
            f"{k}: {v:.5f}" for k, v in result.items() if k != "samples") + f", samples: {result['samples']}")
        ctx.logger.scalars({f"eval/{k}": v for k, v in result.items() if k != "samples"},
                           ctx.states["global_step"])  # the train scalars' x-axis, so the curves overlay
        if result["top1"] > ctx.states["best_top1"]:
            ctx.states["best_top1"], ctx.states["best_epoch"] = result["top1"], epoch
            ctx.save("best_model")


@HOOKS.register("NormHistograms")
class NormHistograms(HookBase):
    """VisualDL histograms of every norm layer's scale, shift and running statistics, once per epoch."""

    priority = 65

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def after_epoch(self, ctx):
        ctx.logger.norm_histograms(ctx.model, ctx.states["global_step"])


@HOOKS.register("FinalReport")
class FinalReport(HookBase):
    """When training finished, print the ``[Done]`` line with the final evaluation; then close the logs."""

    priority = 95

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def before_train(self, ctx):
        self.start = time.time()
        if ctx.states["epoch"] >= ctx.epochs:
            ctx.logger.info(f"nothing to train: the checkpoint has already done {ctx.states['epoch']} epoch(s) and "
                            f"Global.epochs={ctx.epochs}; raise Global.epochs to train further")

    def after_train(self, ctx):
        try:
            if ctx.outcome == FINISHED:
                self._done_line(ctx)
        finally:
            ctx.logger.close()

    def _done_line(self, ctx):
        seconds = time.time() - self.start
        result = ctx.last_eval or ctx.evaluate()
        ctx.logger.info(f"[Done] top1 {result['top1']:.4f} on {result['samples']} eval samples "
                        f"(best {ctx.states['best_top1']:.4f} at epoch {ctx.states['best_epoch']}); "
                        f"{ctx.epochs} epochs, training time {seconds:.1f}s; checkpoints and VisualDL logs in "
                        f"{ctx.output_dir}")


def default_hooks(global_config, ema=False):
    """The hooks of ``tools/train.py`` in the order they run: every registered hook whose ``from_global`` builds
    one from the ``Global`` config section (``ema``: the loop has an ``ema`` to update, see :mod:`.ema`)."""
    built = (HOOKS.get_target(name).from_global(global_config, ema) for name in HOOKS.names())
    return by_priority([hook for hook in built if hook is not None])
