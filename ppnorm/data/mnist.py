"""MNIST and Fashion-MNIST from local idx files (``train-images-idx3-ubyte.gz`` etc., gzipped or not)."""
from __future__ import annotations

import gzip
import os

import numpy as np

from .base import ArrayDataset, DATASETS, DataError, check_split, shown_path

_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def _find(dataset, data_dir, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    missing = shown_path(os.path.join(data_dir, stem) + ".gz")
    raise DataError(f"{dataset}: file not found: {missing}; expected the idx file {stem}[.gz] in data_dir")


def read_idx(dataset: str, path: str, magic: int) -> np.ndarray:
    """Read an idx file: big-endian int32 magic and dimensions, then uint8 data."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
        ndim = magic - 2048
        header = np.frombuffer(raw[:4 * (ndim + 1)], dtype=">i4")
        if len(header) != ndim + 1 or header[0] != magic:
            found = header[0] if len(header) else None
            raise ValueError(f"magic number {found}, expected {magic}")
        shape = tuple(int(d) for d in header[1:])
        data = np.frombuffer(raw, dtype="uint8", offset=4 * (ndim + 1))
        if data.size != int(np.prod(shape)):
            raise ValueError(f"{data.size} bytes of data for shape {shape}")
    except (OSError, EOFError, ValueError) as error:
        raise DataError(f"{dataset}: {path} is not a valid idx file ({error})") from None
    return data.reshape(shape)


class MNIST(ArrayDataset):
    """MNIST digits (60000 train / 10000 test, 28x28 grey) from ``data_dir``."""

    name = "mnist"
    class_names = [str(d) for d in range(10)]

    def __init__(self, data_dir: str, split: str = "train") -> None:
        check_split(self.name, split)
        image_stem, label_stem = _FILES[split]
        images = read_idx(self.name, _find(self.name, data_dir, image_stem), _IMAGE_MAGIC)
        label_file = _find(self.name, data_dir, label_stem)
        labels = read_idx(self.name, label_file, _LABEL_MAGIC)
        if len(images) != len(labels):
            raise DataError(f"{self.name}: {len(images)} images but {len(labels)} labels in {data_dir}")
        super().__init__(images[:, None].astype("float32") / 255.0, labels.astype("int64"), self.class_names,
                         f"{self.name}: {label_file}")


class FashionMNIST(MNIST):
    """Fashion-MNIST: the same idx format and file names as MNIST, 10 clothing classes."""

    name = "fashion_mnist"
    class_names = FASHION_CLASSES


DATASETS.register("mnist", MNIST)
DATASETS.register("fashion_mnist", FashionMNIST)
