"""Transforms on CHW float32 images in [0, 1] (what every ppnorm data set yields).

Each random transform takes a ``numpy.random.Generator``; the data pipeline derives one per
(seed, epoch, sample index), so augmentation is the same whatever the order, the number of
workers, or where a resumed run starts.
"""
import numpy as np
from PIL import Image

from ..registry import Registry

TRANSFORMS = Registry("transform")


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


class Normalize:
    """(x - mean) / std per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype="float32").reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype="float32").reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {list(std)}")

    def __call__(self, image, rng):
        if self.mean.shape[0] not in (1, image.shape[0]):
            raise ValueError(f"Normalize: {self.mean.shape[0]} mean values for an image with {image.shape[0]} channels")
        return (image - self.mean) / self.std


class RandomCrop:
    """Pad by ``padding`` pixels (value ``fill``) on every side, then crop ``size`` at a random place."""

    def __init__(self, size, padding=0, fill=0.0):
        self.size = _pair(size)
        self.padding = padding
        self.fill = fill

    def __call__(self, image, rng):
        p = self.padding
        if p:  # (np.pad does the same, several times slower on small images)
            padded = np.full((image.shape[0], image.shape[1] + 2 * p, image.shape[2] + 2 * p), self.fill, image.dtype)
            padded[:, p:-p, p:-p] = image
            image = padded
        h, w = self.size
        top = rng.integers(0, image.shape[1] - h + 1)
        left = rng.integers(0, image.shape[2] - w + 1)
        return image[:, top:top + h, left:left + w]


class CenterCrop:
    def __init__(self, size):
        self.size = _pair(size)

    def __call__(self, image, rng):
        h, w = self.size
        top, left = (image.shape[1] - h) // 2, (image.shape[2] - w) // 2
        return image[:, top:top + h, left:left + w]


class RandomHorizontalFlip:
    def __init__(self, prob=0.5):
        self.prob = prob

    def __call__(self, image, rng):
        return image[:, :, ::-1] if rng.random() < self.prob else image


class Resize:
    """Bilinear resize to ``size`` ((h, w), or the shorter side when an int, keeping the aspect ratio)."""

    def __init__(self, size):
        self.size = size

    def _target(self, h, w):
        if isinstance(self.size, int):
            scale = self.size / min(h, w)
            return max(1, round(h * scale)), max(1, round(w * scale))
        return _pair(self.size)

    def __call__(self, image, rng):
        h, w = self._target(*image.shape[1:])
        if (h, w) == image.shape[1:]:
            return image
        channels = [np.asarray(Image.fromarray(c, mode="F").resize((w, h), Image.BILINEAR)) for c in image]
        return np.stack(channels)


class RandomResizedCrop:
    """The ImageNet training crop: a random area (``scale``) and aspect ratio, resized to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.resize = Resize(_pair(size))
        self.scale, self.ratio = scale, ratio

    def __call__(self, image, rng):
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


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image, rng):
        for transform in self.transforms:
            image = transform(image, rng)
        return np.ascontiguousarray(image, dtype="float32")


def build_transforms(specs, where="transforms"):
    """``[{"RandomCrop": {"size": 8, "padding": 1}}, {"Normalize": {...}}]`` -> Compose."""
    transforms = []
    for spec in specs or []:
        if isinstance(spec, str):
            spec = {spec: {}}
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ValueError(f"{where}: each entry must be one 'Name: {{options}}' mapping, got {spec!r}")
        (name, options), = spec.items()
        options = options or {}
        TRANSFORMS.check_options(name, options, where=f"{where} {name}")
        transforms.append(TRANSFORMS.build(name, **options))
    return Compose(transforms)
