"""Resizing HWC uint8 pixels as PaddleClas's ``UnifiedResize`` does, without OpenCV.

``backend: cv2`` re-does cv2's ``INTER_LINEAR`` arithmetic in numpy (half-pixel centres, clamped edges,
11-bit fixed-point weights, no antialiasing) and ``INTER_NEAREST``; ``backend: pil`` calls PIL.
"""
import numbers

import numpy as np
from PIL import Image

COEF = 2048  # cv2's INTER_RESIZE_COEF_SCALE: bilinear weights in 11-bit fixed point
PIL_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "box": Image.BOX,
               "lanczos": Image.LANCZOS, "hamming": Image.HAMMING}
CV2_FILTERS = ("bilinear", "nearest")


def to_pixels(image):
    """CHW float ``pixel / 255`` -> HWC uint8 (PaddleClas's decoded array)."""
    return np.clip(np.rint(np.asarray(image).transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def from_pixels(pixels):
    """HWC uint8 -> CHW float32 ``pixel / 255`` (what ppnorm's decoder yields)."""
    return pixels.transpose(2, 0, 1).astype("float32") / 255.0


def wh(name, size):
    """An int -> (size, size); a [width, height] list -> (width, height)."""
    pair = (size, size) if isinstance(size, numbers.Integral) else size
    if (not isinstance(pair, (list, tuple)) or len(pair) != 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in pair)):
        raise ValueError(f"{name}: size must be a positive integer or [width, height], got {size!r}")
    return int(pair[0]), int(pair[1])


def cv2_linear_taps(src, dst):
    """cv2 ``INTER_LINEAR`` along one axis: first/second source index and their 11-bit weights."""
    pos = ((np.arange(dst) + 0.5) * (src / dst) - 0.5).astype("float32")
    first = np.floor(pos).astype("int64")
    frac = pos - first
    frac[(first < 0) | (first >= src - 1)] = 0  # edges repeat the border pixel
    first = np.clip(first, 0, src - 1)
    weight1 = np.rint(frac * COEF).astype("int64")
    weight0 = np.rint((np.float32(1) - frac) * COEF).astype("int64")
    return first, np.minimum(first + 1, src - 1), weight0, weight1


def cv2_linear(pixels, width, height):
    """Bilinear resize of HWC uint8 as cv2 does it: rows in fixed point, then columns with cv2's rounding."""
    x0, x1, a0, a1 = cv2_linear_taps(pixels.shape[1], width)
    y0, y1, b0, b1 = cv2_linear_taps(pixels.shape[0], height)
    src = pixels.astype("int64")
    rows = src[:, x0] * a0[None, :, None] + src[:, x1] * a1[None, :, None]
    top = ((rows[y0] >> 4) * b0[:, None, None]) >> 16
    bottom = ((rows[y1] >> 4) * b1[:, None, None]) >> 16
    return np.clip((top + bottom + 2) >> 2, 0, 255).astype(np.uint8)


def cv2_nearest(pixels, width, height):
    """cv2 ``INTER_NEAREST``: source index ``floor(dst * src / dst_size)``."""
    xs = np.minimum(np.floor(np.arange(width) * (pixels.shape[1] / width)).astype("int64"), pixels.shape[1] - 1)
    ys = np.minimum(np.floor(np.arange(height) * (pixels.shape[0] / height)).astype("int64"), pixels.shape[0] - 1)
    return pixels[ys][:, xs]


class Resizer:
    """PaddleClas's ``UnifiedResize``: ``interpolation`` (None: bilinear; 'random': bilinear or bicubic) per backend."""

    def __init__(self, op, interpolation=None, backend="cv2"):
        backend = str(backend).lower()
        if backend not in ("cv2", "pil"):
            raise ValueError(f"{op}: backend must be 'cv2' or 'pil', got {backend!r}")
        names = CV2_FILTERS if backend == "cv2" else tuple(PIL_FILTERS) + ("random",)
        interpolation = "bilinear" if interpolation is None else str(interpolation).lower()
        if interpolation not in names:
            hint = "; the others need backend: pil" if backend == "cv2" and interpolation in PIL_FILTERS else ""
            raise ValueError(f"{op}: interpolation {interpolation!r} with backend {backend} is not supported; "
                             f"use one of {', '.join(names)}{hint}")
        self.interpolation, self.backend = interpolation, backend

    def __call__(self, pixels, width, height, rng):
        if self.backend == "cv2":
            resize = cv2_linear if self.interpolation == "bilinear" else cv2_nearest
            return resize(pixels, width, height)
        name = self.interpolation
        if name == "random":
            name = ("bilinear", "bicubic")[rng.integers(0, 2)]
        return np.asarray(Image.fromarray(pixels).resize((width, height), PIL_FILTERS[name]))
