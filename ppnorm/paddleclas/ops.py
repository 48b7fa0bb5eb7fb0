"""PaddleClas's preprocessing ops with PaddleClas's semantics, on ppnorm's CHW float32 images.

PaddleClas decodes a file to an HWC uint8 array and keeps 0..255 values until ``NormalizeImage``;
ppnorm's data sets yield CHW float32 images holding ``pixel / 255``. Every op before
``NormalizeImage`` here works on the 8-bit pixels (``round(x * 255)``) and hands back ``pixels / 255``,
so the values are PaddleClas's; ``NormalizeImage`` computes ``(pixel * scale - mean) / std``.

As in PaddleClas, a size given as a list is ``[width, height]`` (it is passed to ``cv2.resize``)
and an int is a square. Random choices come from the sample's ``numpy.random.Generator`` (PaddleClas
uses Python's ``random``) in PaddleClas's order, so crops and flips follow its distribution.

Resizing (``backend: cv2`` re-done in numpy, or ``pil``) is in :mod:`.resize`. ppnorm's ``TRANSFORMS``
names these ops lazily (``ppnorm/data/transforms.py``): this module is imported when one is first built.
"""
import math
import numbers
import re

import numpy as np

from ..data.base import DataError
from .resize import Resizer, from_pixels, to_pixels, wh

_NUMBER = r"\s*(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)\s*"


class DecodeImage:
    """ppnorm has decoded the file (RGB); ``to_rgb: false`` gives PaddleClas's BGR channel order."""

    def __init__(self, to_np=True, to_rgb=True, channel_first=False, backend="cv2"):
        if to_np is not True:
            raise ValueError("DecodeImage: to_np must be true (the ops that follow work on arrays)")
        if str(backend).lower() not in ("cv2", "pil"):
            raise ValueError(f"DecodeImage: backend must be 'cv2' or 'pil', got {backend!r}")
        self.to_rgb, self.channel_first = bool(to_rgb), bool(channel_first)

    def __call__(self, image, rng):
        if image.shape[0] != 3:
            raise DataError(f"DecodeImage: expected a 3-channel colour image, got {image.shape[0]} channel(s); "
                            f"read the files as RGB (file_list mode: RGB)")
        return image if self.to_rgb else image[::-1]


class ResizeImage:
    """``resize_short``: the shorter side to that length (aspect kept, rounded); else ``size`` [width, height]."""

    def __init__(self, size=None, resize_short=None, interpolation=None, backend="cv2", return_numpy=True):
        if resize_short is not None and (isinstance(resize_short, bool) or not isinstance(resize_short, int)):
            raise ValueError(f"ResizeImage: resize_short must be an integer, got {resize_short!r}")
        self.short = resize_short if resize_short is not None and resize_short > 0 else None
        if self.short is None and size is None:
            raise ValueError("ResizeImage: give resize_short (the shorter side) or size ([width, height])")
        self.size = None if self.short else wh("ResizeImage", size)
        self.resizer = Resizer("ResizeImage", interpolation, backend)

    def target(self, img_w, img_h):
        if self.short is None:
            return self.size
        percent = float(self.short) / min(img_w, img_h)
        return int(round(img_w * percent)), int(round(img_h * percent))

    def __call__(self, image, rng):
        pixels = to_pixels(image)
        width, height = self.target(pixels.shape[1], pixels.shape[0])
        return from_pixels(self.resizer(pixels, width, height, rng))


class RandCropImage:
    """A random area (``scale``) and aspect ratio (``ratio``; log-uniform with ``use_log_aspect``) resized to ``size``.

    As PaddleClas: the area is capped so the crop fits; ``int()`` truncates its sides; no retries.
    """

    def __init__(self, size, progress_size=None, scale=None, ratio=None, interpolation=None, use_log_aspect=False,
                 backend="cv2"):
        if progress_size is not None:
            raise ValueError("RandCropImage: progress_size (progressive resizing) is not supported; remove it")
        self.size = wh("RandCropImage", size)
        self.scale = _pair_of_numbers("RandCropImage", "scale", [0.08, 1.0] if scale is None else scale)
        self.ratio = _pair_of_numbers("RandCropImage", "ratio", [3. / 4., 4. / 3.] if ratio is None else ratio)
        self.use_log_aspect = bool(use_log_aspect)
        self.resizer = Resizer("RandCropImage", interpolation, backend)

    def window(self, img_w, img_h, rng):
        """(left, top, width, height) of the crop, drawn as PaddleClas draws it."""
        if self.use_log_aspect:
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
        else:
            aspect = rng.uniform(*self.ratio)
        bound = min((float(img_w) / img_h) / aspect, (float(img_h) / img_w) * aspect)
        area = img_w * img_h * rng.uniform(min(self.scale[0], bound), min(self.scale[1], bound))
        w, h = int(math.sqrt(area * aspect)), int(math.sqrt(area / aspect))
        if w < 1 or h < 1:
            raise DataError(f"RandCropImage: the {img_w}x{img_h} image gave an empty crop; use larger images "
                            f"or a larger scale")
        return int(rng.integers(0, img_w - w + 1)), int(rng.integers(0, img_h - h + 1)), w, h

    def __call__(self, image, rng):
        pixels = to_pixels(image)
        left, top, w, h = self.window(pixels.shape[1], pixels.shape[0], rng)
        return from_pixels(self.resizer(pixels[top:top + h, left:left + w], *self.size, rng))


