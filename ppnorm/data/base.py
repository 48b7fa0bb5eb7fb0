"""The base of every data set: images as CHW float32 in [0, 1], integer labels, class names."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from ..registry import Registry

DATASETS = Registry("dataset")
SPLITS = ("train", "test")


def input_kind(obj: Any) -> str:
    """What a data set yields or a model takes: its ``input_kind`` attribute, ``"image"`` when it has none
    (the other kind is ``"sequence+mask"``, the padded sequences of ``waveforms``)."""
    return getattr(obj, "input_kind", "image")


class DataError(ValueError):
    """A data file is missing, unreadable or not in the expected format (the message says which)."""


def check_split(dataset: str, split: str, splits: Sequence[str] = SPLITS) -> None:
    if split not in splits:
        raise ValueError(f"{dataset}: split must be one of {', '.join(splits)}, got '{split}'")


def shown_path(path: Union[str, os.PathLike]) -> str:
    """``path`` for a message: as given, plus the folder it was looked for in when it is relative."""
    path = str(path)
    return path if os.path.isabs(path) else f"{path} (in {os.getcwd()})"


def require_file(dataset: str, path: str, expected: str) -> str:
    if not os.path.exists(path):
        raise DataError(f"{dataset}: file not found: {shown_path(path)}; expected {expected}")
    return path


def check_label_range(labels: Sequence[int], num_classes: int, where: str) -> None:
    """Raise a :class:`DataError` naming the first label outside ``[0, num_classes)``."""
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise DataError(f"{where}: sample {bad[0]} has label {labels[bad[0]]}, outside 0..{num_classes - 1} "
                        f"({len(bad)} such label(s)); labels must be class indices")


def check_finite(images: np.ndarray, where: str) -> None:
    """Raise a :class:`DataError` naming the first sample of ``images`` [N, ...] holding NaN or Inf."""
    flat = np.asarray(images).reshape(len(images), -1)
    bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
    if len(bad):
        count = int((~np.isfinite(flat[bad[0]])).sum())
        raise DataError(f"{where}: sample {bad[0]} holds {count} NaN/Inf value(s) ({len(bad)} such sample(s)); "
                        f"the input data must be finite")


class ImageDataset(paddle.io.Dataset):
    """Subclasses set ``self.labels`` and ``self.classes`` and implement ``load_image(index)``."""

    labels = ()
    classes = ()

    def load_image(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def describe(self, index: int) -> str:
        """Where sample ``index`` comes from, for error messages: its file where there is one."""
        return ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, int]:
        return self.load_image(index), int(self.labels[index])


class ArrayDataset(ImageDataset):
    """A data set held in memory as a [N, C, H, W] float32 array in [0, 1] (or other finite samples, e.g. the
    [N, C, L] sequences of ``waveforms``); refuses NaN/Inf and bad labels."""

    def __init__(self, images: np.ndarray, labels: Sequence[int], classes: Sequence[str],
                 source: Optional[str] = None) -> None:
        self.images = np.ascontiguousarray(images, dtype="float32")
        self.labels = np.asarray(labels, dtype="int64")
        self.classes = list(classes)
        where = source or type(self).__name__
        if len(self.images) != len(self.labels):
            raise DataError(f"{where}: {len(self.images)} images but {len(self.labels)} labels")
        check_finite(self.images, where)
        check_label_range(self.labels, len(self.classes), where)

    def load_image(self, index: int) -> np.ndarray:
        return self.images[index]


def _unnamed(classes):
    """True for the default class names "0", "1", ... of a data set whose labels came without names."""
    return list(classes) == [str(i) for i in range(len(classes))]


def align_classes(train: ImageDataset, evaluation: ImageDataset, num_classes: Optional[int] = None,
                  where: str = "DataLoader.Eval.dataset",
                  train_where: str = "DataLoader.Train.dataset") -> ImageDataset:
    """Relabel ``evaluation`` by class name so its labels mean the train set's classes.

    Eval classes the train set lacks are refused (a model cannot predict them), and with
    ``num_classes`` (the model's) every relabelled eval label must be below it. Call this once
    both data sets are built, before training starts.
    """
    return align_to_classes(evaluation, train.classes, num_classes, where, train_where,
                            "remove them or add them to the training data")


def align_to_classes(dataset: ImageDataset, classes: Sequence[str], num_classes: Optional[int] = None,
                     where: str = "DataLoader.Eval.dataset", known_where: str = "DataLoader.Train.dataset",
                     fix: str = "remove them or add them to the training data") -> ImageDataset:
    """Relabel ``dataset`` by class name so its labels index ``classes`` (a subset of them is fine).

    A class of ``dataset`` missing from ``classes`` is a one-line :class:`DataError` naming both lists
    (``where``'s and ``known_where``'s) and ``fix``; unnamed classes ("0", "1", ...) are plain indices.
    """
    if _unnamed(dataset.classes) or _unnamed(classes):  # labels are plain indices: nothing to map
        if num_classes is not None:
            check_label_range(dataset.labels, num_classes, f"{where} (for a model of {num_classes} classes)")
        return dataset
    known = {name: label for label, name in enumerate(classes)}
    unknown = [name for name in dataset.classes if name not in known]
    if unknown:
        raise DataError(f"{where} has class(es) {', '.join(map(repr, unknown[:5]))} that {known_where} lacks "
                        f"({where}: [{_listed(dataset.classes)}]; {known_where}: [{_listed(classes)}]); "
                        f"{fix}")
    mapping = np.asarray([known[name] for name in dataset.classes], dtype="int64")
    dataset.labels = mapping[np.asarray(dataset.labels, dtype="int64")]
    dataset.classes = list(classes)
    if num_classes is not None:
        check_label_range(dataset.labels, num_classes, f"{where} (for a model of {num_classes} classes)")
    return dataset


def _listed(names, most=20):
    shown = ", ".join(map(str, list(names)[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def summary_line(dataset: Any, split: str) -> Optional[str]:
    """``[Data] image_folder train (root): 3 classes (...), 24 images; skipped ...`` for data sets read from
    files (those with a ``summary`` method), else None."""
    summary = getattr(dataset, "summary", None)
    return f"[Data] {summary(split)}" if summary is not None else None
