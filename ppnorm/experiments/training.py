"""Training for experiments: digits held in memory as tensors, run by the engine's one loop.

Experiments train many small models, so the data stay on the device as two tensors and batches are
index slices in a seeded order (:class:`TensorBatches`); the loop is :class:`ppnorm.engine.loop.TrainLoop`,
and recording a metric every N steps is a hook (:class:`History`, :class:`EveryNSteps`). The optimizer
and learning-rate schedule come from the engine, configured like a YAML ``Optimizer`` section.
"""
import functools

import numpy as np
import paddle

from ..data import build_dataset
from ..engine.config import SCHEMA, fill_defaults
from ..engine.hooks import TrainLog
from ..engine.loop import HookBase, TrainLoop
from ..engine.optim import build_optimizer

DIGITS_MEAN, DIGITS_STD = 0.3, 0.37


@functools.lru_cache(maxsize=None)
def digits(split, normalize=True):
    """``(images [N, 1, 8, 8], labels [N])`` tensors of the standard digits split (loaded once per process;
    callers index them, never modify them)."""
    data = build_dataset({"name": "digits", "split": split})
    images = (data.images - DIGITS_MEAN) / DIGITS_STD if normalize else data.images
    return paddle.to_tensor(images.astype("float32")), paddle.to_tensor(data.labels)


def check_eval_every(eval_every, epochs, steps_per_epoch, data_name):
    """A one-line error when ``eval_every`` exceeds the training steps (no evaluation would ever run)."""
    from ..engine.config import ConfigError
    if eval_every > epochs * steps_per_epoch:
        raise ConfigError(f"params.eval_every={eval_every} exceeds the {epochs * steps_per_epoch} training steps on "
                          f"{data_name}; lower params.eval_every or train longer")


def optimizer_section(name="Momentum", lr=0.05, schedule="Constant", **values):
    """A complete ``Optimizer`` section: ``optimizer_section("SGD", 0.1)``, ``optimizer_section("Momentum", 0.1,
    "Cosine", weight_decay=5e-4)``; a dict ``lr`` is the whole lr section (e.g. with ``warmup_epochs``)."""
    lr = lr if isinstance(lr, dict) else {"name": schedule, "learning_rate": lr}
    return fill_defaults(SCHEMA["Optimizer"], dict(values, name=name, lr=lr), "Optimizer", "experiment")


@paddle.no_grad()
def predict(model, images, batch_size=512):
    model.eval()
    logits = [model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    model.train()
    return paddle.concat(logits).numpy()


def accuracy(model, images, labels):
    return float((predict(model, images).argmax(axis=1) == labels.numpy()).mean())


def balanced_accuracy(model, images, labels):
    """Mean of the per-class recalls (a 99:1 task scores 0.5 by always answering the majority)."""
    predicted = predict(model, images).argmax(axis=1)
    truth = labels.numpy()
    return float(np.mean([(predicted[truth == c] == c).mean() for c in np.unique(truth)]))


class History(HookBase):
    """Records each step's loss, and every ``eval_every`` steps the step, ``metric`` on ``test`` (and on ``train``)."""

    def __init__(self, test, eval_every, metric=accuracy, train=None):
        self.test, self.eval_every, self.metric, self.train = test, eval_every, metric, train
        self.losses, self.eval_steps, self.test_accuracy, self.train_accuracy = [], [], [], []

    def after_step(self, loop):
        step = loop.states["global_step"]
        self.losses.append(loop.last.loss)
        if step % self.eval_every == 0:
            self.eval_steps.append(step)
            self.test_accuracy.append(self.metric(loop.model, *self.test))
            if self.train is not None:
                self.train_accuracy.append(self.metric(loop.model, *self.train))

    def steps_to(self, target):
        """First evaluated step at which test accuracy reached ``target`` (None if never)."""
        for step, value in zip(self.eval_steps, self.test_accuracy):
            if value >= target:
                return step
        return None


class EveryNSteps(HookBase):
    """Call ``function(loop)`` after every ``n``-th step (after that step's evaluation, if any)."""

    def __init__(self, n, function):
        self.n, self.function = n, function

    def after_step(self, loop):
        if loop.states["global_step"] % self.n == 0:
            self.function(loop)


class TensorBatches:
    """``(images, labels)`` tensors as the loop's data: index slices in a seeded order, reshuffled each epoch."""

    def __init__(self, images, labels, batch_size, seed=0):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.steps_per_epoch = len(labels) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch_size={batch_size} is larger than the {len(labels)} training samples")
        self.rng = np.random.default_rng(seed)

    def batches(self, epoch, skip=0):
        order = self.rng.permutation(len(self.labels))
        for b in range(skip, self.steps_per_epoch):
            index = paddle.to_tensor(order[b * self.batch_size:(b + 1) * self.batch_size])
            yield self.images[index], self.labels[index]


class ConsoleLines:
    """The engine's logger interface for experiments: ``[Train]`` lines to ``log``, no VisualDL."""

    def __init__(self, log):
        self.info = log

    def scalars(self, values, step):
        pass


def fit(model, train, test, epochs, batch_size, seed=0, optimizer=None, eval_every=None, hooks=(),
        metric=accuracy, track_train=False, log=None, print_every=50):
    """Train ``model`` on ``train=(images, labels)`` with the engine's loop; evaluate ``metric`` on ``test`` every
    ``eval_every`` steps (default: once per epoch). ``hooks`` run after the recording, and find the
    :class:`History` as ``ctx.history`` (an extra of the run context). With ``log`` (e.g. ``ctx.log``), a long
    run prints the engine's ``[Train]`` console line every ``print_every`` steps. Returns the History."""
    data = TensorBatches(*train, batch_size, seed)
    section = optimizer or optimizer_section()  # Momentum, constant lr 0.05
    opt, scheduler = build_optimizer(section, model, epochs, data.steps_per_epoch)
    history = History(test, eval_every or data.steps_per_epoch, metric, train if track_train else None)
    console = [TrainLog(print_every)] if log is not None else []
    loop = TrainLoop(model, opt, scheduler, data, epochs, hooks=[history, *console, *hooks], logger=ConsoleLines(log),
                     extras={"history": history})
    loop.train()
    return history
