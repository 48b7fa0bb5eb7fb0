"""The one training loop: epochs of ``run_step`` calls, with hooks for everything else.

In the spirit of detectron2's ``TrainerBase``: the loop only steps; logging, evaluation,
checkpoints, seeding and stopping live in hooks (:mod:`ppnorm.engine.hooks`). The config-driven
:class:`~ppnorm.engine.trainer.Trainer`, the experiments and the benchmark all run this loop.
"""
import contextlib
import signal
from typing import NamedTuple

import paddle

from ..signals import StopWhileWaiting, waits_end_on_stop
from .loss import CrossEntropy

FINISHED, INTERRUPTED, PAUSED = "finished", "interrupted", "paused"
DATA_FAILED = "data_failed"  # reading the next batch raised a ValueError (a corrupt file): the steps so far are whole


class HookBase:
    """Override what you need; each method gets the loop (``loop.states``, ``loop.model``, ``loop.last``, ...).

    Hooks run in the order they were registered, at every stage.
    """

    def before_train(self, loop):
        pass

    def before_epoch(self, loop):
        pass

    def before_step(self, loop):
        pass

    def after_step(self, loop):
        pass

    def after_epoch(self, loop):
        pass

    def after_train(self, loop):
        """Runs even when training (or another hook's ``before_train``) raised; ``loop.outcome`` is None then."""


class StepOutput(NamedTuple):
    """What one step produced: the logits, the loss as a float and the batch's labels."""

    logits: paddle.Tensor
    loss: float
    labels: paddle.Tensor

    @property
    def batch_size(self):
        return int(self.labels.shape[0])


class TrainLoop:
    """Train ``model`` on ``data`` for ``epochs``.

    ``scheduler`` (or None) is stepped after every step. ``data`` has ``steps_per_epoch`` and
    ``batches(epoch, skip)``, an iterable of ``(images, labels, ...)`` for that epoch without its first
    ``skip`` batches (resuming mid-epoch). ``states`` holds
    ``epoch`` (epochs done), ``step`` (steps done in the current epoch) and ``global_step``.
    """

    def __init__(self, model, optimizer, scheduler, data=None, epochs=0, loss_fn=None, hooks=(), states=None,
                 amp_level=None, scaler=None, train_model=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_model = train_model or model  # the model called in a step (e.g. paddle.DataParallel(model))
        self.data, self.epochs = data, epochs
        self.loss_fn = loss_fn or CrossEntropy()  # the Loss section's default
        self.amp_level, self.scaler = amp_level, scaler
        self.states = dict(states or {"epoch": 0, "step": 0, "global_step": 0})
        self.hooks = []
        self.register_hooks(hooks)
        self.epoch = self.states["epoch"]
        self.last = None  # the latest StepOutput
        self.outcome = None  # FINISHED, INTERRUPTED (request_stop) or PAUSED (stop_after_epoch)
        self.stop_requested = False
        self.stop_signal = None  # the signal that asked for the stop (Ctrl-C: signal.SIGINT)
        self.data_error = None  # the error that ended the run with outcome DATA_FAILED

    @property
    def steps_per_epoch(self):
        return self.data.steps_per_epoch

    def register_hooks(self, hooks):
        self.hooks.extend(hooks)

    def request_stop(self, signum=signal.SIGINT):
        """Finish the current step, then stop (hooks see ``outcome == INTERRUPTED``); what Ctrl-C, SIGTERM and
        SIGHUP (``signum``) do."""
        self.stop_requested, self.stop_signal = True, signum

    def run_step(self, batch):
        """Forward, backward, optimizer and scheduler step on ``batch = (images, labels, ...)``."""
        images, labels = batch[0], batch[1]
        amp = paddle.amp.auto_cast(level=self.amp_level) if self.amp_level else contextlib.nullcontext()
        with amp:
            logits = self.train_model(images)
            loss = self.loss_fn(logits, labels)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.clear_grad()
        if self.scheduler is not None:
            self.scheduler.step()
        return StepOutput(logits, float(loss), labels)

    def train(self, stop_after_epoch=None):
        """Run to ``epochs`` (or until a stop); returns ``outcome``: FINISHED, INTERRUPTED or PAUSED.

        A ``ValueError`` while reading a batch (a corrupt file) ends the run like a stop (``outcome`` DATA_FAILED,
        so the hooks can save the steps done) and is then raised again."""
        self.outcome, self.data_error = None, None
        try:
            self._call("before_train")
            self.outcome = self._run_epochs(stop_after_epoch)
        finally:
            self._call("after_train")
        if self.outcome == DATA_FAILED:
            raise self.data_error
        return self.outcome

    def _run_epochs(self, stop_after_epoch):
        for epoch in range(self.states["epoch"], self.epochs):
            self.epoch = epoch
            if not self._run_epoch(epoch):
                return DATA_FAILED if self.data_error is not None else INTERRUPTED
            self.states["epoch"], self.states["step"] = epoch + 1, 0
            self._call("after_epoch")
            if stop_after_epoch is not None and stop_after_epoch <= epoch + 1 < self.epochs:  # the last: finished
                return PAUSED
        return FINISHED

    def _run_epoch(self, epoch):
        """One epoch (or its rest when resuming mid-epoch); False if a stop was requested."""
        self.train_model.train()
        self._call("before_epoch")
        batches = iter(self.data.batches(epoch, self.states["step"]))
        while True:
            try:
                with waits_end_on_stop():  # a stop while waiting for data: the steps done so far are whole
                    batch = next(batches)
            except StopIteration:
                return True
            except StopWhileWaiting:
                return False
            except ValueError as error:  # e.g. DataError: a truncated image; the steps done so far are whole
                self.data_error = error
                return False
            self._call("before_step")
            self.last = self.run_step(batch)
            self.states["global_step"] += 1
            self.states["step"] += 1
            self._call("after_step")
            if self.stop_requested:
                return False

    def _call(self, stage):
        for hook in self.hooks:
            getattr(hook, stage)(self)
