"""scikit-learn's bundled 8x8 handwritten digits: the embedded default data set (no download)."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from .base import ArrayDataset, DATASETS, check_split
from .transforms import Resize


class Digits(ArrayDataset):
    """1797 8x8 grey images of 0-9, pixel values 0..16 scaled to [0, 1].

    The default split is ``train_test_split(test_size=0.2, stratify=target, random_state=0)``:
    1437 train / 360 test images. ``resize`` (int or [h, w]) enlarges the images once at load time.
    """

    def __init__(self, split: str = "train", test_size: float = 0.2, random_state: int = 0,
                 resize: Optional[Union[int, Sequence[int]]] = None) -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        check_split("digits", split)
        data = load_digits()
        index = np.arange(len(data.target))
        train, test = train_test_split(index, test_size=test_size, stratify=data.target, random_state=random_state)
        chosen = train if split == "train" else test
        images = (data.images[chosen] / 16.0).astype("float32")[:, None]
        if resize:
            images = np.stack([Resize(resize)(image, None) for image in images])
        super().__init__(images, data.target[chosen], [str(d) for d in range(10)], "digits")


DATASETS.register("digits", Digits)
