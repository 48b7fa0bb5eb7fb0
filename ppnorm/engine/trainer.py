"""The config-driven trainer: builds data, model and optimizer from a config and runs the one loop with hooks."""
import os

import numpy as np
import paddle

from ..data import DataError, align_classes, build_dataloader, check_same_sample_size, summary_line
from ..errors import first_line
from ..signals import deferred
from .builder import input_layout, model_from_config
from .checkpoint import load_checkpoint, save_checkpoint
from .classes import check_outside_image_folders, training_class_names
from .config import check_config_target, dump_config
from .distributed import setup_device
from .ema import ModelEma
from .evaluator import evaluate
from .hook_api import build_hook, by_priority, delegated
from .hooks import TrainingError, default_hooks
from .logger import Logger
from .loss import build_loss
from .loop import FINISHED, TrainLoop
from .optim import build_optimizer
from .run_lock import check_no_other_run, check_output_dir

__all__ = ["Trainer", "TrainingError"]


class LoaderBatches:
    """A training ``DataLoader`` as the loop's data: each epoch reshuffled, the first ``skip`` batches left out."""

    def __init__(self, loader, sampler, data):
        self.loader, self.sampler, self.data = loader, sampler, data
        self.steps_per_epoch = sampler.batches_per_epoch()

    def batches(self, epoch, skip=0):
        self.sampler.set_epoch(epoch, skip_batches=skip)
        self.data.set_epoch(epoch)
        return self.loader


def with_classes(config, names):
    """``config`` with ``Arch.num_classes`` (kept when set, else one per name) and ``Global.class_names`` filled in,
    so the run's config.yaml says what the model predicts."""
    arch = dict(config["Arch"])
    arch.setdefault("num_classes", len(names))
    return dict(config, Arch=arch, Global=dict(config["Global"], class_names=list(names)))


