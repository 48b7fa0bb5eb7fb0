"""Per-image style changes of grey images ``[N, 1, H, W]`` with raw pixels in [0, 1] (no clipping).

Each function takes one value per image (an array of length N, or a scalar for all images):
``contrast`` scales each image about its own mean, ``brightness`` adds a constant, ``invert`` maps
x -> 1 - x where ``flip`` is true, ``gamma`` raises the (non-negative) pixels to a power.
"""
import numpy as np


def _per_image(values, images):
    """``values`` broadcast to ``[N, 1, 1, 1]``."""
    return np.broadcast_to(np.asarray(values, dtype=images.dtype), (len(images),)).reshape(-1, 1, 1, 1)


def contrast(images, factor):
    """``m + factor * (x - m)`` with ``m`` each image's mean pixel."""
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    return mean + _per_image(factor, images) * (images - mean)


def brightness(images, shift):
    """``x + shift``."""
    return images + _per_image(shift, images)


def invert(images, flip=True):
    """``1 - x`` for the images where ``flip`` is true, the others unchanged."""
    return np.where(_per_image(flip, images).astype(bool), 1 - images, images)


def gamma(images, power):
    """``max(x, 0) ** power``."""
    return np.maximum(images, 0) ** _per_image(power, images)


def random_style(images, rng, contrast_range, brightness_range):
    """A training-style change drawn per image: a contrast factor, then a brightness shift, each uniform in its range."""
    factors = rng.uniform(*contrast_range, size=len(images))
    shifts = rng.uniform(*brightness_range, size=len(images))
    return brightness(contrast(images, factors), shifts)


def shifted(images, kind, value):
    """One test-time style shift ``kind`` (``clean``, ``contrast``, ``brightness``, ``invert``, ``gamma``) of strength ``value``."""
    if kind == "clean":
        return images
    return {"contrast": contrast, "brightness": brightness, "invert": invert, "gamma": gamma}[kind](images, value)


def style_label_task(images, rng, kind, low, high):
    """The same digits with a style that IS the label: each image gets class 0 (style ``low``) or 1
    (style ``high``) at random, e.g. ``brightness`` -0.25 / +0.25. Returns ``(images, labels)``."""
    labels = rng.integers(0, 2, size=len(images))
    values = np.where(labels == 1, high, low)
    return shifted(images, kind, values), labels
