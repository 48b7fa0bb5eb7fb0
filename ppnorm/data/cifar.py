"""CIFAR-10 / CIFAR-100 from the local python-version archives (cifar-10-python.tar.gz, cifar-100-python.tar.gz) or
the folders they extract to (cifar-10-batches-py, cifar-100-python)."""
from __future__ import annotations

import os
import pickle
import tarfile
from typing import List, Tuple

import numpy as np

from ..errors import first_line
from ..safe_pickle import Refused, check
from .base import ArrayDataset, DATASETS, DataError, check_split, require_file

_LAYOUT = {  # archive member names per split, and the meta file with the class names
    "cifar10": {"train": [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)],
                "test": ["cifar-10-batches-py/test_batch"], "meta": "cifar-10-batches-py/batches.meta",
                "file": "cifar-10-python.tar.gz"},
    "cifar100": {"train": ["cifar-100-python/train"], "test": ["cifar-100-python/test"],
                 "meta": "cifar-100-python/meta", "file": "cifar-100-python.tar.gz"},
}


def _read_member(archive, name):
    member = archive.extractfile(name)
    if member is None:
        raise KeyError(name)
    return check(member.read(), encoding="bytes")  # numpy arrays, bytes, lists, dicts: nothing that runs code


def _read_folder(folder, name):
    """A pickle of the extracted archive: ``folder`` is the extracted folder itself or the one holding it."""
    inner = name.split("/", 1)[1]
    path = os.path.join(folder, inner)
    if not os.path.exists(path):
        path = os.path.join(folder, name)
    with open(path, "rb") as handle:
        return check(handle.read(), encoding="bytes")


def read_cifar(kind: str, data_file: str, split: str, label_key: bytes = b"labels",
               names_key: bytes = b"label_names") -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Return (images uint8 [N, 3, 32, 32], labels, class names) from a CIFAR python archive or its extracted folder."""
    layout = _LAYOUT[kind]
    folder = layout["meta"].split("/")[0]
    require_file(kind, data_file, f"{layout['file']}, the CIFAR python version, or the folder {folder} it extracts to")
    try:
        if os.path.isdir(data_file):
            batches = [_read_folder(data_file, name) for name in layout[split]]
            names = [n.decode() for n in _read_folder(data_file, layout["meta"])[names_key]]
        else:
            with tarfile.open(data_file, "r:*") as archive:
                batches = [_read_member(archive, name) for name in layout[split]]
                names = [n.decode() for n in _read_member(archive, layout["meta"])[names_key]]
        images = np.concatenate([np.asarray(b[b"data"], dtype="uint8").reshape(-1, 3, 32, 32) for b in batches])
        labels = np.concatenate([np.asarray(b[label_key], dtype="int64") for b in batches])
    except Refused as error:
        raise DataError(f"{kind}: {data_file}: refused to load: it asks for {error}, which a CIFAR batch never needs "
                        f"and which could run code; nothing of it was run: use the archive from the CIFAR site") from None
    except (tarfile.TarError, EOFError, OSError, KeyError, IndexError, TypeError, AttributeError,
            pickle.UnpicklingError, ValueError) as error:
        what = f"{folder} folder" if os.path.isdir(data_file) else layout["file"]
        raise DataError(f"{kind}: {data_file} is not a readable {what} "
                        f"({type(error).__name__}: {first_line(error)})") from None
    return images, labels, names


class Cifar10(ArrayDataset):
    """CIFAR-10: 50000 train / 10000 test 32x32 colour images in 10 classes."""

    name = "cifar10"

    def __init__(self, data_file: str, split: str = "train") -> None:
        check_split("cifar10", split)
        images, labels, names = read_cifar("cifar10", data_file, split)
        super().__init__(images.astype("float32") / 255.0, labels, names, f"{self.name}: {data_file}")


class Cifar100(ArrayDataset):
    """CIFAR-100 with ``label_type`` ``fine`` (100 classes) or ``coarse`` (20 super-classes)."""

    name = "cifar100"

    def __init__(self, data_file: str, split: str = "train", label_type: str = "fine") -> None:
        check_split("cifar100", split)
        if label_type not in ("fine", "coarse"):
            raise ValueError(f"cifar100: label_type must be 'fine' or 'coarse', got '{label_type}'")
        images, labels, names = read_cifar("cifar100", data_file, split, f"{label_type}_labels".encode(),
                                           f"{label_type}_label_names".encode())
        super().__init__(images.astype("float32") / 255.0, labels, names, f"{self.name}: {data_file}")


DATASETS.register("cifar10", Cifar10)
DATASETS.register("cifar100", Cifar100)