class Trainer:
    """Everything from a validated config (see :func:`ppnorm.engine.config.load_config`), trained by its
    :class:`~ppnorm.engine.loop.TrainLoop` (``self.loop``), whose hooks see a
    :class:`~ppnorm.engine.hook_api.RunContext` with this trainer's ``save`` and ``evaluate``.

    ``hooks`` replaces :func:`~ppnorm.engine.hooks.default_hooks`; the config's ``Hooks`` section and
    ``register_hooks`` add to them.
    """

    (states, epoch, outcome, stop_signal, optimizer, data, steps_per_epoch, hooks, run_step, register_hooks,
     request_stop) = (delegated("loop", name) for name in ("states", "epoch", "outcome", "stop_signal", "optimizer",
                                                           "data", "steps_per_epoch", "hooks", "run_step",
                                                           "register_hooks", "request_stop"))

    def __init__(self, config, stream=None, hooks=None, verbose=False):
        self.config = config
        settings = config["Global"]
        self.rank, self.world_size, device_note = setup_device(settings["device"], settings["cpu_threads"])
        self.output_dir, self.seed = settings["output_dir"], settings["seed"]
        check_outside_image_folders(self.output_dir, "Global.output_dir", config)
        if self.rank == 0:
            check_output_dir(self.output_dir)
            check_no_other_run(self.output_dir, settings["checkpoints"], settings["overwrite"])
            check_config_target(self.output_dir)
        self.logger = Logger(self.output_dir, self.rank, settings["use_visualdl"], stream, verbose)
        self.logger.detail(dump_config(config).rstrip())
        self.logger.info(device_note)
        paddle.seed(self.seed)
        np.random.seed(self.seed)
        train_batches = self._build_loaders()
        self.class_names = training_class_names(config, self.train_data.dataset)
        self.config = config = with_classes(config, self.class_names)  # what config.yaml records
        self.model = model_from_config(config, self.train_data.dataset)
        align_classes(self.train_data.dataset, self.eval_data.dataset, self.model_classes())
        optimizer, scheduler = build_optimizer(config["Optimizer"], self.model, settings["epochs"],
                                               train_batches.steps_per_epoch)
        decay = config["EMA"]["decay"]
        self.ema = ModelEma(self.model, decay) if decay else None  # evaluated and saved as the model
        if self.ema is not None:
            self.logger.info(f"[EMA] evaluating and saving the moving average of the weights (EMA.decay={decay}); "
                             f"the raw weights are saved as <checkpoint>.pdtrain for resuming")
        states = self._resume_states(optimizer)
        hook_states = states.pop("hooks", None)
        scaler, optimizer = self._amp(optimizer)
        train_model = paddle.DataParallel(self.model) if self.world_size > 1 else self.model
        hooks = default_hooks(settings, self.ema is not None) if hooks is None else list(hooks)
        hooks = by_priority(hooks + [build_hook(spec, f"Hooks[{i}]") for i, spec in enumerate(config["Hooks"])])
        self.loop = TrainLoop(self.model, optimizer, scheduler, train_batches, settings["epochs"],
                              build_loss(config["Loss"]), hooks, states, settings["amp_level"], scaler, train_model,
                              logger=self.logger, rank=self.rank, world_size=self.world_size,
                              output_dir=self.output_dir, config=config, ema=self.ema, save=self.save,
                              evaluate=self.evaluate)
        self.loop.restore_hook_states(hook_states)
        self.topk = config["Metric"]["topk"]
        self.last_eval = None

    def _build_loaders(self):
        loaders, layout = self.config["DataLoader"], input_layout(self.config)
        loader, sampler, self.train_data = build_dataloader(loaders["Train"], self.seed, self.rank, self.world_size,
                                                           "DataLoader.Train", layout)
        self.eval_loader, _, self.eval_data = build_dataloader(loaders["Eval"], self.seed, self.rank,
                                                               self.world_size, "DataLoader.Eval", layout)
        check_same_sample_size(self.train_data, self.eval_data)
        for split, data in (("train", self.train_data), ("eval", self.eval_data)):
            line = summary_line(data.dataset, split)
            if line:
                self.logger.info(line)
        batches = LoaderBatches(loader, sampler, self.train_data)
        if batches.steps_per_epoch == 0:
            raise TrainingError(f"DataLoader.Train: batch_size={loaders['Train']['batch_size']} with drop_last is "
                                f"larger than the {len(self.train_data)} training samples per device")
        return batches

    def model_classes(self):
        """The number of classes the model predicts (``Arch.num_classes``, else the training set's)."""
        return self.config["Arch"].get("num_classes", self.train_data.dataset.num_classes)

    def _resume_states(self, optimizer):
        states = {"epoch": 0, "step": 0, "global_step": 0, "best_top1": -1.0, "best_epoch": 0}
        prefix = self.config["Global"]["checkpoints"]
        if prefix:
            states.update(load_checkpoint(prefix, self.model, optimizer, self.ema))
            self.logger.info(f"resumed from {prefix}: epoch {states['epoch'] + 1}, step {states['step']}")
        return states

    def _amp(self, optimizer):
        """``(GradScaler or None, optimizer)``; O2 casts the model and wraps the optimizer."""
        level = self.config["Global"]["amp_level"]
        if not level:
            return None, optimizer
        if level == "O2":
            self.model, optimizer = paddle.amp.decorate(self.model, optimizer, level="O2")
        return paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15), optimizer

    def save(self, name):
        """Write checkpoint ``<output_dir>/<name>`` (rank 0 only); a stop signal meanwhile waits for the commit."""
        if self.rank == 0:
            states = dict(self.states, class_names=self.class_names)
            hooks = self.loop.hook_states()
            if hooks:  # saved in .pdstates, so with the weights as one unit
                states["hooks"] = hooks
            with deferred():
                save_checkpoint(os.path.join(self.output_dir, name), self.model, self.optimizer, states, self.ema)

    def evaluate(self):
        """Evaluate on ``DataLoader.Eval``: the EMA weights when ``EMA.decay`` is set, else the model."""
        model = self.model if self.ema is None else self.ema.model
        self.last_eval = evaluate(model, self.eval_loader, self.topk, self.world_size)
        return self.last_eval

    def train(self, stop_after_epoch=None):
        """Train to ``Global.epochs``; returns the final evaluation, or None when stopped before the end
        (``self.outcome`` then says ``interrupted`` (Ctrl-C, SIGTERM, SIGHUP: ``latest`` saved) or ``paused`` (stop_after_epoch)).
        A batch that cannot be read (a corrupt image) saves ``latest`` at the step reached, then raises a
        :class:`DataError` naming the file and the resume flag."""
        try:
            return self.last_eval if self.loop.train(stop_after_epoch) == FINISHED else None
        except ValueError as error:
            if error is not self.loop.data_error:
                raise
            kept = (f"'latest' saved at epoch {self.epoch + 1}, step {self.states['step']}; fix or remove that file, "
                    f"then resume with -o Global.checkpoints={os.path.join(self.output_dir, 'latest')}")
            raise DataError(f"{first_line(error)}; {kept}") from None
