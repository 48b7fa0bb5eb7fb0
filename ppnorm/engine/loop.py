"""The one training loop: epochs of ``run_step`` calls, with hooks for everything else.

In the spirit of detectron2's ``TrainerBase``: the loop only steps; logging, evaluation,
checkpoints, seeding and stopping live in hooks (:mod:`ppnorm.engine.hooks`), which see the run through a
:class:`~ppnorm.engine.hook_api.RunContext` (the contract: :mod:`ppnorm.engine.hook_api`). The config-driven
:class:`~ppnorm.engine.trainer.Trainer`, the experiments and the benchmark all run this loop.
"""
import contextlib
import signal
from typing import NamedTuple

import paddle

from ..signals import StopWhileWaiting, waits_end_on_stop
from .config import save_config
from .hook_api import DATA_FAILED, FINISHED, INTERRUPTED, PAUSED, HookBase, RunContext, hook_keys, priority_of
from .loss import CrossEntropy

__all__ = ["DATA_FAILED", "FINISHED", "INTERRUPTED", "PAUSED", "HookBase", "StepOutput", "TrainLoop", "top1_of"]


class StepOutput(NamedTuple):
    """What one step produced: the logits, the loss as a float and the batch's labels."""

    logits: paddle.Tensor
    loss: float
    labels: paddle.Tensor

    @property
    def batch_size(self):
        return int(self.labels.shape[0])


def top1_of(out):
    """The fraction of ``out``'s batch whose highest logit is the label."""
    return float((out.logits.argmax(axis=1) == out.labels.reshape([-1])).astype("float32").mean())


class TrainLoop:
    """Train ``model`` on ``data`` for ``epochs``.

    ``scheduler`` (or None) is stepped after every step. ``data`` has ``steps_per_epoch`` and
    ``batches(epoch, skip)``, an iterable of ``(images, labels, ...)`` for that epoch without its first
    ``skip`` batches (resuming mid-epoch). ``states`` holds
    ``epoch`` (epochs done), ``step`` (steps done in the current epoch) and ``global_step``.
    """

    def __init__(self, model, optimizer, scheduler, data=None, epochs=0, loss_fn=None, hooks=(), states=None,
                 amp_level=None, scaler=None, train_model=None, *, logger=None, rank=0, world_size=1,
                 output_dir=None, config=None, ema=None, save=None, evaluate=None, extras=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_model = train_model or model  # the model called in a step (e.g. paddle.DataParallel(model))
        self.data, self.epochs = data, epochs
        self.loss_fn = loss_fn or CrossEntropy()  # the Loss section's default
        self.amp_level, self.scaler = amp_level, scaler
        self.states = dict(states or {"epoch": 0, "step": 0, "global_step": 0})
        # what the hooks see through the context (see ppnorm.engine.hook_api); save and evaluate come from the owner
        self.logger, self.rank, self.world_size, self.output_dir = logger, rank, world_size, output_dir
        self.config, self.ema, self._save, self._evaluate = config, ema, save, evaluate
        self.context = RunContext(self, extras)
        self.hooks = list(hooks)  # run in this order (the Trainer orders them by priority)
        self._hook_states = {}  # restored into the hooks when training starts
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
        """Add each of ``hooks`` after the hooks of lower or equal priority (before the first of a higher one)."""
        for hook in hooks:
            later = [i for i, other in enumerate(self.hooks) if priority_of(other) > priority_of(hook)]
            self.hooks.insert(later[0] if later else len(self.hooks), hook)

    def hook_states(self):
        """``{key: state_dict()}`` of the hooks that have state (see :func:`~.hook_api.hook_keys`)."""
        return {key: hook.state_dict() for key, hook in hook_keys(self.hooks)}

    def restore_hook_states(self, states):
        """Give each hook its state from ``states`` (as :meth:`hook_states` returned) when training starts."""
        self._hook_states = dict(states or {})

    def save(self, name):
        """Write checkpoint ``name`` (the owner's ``save``)."""
        self._service(self._save, "save")(name)

    def evaluate(self):
        """Evaluate the model (the owner's ``evaluate``); returns the metrics."""
        return self._service(self._evaluate, "evaluate")()

    def save_config(self):
        """Write ``config`` as ``<output_dir>/config.yaml``."""
        save_config(self.config, self.output_dir)

    @staticmethod
    def _service(function, name):
        if function is None:
            raise TypeError(f"this loop was built without {name}=...: pass TrainLoop(..., {name}=<function>)")
        return function

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
            for key, hook in hook_keys(self.hooks):
                if key in self._hook_states:
                    hook.set_state_dict(self._hook_states.pop(key))
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
            self.last = out = self.run_step(batch)
            self.context.metrics.update({"loss": out.loss, "batch_size": out.batch_size, "lr": self.optimizer.get_lr,
                                         "top1": lambda out=out: top1_of(out)})  # lr, top1: computed when read
            self.states["global_step"] += 1
            self.states["step"] += 1
            self._call("after_step")
            if self.stop_requested:
                return False

    def _call(self, stage):
        for hook in self.hooks:
            getattr(hook, stage)(self.context)
