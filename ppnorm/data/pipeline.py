"""From a DataLoader config section to a batch loader: transforms, sampling, batching.

Reproducibility: the shuffle order is a function of (seed, epoch) and each sample's augmentation
of (seed, epoch, index), so a run resumed at any step sees exactly the batches an uninterrupted
run would have seen, with any number of workers.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import paddle

from ..errors import first_line
from .base import DATASETS, DataError, input_kind
from .loader import BatchLoader
from .transforms import build_transforms


def to_layout(image: np.ndarray, layout: str) -> np.ndarray:
    """A CHW image as the model's layout wants it: unchanged for NCHW, HWC for NHWC."""
    return np.ascontiguousarray(image.transpose(1, 2, 0)) if layout == "NHWC" else image


class TransformedDataset(paddle.io.Dataset):
    """Yields ``(image, label, index)``; the index lets distributed evaluation drop padded samples.

    Images come out CHW (``layout="NCHW"``) or HWC (``layout="NHWC"``, for models built with that data format).
    Any failure, and an image holding NaN or Inf, is a one-line :class:`DataError` naming ``where``,
    the sample index and its file.
    """

    def __init__(self, dataset: paddle.io.Dataset, transform: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                 seed: int = 0, layout: str = "NCHW", where: str = "dataset") -> None:
        if layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got '{layout}'")
        self.dataset = dataset
        self.transform = transform
        self.seed = seed
        self.layout = layout
        self.where = where
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def describe(self, index: int, message: str = "") -> str:
        """``where: sample i (file f)``; the file is left out when ``message`` already names it."""
        origin = self.dataset.describe(index) if hasattr(self.dataset, "describe") else ""
        named = not origin or origin.split(" ", 1)[-1] in message
        return f"{self.where}: sample {index}" + ("" if named else f" ({origin})")

    def __getitem__(self, index: int) -> Tuple[np.ndarray, np.int64, np.int64]:
        try:
            image, label = self.dataset[index]
            image = self.transform(image, np.random.default_rng([self.seed, self.epoch, index]))
        except Exception as error:  # noqa: BLE001  (whatever went wrong, name the sample)
            message = first_line(error)
            if not isinstance(error, (DataError, ValueError)):
                message = f"{type(error).__name__}: {message}"
            raise DataError(f"{self.describe(index, message)}: {message}") from None
        if not np.isfinite(image).all():
            raise DataError(f"{self.describe(index)}: {int((~np.isfinite(image)).sum())} NaN/Inf value(s) after the "
                            f"transforms; the input data must be finite")
        return to_layout(image, self.layout), np.int64(label), np.int64(index)


class EpochBatchSampler(paddle.io.BatchSampler):
    """Batches of indices for one rank: shuffled by (seed, epoch), padded so every rank gets as many.

    ``set_epoch(epoch, skip_batches)`` selects the epoch and, to resume mid-epoch, how many of its
    first batches to leave out.
    """

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool = False, drop_last: bool = False, seed: int = 0,
                 rank: int = 0, nranks: int = 1) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.rank, self.nranks = rank, nranks
        self.epoch, self.skip = 0, 0
        self.per_rank = math.ceil(num_samples / nranks)

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def rank_indices(self) -> np.ndarray:
        order = np.arange(self.num_samples)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_samples)
        padded = np.resize(order, self.per_rank * self.nranks)  # repeats the first indices as padding
        return padded[self.rank::self.nranks]

    def batches_per_epoch(self) -> int:
        full, rest = divmod(self.per_rank, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.skip

    def __iter__(self) -> Iterator[List[int]]:
        indices = self.rank_indices()
        for b in range(self.skip, self.batches_per_epoch()):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size].tolist()


def check_same_sample_size(train: TransformedDataset, evaluation: TransformedDataset,
                           where: str = "DataLoader") -> None:
    """Train and eval samples (after their transforms) must have the same shape: a model evaluated at
    another size than it was trained at gives numbers without meaning, and no error of its own."""
    kinds = [input_kind(data.dataset) for data in (train, evaluation)]
    if kinds[0] != kinds[1]:
        raise DataError(f"{where}.Train.dataset yields {kinds[0]} samples but {where}.Eval.dataset yields {kinds[1]} "
                        f"samples; train and evaluate on the same kind of data")
    train_shape, eval_shape = train[0][0].shape, evaluation[0][0].shape
    if train_shape == eval_shape or (len(train_shape) == len(eval_shape) == 2 and train_shape[0] == eval_shape[0]):
        return  # sequences [C, L] may differ in length: sequence models pool over the valid steps
    layout = "HWC" if train.layout == "NHWC" else "CHW"
    shown = ["x".join(map(str, shape)) for shape in (train_shape, eval_shape)]
    raise DataError(f"{where}.Train gives samples of {shown[0]} ({layout}) but {where}.Eval gives {shown[1]}: the "
                    f"model would be evaluated on other images than it is trained on; make the train crop/resize size "
                    f"(e.g. RandomCrop / RandomResizedCrop size) produce what the eval transforms produce "
                    f"(Resize / CenterCrop), and keep the same image mode")


def build_dataset(spec: Optional[Mapping[str, Any]], where: str = "dataset") -> paddle.io.Dataset:
    """``{"name": "digits", "split": "train"}`` -> the data set."""
    spec = dict(spec or {})
    if "name" not in spec:
        raise ValueError(f"{where} needs a 'name' (one of {', '.join(DATASETS.names())})")
    name = spec.pop("name")
    DATASETS.check_options(name, spec, where=f"{where} '{name}'")
    return DATASETS.build(name, **spec)


def build_dataloader(section: Mapping[str, Any], seed: int = 0, rank: int = 0, nranks: int = 1,
                     where: str = "DataLoader",
                     layout: str = "NCHW") -> Tuple[BatchLoader, EpochBatchSampler, TransformedDataset]:
    """A DataLoader config section (dataset, transforms, batch_size, ...) -> (loader, sampler, dataset).

    ``layout`` is the model's data format: ``NHWC`` batches are [N, H, W, C]. The first sample goes
    through the transforms at once, so a transform that does not fit the images fails here.
    """
    dataset = build_dataset(section["dataset"], f"{where}.dataset")
    if input_kind(dataset) != "image" and section.get("transforms"):
        raise DataError(f"{where}.transforms are image transforms but {where}.dataset "
                        f"'{section['dataset']['name']}' yields sequences; set {where}.transforms: []")
    transformed = TransformedDataset(dataset, build_transforms(section.get("transforms"), f"{where}.transforms"),
                                     seed, layout, f"{where}.dataset")
    if len(transformed) == 0:
        raise DataError(f"{where}.dataset has no samples")
    transformed[0]
    sampler = EpochBatchSampler(len(dataset), section["batch_size"], section.get("shuffle", False),
                                section.get("drop_last", False), seed, rank, nranks)
    loader = BatchLoader(transformed, sampler, section.get("num_workers", 0))
    return loader, sampler, transformed
