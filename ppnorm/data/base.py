"""The base of every data set: images as CHW float32 in [0, 1], integer labels, class names."""
import os

import numpy as np
import paddle

from ..registry import Registry

DATASETS = Registry("dataset")
SPLITS = ("train", "test")


class DataError(ValueError):
    """A data file is missing, unreadable or not in the expected format (the message says which)."""


def check_split(dataset, split, splits=SPLITS):
    if split not in splits:
        raise ValueError(f"{dataset}: split must be one of {', '.join(splits)}, got '{split}'")


def require_file(dataset, path, expected):
    if not os.path.exists(path):
        raise DataError(f"{dataset}: file not found: {path} (expected {expected})")
    return path


class ImageDataset(paddle.io.Dataset):
    """Subclasses set ``self.labels`` and ``self.classes`` and implement ``load_image(index)``."""

    labels = ()
    classes = ()

    def load_image(self, index):
        raise NotImplementedError

    @property
    def num_classes(self):
        return len(self.classes)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.load_image(index), int(self.labels[index])


class ArrayDataset(ImageDataset):
    """A data set held in memory as a [N, C, H, W] float32 array in [0, 1]."""

    def __init__(self, images, labels, classes):
        self.images = np.ascontiguousarray(images, dtype="float32")
        self.labels = np.asarray(labels, dtype="int64")
        self.classes = list(classes)

    def load_image(self, index):
        return self.images[index]
