"""The data an experiment trains on: any registered image data set, held in memory as normalized tensors.

An experiment config's ``data`` is a mapping ``{name: <data set>, <its options>}`` with the options of the data set
registry (those of a training config's ``DataLoader.*.dataset``, without ``split``), plus five of its own:

- ``train_samples`` / ``test_samples``: keep a fixed random subset of that many images (default: all);
- ``image_size``: resize every image to ``image_size`` x ``image_size`` once at load time;
- ``test_fraction``: for a data set without splits (``image_folder``, ``file_list``), the share of each class held
  out as the test split (default 0.2);
- ``validation``: the share of each class of the training split held out and scored instead of the test split,
  which is then never loaded (what ``--tune`` runs on: :mod:`.tuning`).

A bare name (``data: mnist``) means ``{name: mnist}``; the default name is ``digits``. Images are normalized like
:func:`.training.digits` does for digits (its fixed mean and std), and per channel with the training split's mean
and std for every other data set.
"""
import functools
import inspect
import json
import os
from typing import NamedTuple

import numpy as np
import paddle

from ..data import DATASETS, build_dataset, input_kind
from ..data.transforms import Resize
from ..engine.config import ConfigError, did_you_mean
from .training import DIGITS_MEAN, DIGITS_STD

DEFAULT = {"name": "digits"}
OWN_KEYS = ("train_samples", "test_samples", "image_size", "test_fraction", "validation")
PATH_KEYS = ("data_file", "data_dir", "root", "list_file")  # registry options that name a file or folder


class DataInfo(NamedTuple):
    """Shapes of an experiment's data: what its models are built for."""

    name: str
    channels: int
    height: int
    width: int
    num_classes: int
    train_size: int
    test_size: int

    @property
    def features(self):
        """Inputs of an MLP on the flattened images: channels x height x width."""
        return self.channels * self.height * self.width

    @property
    def model_options(self):
        """``in_channels`` and ``num_classes`` for :func:`ppnorm.build_model` of a conv net."""
        return {"in_channels": self.channels, "num_classes": self.num_classes}

    @property
    def mlp_options(self):
        """``in_features`` (the flattened image) and ``num_classes`` for :func:`ppnorm.build_model` of an MLP."""
        return {"in_features": self.features, "num_classes": self.num_classes}

    def describe(self):
        return (f"{self.name} ({self.train_size} train / {self.test_size} test images, {self.channels}x{self.height}x"
                f"{self.width}, {self.num_classes} classes)")


def _has_split(name):
    return "split" in DATASETS.options(name)


def _required(name):
    target = DATASETS.get_target(name)
    params = inspect.signature(target.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _count(value, key, source, low=1):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
        raise ConfigError(f"{source}: data.{key} must be an integer >= {low} (or null), got {value!r}")


def check_data(value, source="config"):
    """The ``data`` setting as a checked mapping (a bare name becomes ``{name: ...}``); one-line errors name the key."""
    if value is None:
        return dict(DEFAULT)
    spec = {"name": value} if isinstance(value, str) else value
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: data must be a data set name or a mapping {{name: ..., <options>}}, got {value!r}")
    spec = dict(DEFAULT, **spec)  # options without a name are digits' (e.g. -o data.train_samples=500)
    name = spec["name"]
    if not isinstance(name, str) or name not in DATASETS:
        raise ConfigError(f"{source}: data.name must be one of {', '.join(DATASETS.names())}, got {name!r}")
    if input_kind(DATASETS.get_target(name)) != "image":
        raise ConfigError(f"{source}: data.name '{name}' yields sequences; experiments train on images")
    if "split" in spec:
        raise ConfigError(f"{source}: data.split is not an option here: experiments use the train and test splits")
    valid = [k for k in DATASETS.options(name) if k != "split"] + list(OWN_KEYS)
    for key in spec:
        if key != "name" and key not in valid:
            raise ConfigError(f"{source}: unknown key 'data.{key}' for data set '{name}'{did_you_mean(key, valid)}; "
                              f"valid: name, {', '.join(valid)}")
    for key in _required(name):
        if key != "split" and spec.get(key) is None:
            raise ConfigError(f"{source}: data.{key} must be set for data set '{name}'")
    for key in PATH_KEYS:
        path = spec.get(key)
        if isinstance(path, str) and path and not os.path.exists(path):
            raise ConfigError(f"{source}: data.{key}: file or folder not found: {path}")
    _count(spec.get("train_samples"), "train_samples", source)
    _count(spec.get("test_samples"), "test_samples", source)
    _count(spec.get("image_size"), "image_size", source)
    if spec.get("test_fraction") is not None and _has_split(name):
        raise ConfigError(f"{source}: data.test_fraction: '{name}' has its own test split; leave it out")
    for key in ("test_fraction", "validation"):
        fraction = spec.get(key)
        if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                     or not 0 < fraction < 1):
            raise ConfigError(f"{source}: data.{key} must be a number between 0 and 1, got {fraction!r}")
    return spec


