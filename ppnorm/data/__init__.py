"""Data sets (digits, CIFAR, MNIST, image folders, file lists, synthetic), transforms and loaders.

Every module of this package is imported here (but ``python -m`` scripts), so a new file that calls
``DATASETS.register`` or ``TRANSFORMS.register`` is found without a list."""
from ..registry import import_submodules

import_submodules(__name__, __path__)

from .base import (DATASETS, ArrayDataset, DataError, ImageDataset, align_classes, align_to_classes,
                   check_label_range, input_kind, summary_line)
from .loader import BatchLoader
from .pipeline import EpochBatchSampler, TransformedDataset, build_dataloader, build_dataset, check_same_sample_size
from .transforms import TRANSFORMS, build_transforms

__all__ = ["DATASETS", "TRANSFORMS", "ArrayDataset", "BatchLoader", "DataError", "EpochBatchSampler", "ImageDataset",
           "TransformedDataset", "align_classes", "align_to_classes", "build_dataloader", "build_dataset",
           "build_transforms", "check_label_range", "input_kind", "summary_line"]
