"""Synthetic images: a fixed random template per class plus noise (learnable, no files needed)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import check_count
from .base import ArrayDataset, DATASETS, check_split


class Synthetic(ArrayDataset):
    def __init__(self, num_samples: int = 256, image_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
                 noise: float = 0.5, seed: int = 0, split: str = "train") -> None:
        check_split("synthetic", split)
        check_count("synthetic: num_samples", num_samples, 1)
        check_count("synthetic: num_classes", num_classes, 1)
        if not isinstance(image_shape, (list, tuple)) or len(image_shape) != 3:
            raise ValueError(f"synthetic: image_shape must be [C, H, W], got {image_shape!r}")
        for name, size in zip(("C", "H", "W"), image_shape):
            check_count(f"synthetic: image_shape {name}", size, 1)
        rng = np.random.default_rng(seed)
        templates = rng.random((num_classes, *image_shape), dtype="float32")
        sample_rng = np.random.default_rng([seed, 0 if split == "train" else 1])
        labels = sample_rng.integers(0, num_classes, num_samples)
        noise = noise * sample_rng.standard_normal((num_samples, *image_shape)).astype("float32")
        images = np.clip(templates[labels] + noise, 0.0, 1.0)
        super().__init__(images, labels, [str(i) for i in range(num_classes)], "synthetic")


DATASETS.register("synthetic", Synthetic)
