"""Data sets (digits, CIFAR, MNIST, image folders, file lists, synthetic), transforms and loaders."""
from . import cifar, digits, folder, mnist, synthetic, waveforms  # noqa: F401  (they register)
from .base import (DATASETS, ArrayDataset, DataError, ImageDataset, align_classes, align_to_classes,
                   check_label_range, input_kind, summary_line)
from .loader import BatchLoader
from .pipeline import EpochBatchSampler, TransformedDataset, build_dataloader, build_dataset, check_same_sample_size
from .transforms import TRANSFORMS, build_transforms

__all__ = ["DATASETS", "TRANSFORMS", "ArrayDataset", "BatchLoader", "DataError", "EpochBatchSampler", "ImageDataset",
           "TransformedDataset", "align_classes", "align_to_classes", "build_dataloader", "build_dataset",
           "build_transforms", "check_label_range", "input_kind", "summary_line"]