def is_default(spec):
    return spec is None or dict(spec) == DEFAULT


def _stack(dataset, size, name):
    """All images of ``dataset`` as one [N, C, H, W] array, resized to ``size`` x ``size`` when given."""
    resize = Resize([size, size]) if size else None
    images = []
    for index in range(len(dataset)):
        image = dataset.load_image(index)
        image = resize(image, None) if resize else image
        if images and image.shape != images[0].shape:
            where = dataset.describe(index) or f"sample {index}"
            raise ConfigError(f"data '{name}': {where} is {'x'.join(map(str, image.shape))} but the first image is "
                              f"{'x'.join(map(str, images[0].shape))}; set data.image_size to resize them all")
        images.append(image)
    return np.stack(images).astype("float32"), np.asarray(dataset.labels, dtype="int64")


def _holdout(labels, fraction, name):
    """``(train, test)`` indices: ``fraction`` of each class (at least one image of a class of two or more) as test."""
    rng = np.random.default_rng(0)
    test = []
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        test += list(index[:max(1 if len(index) > 1 else 0, round(fraction * len(index)))])
    test = np.sort(np.asarray(test, dtype="int64"))
    train = np.setdiff1d(np.arange(len(labels)), test)
    if not len(test) or not len(train):
        raise ConfigError(f"data '{name}': {len(labels)} images leave no train or no held-out images when "
                          f"{fraction} of each class is held out; add images")
    return train, test


def _subset(images, labels, count, seed):
    if count is None or count >= len(labels):
        return images, labels
    index = np.sort(np.random.default_rng(seed).permutation(len(labels))[:count])
    return images[index], labels[index]


@functools.lru_cache(maxsize=4)
def _arrays(key):
    """``({"train": (images, labels), "test": ...}, classes)`` of the spec ``key`` (JSON), in [0, 1]."""
    spec = json.loads(key)
    name, own = spec.pop("name"), {k: spec.pop(k, None) for k in OWN_KEYS}
    size = own["image_size"]
    if _has_split(name):
        sets = {split: build_dataset(dict(spec, name=name, split=split), "data") for split in ("train", "test")}
        classes = sets["train"].classes
        splits = {split: _stack(data, size, name) if size or not hasattr(data, "images")
                  else (data.images, np.asarray(data.labels, dtype="int64")) for split, data in sets.items()}
    else:
        data = build_dataset(dict(spec, name=name), "data")
        classes = data.classes
        images, labels = _stack(data, size, name)
        train, test = _holdout(labels, own["test_fraction"] or 0.2, name)
        splits = {"train": (images[train], labels[train]), "test": (images[test], labels[test])}
    if own["validation"]:  # the training split's own holdout is scored; the test images are dropped unseen
        images, labels = splits["train"]
        train, held = _holdout(labels, own["validation"], name)
        splits = {"train": (images[train], labels[train]), "test": (images[held], labels[held])}
    splits = {"train": _subset(*splits["train"], own["train_samples"], 0),
              "test": _subset(*splits["test"], own["test_samples"], 1)}
    return splits, list(classes)


def _key(spec):
    return json.dumps(dict(spec or DEFAULT), sort_keys=True)


def statistics(spec):
    """``(mean, std)`` that :func:`load` normalizes with: digits' fixed scalars, else the training split's per-channel
    values as ``[1, C, 1, 1]`` arrays."""
    if (spec or DEFAULT)["name"] == "digits":
        return DIGITS_MEAN, DIGITS_STD
    train = _arrays(_key(spec))[0]["train"][0]
    return train.mean(axis=(0, 2, 3), keepdims=True), np.maximum(train.std(axis=(0, 2, 3), keepdims=True), 1e-6)


@functools.lru_cache(maxsize=8)
def _tensors(key, split, normalize):
    splits, _ = _arrays(key)
    images, labels = splits[split]
    if normalize:
        mean, std = statistics(json.loads(key))
        images = (images - mean) / std
    return paddle.to_tensor(images.astype("float32")), paddle.to_tensor(labels)


def load(spec, split, normalize=True):
    """``(images [N, C, H, W], labels [N])`` tensors of ``split`` (loaded once per process; index them, never modify
    them). ``normalize=False`` gives the [0, 1] pixel values."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return _tensors(_key(spec), split, bool(normalize))


def info(spec):
    """The :class:`DataInfo` of ``spec``."""
    splits, classes = _arrays(_key(spec))
    (train, _), (test, _) = splits["train"], splits["test"]
    return DataInfo((spec or DEFAULT)["name"], *train.shape[1:], len(classes), len(train), len(test))
