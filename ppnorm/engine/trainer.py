"""The training loop: config in, checkpoints, console lines and VisualDL logs out."""
import contextlib
import math
import os
import signal
import time

import numpy as np
import paddle
import paddle.nn.functional as F

from ..data import build_dataloader
from .builder import input_layout, model_from_config
from .checkpoint import load_checkpoint, save_checkpoint
from .config import dump_config, save_config
from .distributed import average_norm_statistics, setup_device
from .evaluator import evaluate
from .logger import Logger, format_eta
from .metrics import AverageMeter
from .optim import build_optimizer

WARMUP_STEPS = 5  # steps left out of the speed (ips) figures: first calls allocate and tune kernels


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became non-finite); the message says where and what to try."""


class Trainer:
    """Builds everything from a validated config (see :func:`ppnorm.engine.config.load_config`)."""

    def __init__(self, config, stream=None):
        self.config = config
        glob = config["Global"]
        self.rank, self.world_size, device_note = setup_device(glob["device"], glob["cpu_threads"])
        self.output_dir = glob["output_dir"]
        self.epochs = glob["epochs"]
        self.seed = glob["seed"]
        self.logger = Logger(self.output_dir, self.rank, glob["use_visualdl"], stream)
        if self.rank == 0:
            save_config(config, self.output_dir)
        self.logger.info(dump_config(config).rstrip())
        self.logger.info(device_note)
        paddle.seed(self.seed)
        np.random.seed(self.seed)

        loaders = config["DataLoader"]
        layout = input_layout(config)
        self.train_loader, self.train_sampler, self.train_data = build_dataloader(
            loaders["Train"], self.seed, self.rank, self.world_size, "DataLoader.Train", layout)
        self.eval_loader, _, self.eval_data = build_dataloader(
            loaders["Eval"], self.seed, self.rank, self.world_size, "DataLoader.Eval", layout)
        self.steps_per_epoch = self.train_sampler.batches_per_epoch()
        if self.steps_per_epoch == 0:
            raise TrainingError(f"DataLoader.Train: batch_size={loaders['Train']['batch_size']} with drop_last is "
                                f"larger than the {len(self.train_data)} training samples per device")

        self.model = model_from_config(config, self.train_data.dataset)
        self.optimizer, self.scheduler = build_optimizer(config["Optimizer"], self.model, self.epochs,
                                                         self.steps_per_epoch)
        self.states = {"epoch": 0, "step": 0, "global_step": 0, "best_top1": -1.0, "best_epoch": 0}
        if glob["checkpoints"]:
            self.states.update(load_checkpoint(glob["checkpoints"], self.model, self.optimizer))
            self.logger.info(f"resumed from {glob['checkpoints']}: epoch {self.states['epoch'] + 1}, "
                             f"step {self.states['step']}")
        self.amp_level = glob["amp_level"]
        self.scaler = None
        if self.amp_level:
            self.scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15)
            if self.amp_level == "O2":
                self.model, self.optimizer = paddle.amp.decorate(self.model, self.optimizer, level="O2")
        self.train_model = paddle.DataParallel(self.model) if self.world_size > 1 else self.model
        self.label_smoothing = config["Loss"]["label_smoothing"]
        self.topk = config["Metric"]["topk"]
        self.last_eval = None
        self._stop_requested = False

    # ---------------------------------------------------------------- checkpoints
    def _save(self, name):
        if self.rank == 0:
            save_checkpoint(os.path.join(self.output_dir, name), self.model, self.optimizer, self.states)

    def request_stop(self):
        """Finish the current step, save ``latest`` and return from :meth:`train` (what Ctrl-C does)."""
        self._stop_requested = True

    @contextlib.contextmanager
    def _ctrl_c_saves(self):
        def handler(signum, frame):
            if self._stop_requested:  # a second Ctrl-C: stop at once
                raise KeyboardInterrupt
            self.logger.info("Ctrl-C: saving 'latest' after this step (press again to quit without saving)")
            self.request_stop()

        try:
            previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: leave signals alone
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    # ---------------------------------------------------------------- loop
    def _forward_loss(self, images, labels):
        amp = paddle.amp.auto_cast(level=self.amp_level) if self.amp_level else contextlib.nullcontext()
        with amp:
            logits = self.train_model(images)
            loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        return logits, loss

    def _step(self, images, labels):
        logits, loss = self._forward_loss(images, labels)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.clear_grad()
        self.scheduler.step()
        return logits, float(loss)

    def _check_finite(self, loss, epoch, step):
        if math.isfinite(loss):
            return
        kept = os.path.join(self.output_dir, "latest")
        kept_note = f"the last good checkpoint is {kept} (epoch {self.states['epoch']})" if self.states["epoch"] \
            else "no checkpoint was written yet"
        raise TrainingError(f"loss is {loss} at epoch {epoch + 1}, step {step + 1}: training stopped; {kept_note}. "
                            f"Lower Optimizer.lr.learning_rate or set Optimizer.grad_clip")

    def train(self, stop_after_epoch=None):
        """Train to ``Global.epochs``; returns the final evaluation (None if stopped early)."""
        start = time.time()
        with self._ctrl_c_saves():
            for epoch in range(self.states["epoch"], self.epochs):
                finished = self._train_epoch(epoch)
                if not finished:
                    self._save("latest")
                    self.logger.info(f"stopped at epoch {epoch + 1}, step {self.states['step']}; resume with "
                                     f"-o Global.checkpoints={os.path.join(self.output_dir, 'latest')}")
                    return None
                self._end_epoch(epoch)
                if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
                    return None
        self._finish(time.time() - start)
        return self.last_eval

    def _train_epoch(self, epoch):
        """One epoch (or its rest, when resuming mid-epoch); False if a stop was requested."""
        first = self.states["step"]
        self.train_sampler.set_epoch(epoch, skip_batches=first)
        self.train_data.set_epoch(epoch)
        self.train_model.train()
        window = {"loss": AverageMeter(), "top1": AverageMeter()}
        epoch_meter = {"loss": AverageMeter(), "top1": AverageMeter()}
        timed_samples, timed_seconds, window_cost = 0, 0.0, AverageMeter()
        epoch_start = tick = time.time()
        print_every = self.config["Global"]["print_batch_step"]
        for step, (images, labels, _) in enumerate(self.train_loader, start=first):
            paddle.seed(self.seed * 1_000_003 + self.states["global_step"])  # dropout masks reproducible on resume
            logits, loss = self._step(images, labels)
            self._check_finite(loss, epoch, step)
            batch = int(labels.shape[0])
            top1 = float((logits.argmax(axis=1) == labels.reshape([-1])).astype("float32").mean())
            for meters in (window, epoch_meter):
                meters["loss"].update(loss, batch)
                meters["top1"].update(top1, batch)
            now = time.time()
            self.states["global_step"] += 1
            self.states["step"] = step + 1
            if self.states["global_step"] > WARMUP_STEPS:
                timed_samples += batch
                timed_seconds += now - tick
                window_cost.update(now - tick)
            tick = now
            if (step + 1) % print_every == 0 or step + 1 == self.steps_per_epoch:
                self._log_step(epoch, step, window, window_cost, batch)
                window = {"loss": AverageMeter(), "top1": AverageMeter()}
            if self._stop_requested:
                return False
        ips = timed_samples * self.world_size / timed_seconds if timed_seconds else 0.0
        self.logger.info(f"[Train][Epoch {epoch + 1}/{self.epochs}][Avg]loss: {epoch_meter['loss'].avg:.5f}, "
                         f"top1: {epoch_meter['top1'].avg:.5f}, ips: {ips:.1f} samples/s, "
                         f"time: {time.time() - epoch_start:.1f}s")
        self.logger.scalars({"train/ips": ips}, epoch + 1)
        return True

    def _log_step(self, epoch, step, window, window_cost, batch):
        lr = self.optimizer.get_lr()
        cost = window_cost.avg
        remaining = (self.epochs - epoch) * self.steps_per_epoch - (step + 1)
        ips = batch * self.world_size / cost if cost else 0.0
        self.logger.info(f"[Train][Epoch {epoch + 1}/{self.epochs}][Iter: {step + 1}/{self.steps_per_epoch}]"
                         f"lr: {lr:.5f}, loss: {window['loss'].avg:.5f}, top1: {window['top1'].avg:.5f}, "
                         f"batch_cost: {cost:.5f}s, ips: {ips:.1f} samples/s, eta: {format_eta(remaining * cost)}")
        self.logger.scalars({"train/loss": window["loss"].avg, "train/top1": window["top1"].avg, "train/lr": lr},
                            self.states["global_step"])

    def _end_epoch(self, epoch):
        self.states["epoch"], self.states["step"] = epoch + 1, 0
        glob = self.config["Global"]
        average_norm_statistics(self.model, self.world_size)
        last = epoch + 1 == self.epochs
        if (epoch + 1) % glob["eval_interval"] == 0 or last:
            result = self.evaluate()
            self.logger.info(f"[Eval][Epoch {epoch + 1}][Avg]" + ", ".join(
                f"{k}: {v:.5f}" for k, v in result.items() if k != "samples") + f", samples: {result['samples']}")
            self.logger.scalars({f"eval/{k}": v for k, v in result.items() if k != "samples"}, epoch + 1)
            if result["top1"] > self.states["best_top1"]:
                self.states["best_top1"], self.states["best_epoch"] = result["top1"], epoch + 1
                self._save("best_model")
        self.logger.norm_histograms(self.model, epoch + 1)
        self._save("latest")
        if glob["save_interval"] and (epoch + 1) % glob["save_interval"] == 0:
            self._save(f"epoch_{epoch + 1}")

    def evaluate(self):
        self.last_eval = evaluate(self.model, self.eval_loader, self.topk, self.world_size)
        return self.last_eval

    def _finish(self, seconds):
        self.logger.close()
        result = self.last_eval or self.evaluate()
        self.logger.info(f"[Done] top1 {result['top1']:.4f} on {result['samples']} eval samples "
                         f"(best {self.states['best_top1']:.4f} at epoch {self.states['best_epoch']}); "
                         f"{self.epochs} epochs, training time {seconds:.1f}s; checkpoints and VisualDL logs in "
                         f"{self.output_dir}")
