"""Transforms on CHW float32 images in [0, 1] (what every ppnorm data set yields).

Each random transform takes a ``numpy.random.Generator``; the data pipeline derives one per
(seed, epoch, sample index), so augmentation is the same whatever the order, the number of
workers, or where a resumed run starts. Parameters are checked when a transform is built
(``ValueError``); an image a transform cannot handle raises a one-line ``DataError``.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
from PIL import Image

from ..registry import Registry
from .base import DataError

TRANSFORMS = Registry("transform")
MIN_STD = 1e-6  # a smaller Normalize std blows [0, 1] pixels up past any useful float32 range


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _pair(name, key, size):
    """A positive int or a [height, width] pair of them -> (height, width)."""
    pair = (size, size) if not isinstance(size, (list, tuple)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                                 for s in pair):
        raise ValueError(f"{name}: {key} must be a positive integer or [height, width], got {size!r}")
    return int(pair[0]), int(pair[1])


def _number(name, key, value, low=-np.inf, high=np.inf):
    if not _is_number(value) or not low <= value <= high or not np.isfinite(value):
        raise ValueError(f"{name}: {key} must be a finite number in [{low}, {high}], got {value!r}")
    return float(value)


def _numbers(name, key, values, low=-np.inf):
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if not values or not all(_is_number(v) and np.isfinite(v) and v >= low for v in values):
        bound = f" (each >= {low:g})" if np.isfinite(low) else ""
        raise ValueError(f"{name}: {key} must be a finite number or a list of them{bound}, got {values!r}")
    return np.asarray(values, dtype="float32").reshape(-1, 1, 1)


def _range(name, key, values, low, high):
    if not isinstance(values, (list, tuple)) or len(values) != 2:
        raise ValueError(f"{name}: {key} must be [low, high], got {values!r}")
    first, second = (_number(name, key, v, low, high) for v in values)
    if first > second or second <= 0:
        raise ValueError(f"{name}: {key} must be [low, high] with 0 < high and low <= high, got {values!r}")
    return first, second


def _size(image):
    return f"{image.shape[1]}x{image.shape[2]}"


class Normalize:
    """(x - mean) / std per channel."""

    def __init__(self, mean: Union[float, Sequence[float]], std: Union[float, Sequence[float]]) -> None:
        self.mean = _numbers("Normalize", "mean", mean)
        self.std = _numbers("Normalize", "std", std, MIN_STD)
        if len(self.mean) != len(self.std):  # each image needs one of each per channel (see __call__)
            raise ValueError(f"Normalize: {len(self.mean)} mean values but {len(self.std)} std values; give as many "
                             f"std values as mean values, one per image channel")

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        channels = image.shape[0]
        for values in (self.mean, self.std):
            if values.shape[0] != channels:
                raise DataError(self._mismatch(values.shape[0], channels))
        return (image - self.mean) / self.std

    @staticmethod
    def _mismatch(count, channels):
        """One value for an RGB image is refused too: it is the 1-channel (e.g. digits) Normalize copied over."""
        example = "mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] (ImageNet's)" if channels == 3 \
            else f"{channels} value(s) each"
        return (f"Normalize: {count} mean/std value{'s' if count > 1 else ''} for an image with {channels} channel(s); "
                f"give one value per channel, e.g. {example}, or repeat one value {channels} times to treat the "
                f"channels alike")


class RandomCrop:
    """Pad by ``padding`` pixels (value ``fill``) on every side, then crop ``size`` at a random place."""

    def __init__(self, size: Union[int, Sequence[int]], padding: int = 0, fill: float = 0.0) -> None:
        self.size = _pair("RandomCrop", "size", size)
        if not isinstance(padding, numbers.Integral) or isinstance(padding, bool) or padding < 0:
            raise ValueError(f"RandomCrop: padding must be an integer >= 0, got {padding!r}")
        self.padding = int(padding)
        self.fill = _number("RandomCrop", "fill", fill)

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        p = self.padding
        if p:  # (np.pad does the same, several times slower on small images)
            padded = np.full((image.shape[0], image.shape[1] + 2 * p, image.shape[2] + 2 * p), self.fill, image.dtype)
            padded[:, p:-p, p:-p] = image
            image = padded
        h, w = self.size
        if h > image.shape[1] or w > image.shape[2]:
            raise DataError(f"RandomCrop: size {h}x{w} is larger than the padded image {_size(image)} "
                            f"(padding {p}); use a smaller size or more padding")
        top = rng.integers(0, image.shape[1] - h + 1)
        left = rng.integers(0, image.shape[2] - w + 1)
        return image[:, top:top + h, left:left + w]


class CenterCrop:
    """Crop ``size`` from the middle (the extra pixel of an odd difference goes to the bottom/right)."""

    def __init__(self, size: Union[int, Sequence[int]]) -> None:
        self.size = _pair("CenterCrop", "size", size)

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        h, w = self.size
        if h > image.shape[1] or w > image.shape[2]:
            raise DataError(f"CenterCrop: size {h}x{w} is larger than the image {_size(image)}; "
                            f"put a Resize before it or use a smaller size")
        top, left = (image.shape[1] - h) // 2, (image.shape[2] - w) // 2
        return image[:, top:top + h, left:left + w]


class RandomHorizontalFlip:
    def __init__(self, prob: float = 0.5) -> None:
        self.prob = _number("RandomHorizontalFlip", "prob", prob, 0.0, 1.0)

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        return image[:, :, ::-1] if rng.random() < self.prob else image


class Resize:
    """Bilinear resize to ``size`` ((h, w), or the shorter side when an int, keeping the aspect ratio)."""

    def __init__(self, size: Union[int, Sequence[int]]) -> None:
        self.shorter = not isinstance(size, (list, tuple))
        self.size = _pair("Resize", "size", size)

    def _target(self, h, w):
        if self.shorter:
            scale = self.size[0] / min(h, w)
            return max(1, round(h * scale)), max(1, round(w * scale))
        return self.size

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        h, w = self._target(*image.shape[1:])
        if (h, w) == image.shape[1:]:
            return image
        channels = [np.asarray(Image.fromarray(c, mode="F").resize((w, h), Image.BILINEAR)) for c in image]
        return np.stack(channels)


class RandomResizedCrop:
    """The ImageNet training crop: a random area (``scale``) and aspect ratio, resized to ``size``."""

    def __init__(self, size: Union[int, Sequence[int]], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        self.resize = Resize(list(_pair("RandomResizedCrop", "size", size)))
        self.scale = _range("RandomResizedCrop", "scale", scale, 0.0, 1.0)
        self.ratio = _range("RandomResizedCrop", "ratio", ratio, 1e-3, 1e3)

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        _, height, width = image.shape
        for _ in range(10):
            area = height * width * rng.uniform(*self.scale)
            aspect = np.exp(rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1])))
            w, h = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
                return self.resize(image[:, top:top + h, left:left + w], rng)
        return self.resize(image, rng)


for _cls in (Normalize, RandomCrop, CenterCrop, RandomHorizontalFlip, Resize, RandomResizedCrop):
    TRANSFORMS.register(_cls.__name__, _cls)
PADDLECLAS_OPS = ("DecodeImage", "ResizeImage", "RandCropImage", "RandFlipImage", "CropImage", "NormalizeImage",
                  "ToCHWImage")  # the PaddleClas adapter's ops, with PaddleClas's values: imported when first built
for _name in PADDLECLAS_OPS:
    TRANSFORMS.register_lazy(_name, "ppnorm.paddleclas.ops", _name)


class Compose:
    def __init__(self, transforms: Iterable[Callable[[np.ndarray, Optional[np.random.Generator]], np.ndarray]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
        for transform in self.transforms:
            image = transform(image, rng)
        return np.ascontiguousarray(image, dtype="float32")


def build_transforms(specs: Optional[Sequence[Any]], where: str = "transforms") -> Compose:
    """``[{"RandomCrop": {"size": 8, "padding": 1}}, {"Normalize": {...}}]`` -> Compose (parameters checked)."""
    if specs is not None and not isinstance(specs, (list, tuple)):
        raise ValueError(f"{where} must be a list of 'Name: {{options}}' entries, got {specs!r}")
    transforms = []
    for spec in specs or []:
        if isinstance(spec, str):
            spec = {spec: {}}
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ValueError(f"{where}: each entry must be one 'Name: {{options}}' mapping, got {spec!r}")
        (name, options), = spec.items()
        options = options or {}
        if not isinstance(options, dict):
            raise ValueError(f"{where}: the options of {name} must be a mapping, got {options!r}")
        TRANSFORMS.check_options(name, options, where=f"{where} {name}")
        try:
            transforms.append(TRANSFORMS.build(name, **options))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: {error}") from None
    return Compose(transforms)
