"""What tools/infer.py reads: image files, folders of images, ``.npy`` arrays (images or padded sequences),
prepared like the eval data."""
from __future__ import annotations

import os
from collections import Counter
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..data import DataError, build_transforms
from ..data.folder import load_image_file
from ..data.folder_scan import IMAGE_EXTENSIONS, is_hidden, skipped_text
from ..data.pipeline import to_layout
from ..data.transforms import TRANSFORMS
from ..errors import first_line

_RESIZING = ("Resize", "CenterCrop", "RandomResizedCrop", "RandomCrop", "ResizeImage", "CropImage", "RandCropImage")


def expand_paths(paths: Sequence[str], notice: Optional[Callable[[str], None]] = None) -> List[str]:
    """Files named directly, plus every image / .npy file under named folders (sorted).

    In folders, hidden files and folders (``.ipynb_checkpoints``, ``.x.png``, ``__pycache__``) are never
    inputs; other files are counted in one ``notice`` line."""
    found, skipped = [], Counter()
    for path in paths:
        if os.path.isdir(path):
            found += _folder_files(path, IMAGE_EXTENSIONS + (".npy",), skipped)
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise DataError(f"--input: {path} not found (give image files, folders of images, or .npy files)")
    if not found:
        raise DataError(f"--input: no image or .npy files in {', '.join(paths)} (extensions: "
                        f"{', '.join(IMAGE_EXTENSIONS)}, .npy" + (f"; {skipped_text(skipped)})" if skipped else ")"))
    if skipped and notice is not None:
        notice(f"[Infer] --input folders: {len(found)} input file(s); {skipped_text(skipped)}")
    return found


def _folder_files(folder, extensions, skipped):
    """The visible files under ``folder`` with one of ``extensions``, sorted; others counted by extension."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in sorted(names):
            if is_hidden(name):
                continue
            if name.lower().endswith(extensions):
                found.append(os.path.join(root, name))
            else:
                skipped[os.path.splitext(name)[1].lower() or "no extension"] += 1
    return found


def read_images(path: str, channels: int,
                warn: Optional[Callable[[str], None]] = None) -> List[Tuple[str, np.ndarray]]:
    """``[(name, CHW float32 in [0, 1]), ...]`` from one file.

    ``.npy``: one image [C, H, W] or a stack [N, C, H, W] of numbers, in [0, 1] or in [0, 255]: integer
    arrays, and float arrays whose largest finite value is above 1, are divided by 255 (the whole file
    is read one way). Values below 0 or above 255 are refused (already normalized data is not raw
    pixels). Each image holding NaN or Inf is reported through ``warn`` with its count.
    """
    if not path.lower().endswith(".npy"):
        return [(path, load_image_file(path, "L" if channels == 1 else "RGB"))]
    array = _load_npy(path, channels)
    names = [f"{path}[{i}]" for i in range(len(array))]
    finite = np.isfinite(array)
    for name, image_finite in zip(names, finite):
        bad = int(image_finite.size - image_finite.sum())
        if bad and warn is not None:
            warn(f"warning: {name} has {bad} non-finite value(s) (NaN/Inf) of {image_finite.size}; "
                 f"its prediction is not meaningful")
    return list(zip(names, _to_unit_range(array, finite, path)))


def _read_npy(path):
    """The array in ``path`` (never unpickled); an unreadable file is a one-line DataError."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"cannot read {path} as a .npy array ({first_line(error)})") from None


def _load_npy(path, channels):
    """The ``.npy`` array as ``[N, C, H, W]`` of numbers, at least one image; anything else is a DataError."""
    array = _read_npy(path)
    if array.dtype.kind not in "iuf":
        raise DataError(f"{path}: expected numbers (uint8 0-255 or float 0-1), got dtype {array.dtype}")
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] != channels:
        raise DataError(f"{path}: expected an array [C, H, W] or [N, C, H, W] with C={channels}, "
                        f"got shape {list(array.shape)}")
    if array.shape[0] == 0 or array.size == 0:
        raise DataError(f"{path}: the array holds no images (shape {list(array.shape)})")
    return array


