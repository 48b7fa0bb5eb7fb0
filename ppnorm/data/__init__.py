"""Data sets (digits, CIFAR, MNIST, image folders, file lists, synthetic), transforms and loaders."""
from . import cifar, digits, folder, mnist, synthetic  # noqa: F401  (registers the data sets)
from .base import DATASETS, ArrayDataset, DataError, ImageDataset
from .pipeline import EpochBatchSampler, TransformedDataset, build_dataloader, build_dataset
from .transforms import TRANSFORMS, build_transforms

__all__ = ["DATASETS", "TRANSFORMS", "ArrayDataset", "DataError", "EpochBatchSampler", "ImageDataset",
           "TransformedDataset", "build_dataloader", "build_dataset", "build_transforms"]
