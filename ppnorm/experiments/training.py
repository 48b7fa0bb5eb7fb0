"""Training for experiments: digits held in memory as tensors, the engine's optimizer and schedules.

Experiments train many small models, so the data stay on the device as two tensors and batches are
index slices in a seeded order; the optimizer and learning-rate schedule come from the engine
(:func:`ppnorm.engine.optim.build_optimizer`), configured like a YAML ``Optimizer`` section.
"""
import functools

import numpy as np
import paddle
import paddle.nn.functional as F

from ..data import build_dataset
from ..engine.config import SCHEMA, _fill
from ..engine.optim import build_optimizer

DIGITS_MEAN, DIGITS_STD = 0.3, 0.37


@functools.lru_cache(maxsize=None)
def digits(split, normalize=True):
    """``(images [N, 1, 8, 8], labels [N])`` tensors of the standard digits split (loaded once per process;
    callers index them, never modify them)."""
    data = build_dataset({"name": "digits", "split": split})
    images = (data.images - DIGITS_MEAN) / DIGITS_STD if normalize else data.images
    return paddle.to_tensor(images.astype("float32")), paddle.to_tensor(data.labels)


def optimizer_section(**values):
    """A complete ``Optimizer`` section: ``optimizer_section(name="SGD", lr={"name": "Constant", ...})``."""
    lr = values.pop("lr", {})
    section = _fill(SCHEMA["Optimizer"], dict(values, lr=lr), "Optimizer", "experiment")
    return section


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


class History:
    """What :func:`fit` records: per-step loss, and at each evaluation the step, test accuracy and train accuracy."""

    def __init__(self):
        self.losses, self.eval_steps, self.test_accuracy, self.train_accuracy = [], [], [], []

    def steps_to(self, target):
        """First evaluated step at which test accuracy reached ``target`` (None if never)."""
        for step, value in zip(self.eval_steps, self.test_accuracy):
            if value >= target:
                return step
        return None


def fit(model, train, test, epochs, batch_size, seed=0, optimizer=None, eval_every=None, on_step=None,
        metric=accuracy, track_train=False):
    """Train ``model`` on ``train=(images, labels)``; evaluate ``metric`` on ``test`` every ``eval_every`` steps
    (default: once per epoch). ``on_step(step, model, history)`` runs after every step, after that step's
    evaluation if there was one. Returns a :class:`History`."""
    images, labels = train
    n = len(labels)
    steps_per_epoch = n // batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} training samples")
    section = optimizer or optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": 0.05})
    opt, scheduler = build_optimizer(section, model, epochs, steps_per_epoch)
    rng = np.random.default_rng(seed)
    history = History()
    eval_every = eval_every or steps_per_epoch
    model.train()
    step = 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for b in range(steps_per_epoch):
            index = paddle.to_tensor(order[b * batch_size:(b + 1) * batch_size])
            loss = F.cross_entropy(model(images[index]), labels[index])
            loss.backward()
            opt.step()
            opt.clear_grad()
            scheduler.step()
            step += 1
            history.losses.append(float(loss))
            if step % eval_every == 0:
                history.eval_steps.append(step)
                history.test_accuracy.append(metric(model, *test))
                if track_train:
                    history.train_accuracy.append(metric(model, *train))
            if on_step is not None:
                on_step(step, model, history)
    return history