def read_sequences(path: str, channels: int) -> List[Tuple[str, np.ndarray]]:
    """``[(name, [C, L] float32), ...]`` from a ``.npy`` of padded sequences ``[C, L]`` or ``[N, C, L]`` whose
    last channel is the padding mask (0 or 1), as the ``waveforms`` data set yields them; values are used as
    they are (no pixel scaling)."""
    if not path.lower().endswith(".npy"):
        raise DataError(f"{path}: this model reads sequences; give .npy arrays [C, L] or [N, C, L] with C={channels}")
    array = _read_npy(path)
    array = array[None] if array.ndim == 2 else array
    if array.dtype.kind not in "iuf" or array.ndim != 3 or array.shape[1] != channels or 0 in array.shape:
        raise DataError(f"{path}: expected numbers [C, L] or [N, C, L] with C={channels} (the last channel the "
                        f"padding mask), got {array.dtype} {list(array.shape)}")
    if not np.isfinite(array).all():
        raise DataError(f"{path}: {int((~np.isfinite(array)).sum())} NaN/Inf value(s); sequences must be finite")
    bad = np.argwhere(~np.isin(array[:, -1], (0, 1)))
    if len(bad):
        (i, t) = bad[0]
        raise DataError(f"{path}: the last channel is the padding mask and must hold only 0 and 1, got "
                        f"{array[i, -1, t]:g} in sequence {i} at step {t} ({len(bad)} such value(s))")
    empty = np.flatnonzero(array[:, -1].sum(axis=1) == 0)
    if len(empty):
        raise DataError(f"{path}: sequence {empty[0]} has no real time step (its mask channel is all 0; "
                        f"{len(empty)} such sequence(s))")
    return [(f"{path}[{i}]", sequence.astype("float32")) for i, sequence in enumerate(array)]


def pad_to_longest(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Stack ``[C, L_i]`` sequences into ``[N, C, max L]``, zero-padded at the end (mask 0 there)."""
    length = max(sequence.shape[-1] for sequence in sequences)
    batch = np.zeros((len(sequences), sequences[0].shape[0], length), dtype="float32")
    for row, sequence in zip(batch, sequences):
        row[:, :sequence.shape[-1]] = sequence
    return batch


def _to_unit_range(array, finite, path):
    """``array`` as float32 in [0, 1]: 0-255 data (integers, or floats above 1) is divided by 255."""
    values = array[finite]
    if values.size and (values.min() < 0 or values.max() > 255):
        raise DataError(f"{path}: values range from {values.min():g} to {values.max():g}; expected raw pixels "
                        f"in [0, 1] or [0, 255] (the model's eval transforms normalize them)")
    as_255 = array.dtype.kind in "iu" or (values.size > 0 and values.max() > 1)
    array = array.astype("float32")
    return array / 255.0 if as_255 else array


class Preprocess:
    """The exported eval transforms, plus a Resize to the model's size when they would not produce it."""

    def __init__(self, description: dict) -> None:
        self.layout = description["data_format"]
        shape = description["input_shape"]
        self.size = tuple(shape[1:]) if self.layout == "NCHW" else tuple(shape[:2])
        specs = description["transforms"] or []
        self.transform = build_transforms(specs, "inference.yml transforms")
        self.resize = None
        names = [spec if isinstance(spec, str) else next(iter(spec)) for spec in specs]
        if not any(name in _RESIZING for name in names):
            self.resize = TRANSFORMS.build("Resize", size=list(self.size))
        self.rng = np.random.default_rng(0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.resize is not None and tuple(image.shape[1:]) != self.size:
            image = self.resize(image, self.rng)
        return to_layout(self.transform(image, self.rng), self.layout)