def _pair_of_numbers(op, key, values):
    if (not isinstance(values, (list, tuple)) or len(values) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0 for v in values)):
        raise ValueError(f"{op}: {key} must be [low, high] with positive numbers, got {values!r}")
    return float(values[0]), float(values[1])


class RandFlipImage:
    """With probability 1/2: ``flip_code`` 1 left-right, 0 top-bottom, -1 both (cv2.flip)."""

    AXES = {1: (2,), 0: (1,), -1: (1, 2)}

    def __init__(self, flip_code=1):
        if isinstance(flip_code, bool) or flip_code not in self.AXES:
            raise ValueError(f"RandFlipImage: flip_code must be 1 (horizontal), 0 (vertical) or -1 (both), "
                             f"got {flip_code!r}")
        self.axes = self.AXES[flip_code]

    def __call__(self, image, rng):
        return np.flip(image, self.axes) if rng.integers(0, 2) == 1 else image


class CropImage:
    """The centre ``size`` crop (int or [width, height]); an odd margin leaves the extra pixel right/bottom."""

    def __init__(self, size):
        self.width, self.height = wh("CropImage", size)

    def __call__(self, image, rng):
        img_h, img_w = image.shape[1:]
        if self.width > img_w or self.height > img_h:
            raise DataError(f"CropImage: size {self.width}x{self.height} (width x height) is larger than the image "
                            f"{img_w}x{img_h}; resize first (ResizeImage resize_short) or crop smaller")
        left, top = (img_w - self.width) // 2, (img_h - self.height) // 2
        return image[:, top:top + self.height, left:left + self.width]


def parse_scale(scale):
    """``1.0/255.0``, ``1./255.``, ``0.5`` or a number -> float (the text is parsed, never evaluated)."""
    if scale is None:
        return 1.0 / 255.0
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        return float(scale)
    match = re.fullmatch(f"{_NUMBER}(?:/{_NUMBER})?", str(scale))
    if not match or (match.group(2) is not None and float(match.group(2)) == 0):
        raise ValueError(f"NormalizeImage: scale must be a number or 'a/b' such as '1.0/255.0', got {scale!r}")
    return float(match.group(1)) / (float(match.group(2)) if match.group(2) else 1.0)


class NormalizeImage:
    """``(pixel * scale - mean) / std`` in float32; ``channel_num: 4`` appends a zero channel.

    ``order`` says whether PaddleClas's image is HWC ('hwc' or '') or CHW ('chw') at this point; the values
    are the same either way (the config translator checks it against ToCHWImage / channel_first).
    """

    def __init__(self, scale=None, mean=None, std=None, order="chw", output_fp16=False, channel_num=3):
        if order not in ("chw", "hwc", ""):
            raise ValueError(f"NormalizeImage: order must be 'chw', 'hwc' or '', got {order!r}")
        if channel_num not in (3, 4) or output_fp16:
            raise ValueError(f"NormalizeImage: channel_num must be 3 or 4 and output_fp16 false (ppnorm feeds "
                             f"float32), got channel_num={channel_num!r}, output_fp16={output_fp16!r}")
        self.scale = np.float32(parse_scale(scale))
        self.mean = np.array([0.485, 0.456, 0.406] if mean is None else mean, dtype="float32").reshape(-1, 1, 1)
        self.std = np.array([0.229, 0.224, 0.225] if std is None else std, dtype="float32").reshape(-1, 1, 1)
        if len(self.mean) != 3 or len(self.std) != 3 or not (self.std != 0).all():
            raise ValueError(f"NormalizeImage: mean and std need 3 values each (std non-zero), got {mean!r}, {std!r}")
        self.order, self.channel_num = order, channel_num

    def __call__(self, image, rng):
        if image.shape[0] != 3:
            raise DataError(f"NormalizeImage: 3 mean/std values for an image with {image.shape[0]} channel(s)")
        pixels = np.rint(np.asarray(image) * 255.0).astype("float32")
        out = (pixels * self.scale - self.mean) / self.std
        if self.channel_num == 4:
            out = np.concatenate([out, np.zeros_like(out[:1])])
        return out.astype("float32")


class ToCHWImage:
    """PaddleClas's HWC -> CHW transpose; ppnorm's images are CHW throughout, so the values pass unchanged."""

    def __call__(self, image, rng):
        return image


OPS = (DecodeImage, ResizeImage, RandCropImage, RandFlipImage, CropImage, NormalizeImage, ToCHWImage)
