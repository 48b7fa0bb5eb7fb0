"""Image files on disk: ``image_folder`` (one sub-folder per class) and ``file_list`` (PaddleClas lists)."""
from __future__ import annotations

import os
import re
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .base import DATASETS, DataError, ImageDataset, check_label_range, shown_path
from .folder_scan import IMAGE_EXTENSIONS, is_hidden, scan_image_folder, skipped_text

LABEL = re.compile(r"-?[0-9]+")  # a list line's class index
HIGH_DEPTH_MODES = ("I", "F")  # 16/32-bit integer and float images: converting to 8 bits would clip them


def load_image_file(path: str, mode: str = "RGB") -> np.ndarray:
    """Decode an image file to CHW float32 in [0, 1], converting its mode (CMYK, palette, ...) to ``mode``."""
    try:
        with Image.open(path) as image:
            if image.mode.startswith(HIGH_DEPTH_MODES):
                raise DataError(f"image {path} has mode {image.mode} (16/32-bit); save it as 8-bit RGB or L")
            array = np.asarray(image.convert(mode), dtype="float32") / 255.0
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        detail = str(error).replace(f" '{path}'", "").splitlines()[0] if str(error) else ""
        raise DataError(f"cannot decode image {path} ({type(error).__name__}: {detail}); expected an intact "
                        f"{', '.join(IMAGE_EXTENSIONS)} file") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


class _FileDataset(ImageDataset):
    def __init__(self, mode):
        if mode not in ("RGB", "L"):
            raise ValueError(f"image mode must be 'RGB' or 'L', got '{mode}'")
        self.mode = mode

    def load_image(self, index):
        return load_image_file(self.paths[index], self.mode)

    def describe(self, index):
        return f"file {self.paths[index]}"

    def summary(self, split):
        """``image_folder train (root): 3 classes (a, b, c), 24 images; skipped 2 files (1 .gif, 1 nested)``."""
        names = ", ".join(map(str, self.classes[:10])) + (", ..." if len(self.classes) > 10 else "")
        line = (f"{self.name} {split} ({self.source}): {len(self.classes)} classes ({names}), "
                f"{len(self.paths)} images")
        skipped = skipped_text(self.skipped, self.skipped_unit)
        return line + (f"; {skipped}" if skipped else "")


class ImageFolder(_FileDataset):
    """``root/<class name>/<image>``: class names sorted alphabetically give labels 0..K-1.

    Hidden folders and files (``.ipynb_checkpoints``, ``.x.png``, ``__pycache__``) are ignored; other files
    that are no image directly in a class folder are counted in ``skipped`` (see :mod:`.folder_scan`).
    """

    name, skipped_unit = "image_folder", "file"

    def __init__(self, root: str, mode: str = "RGB") -> None:
        super().__init__(mode)
        self.source = root
        self.classes, images, self.skipped = scan_image_folder(root)
        self.paths = [path for name in self.classes for path in images[name]]
        self.labels = np.asarray([label for label, name in enumerate(self.classes) for _ in images[name]],
                                 dtype="int64")


def read_list_lines(list_file: str) -> List[str]:
    """The lines of a UTF-8 text file (a byte-order mark is dropped); a one-line error names a bad line."""
    with open(list_file, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise DataError(f"file_list: {list_file} line {line} is not UTF-8 text (byte 0x{raw[error.start]:02x}); "
                        f"save the list as UTF-8") from None
    return text.splitlines()


def _hidden_path(relative):
    """True when a list entry lies in a hidden folder or is a hidden file (``.ipynb_checkpoints/x.png``)."""
    return any(is_hidden(part) for part in relative.replace("\\", "/").split("/") if part not in ("", ".", ".."))


def parse_list(list_file: str, root: str, delimiter: Optional[str] = None,
               skipped: Optional[Counter[str]] = None) -> Tuple[List[str], np.ndarray]:
    """``path label`` lines (split at the last ``delimiter``, default whitespace) -> (paths, labels); each path must
    name an existing file. Lines naming a hidden path are left out and counted in the Counter ``skipped``."""
    paths, labels = [], []
    for number, line in enumerate(read_list_lines(list_file), 1):
        if not line.strip():
            continue
        parts = line.rsplit(maxsplit=1) if delimiter is None else line.strip().rsplit(delimiter, 1)
        if len(parts) != 2 or not LABEL.fullmatch(parts[1].strip()):  # int() as PaddleClas, but ASCII digits only
            raise DataError(f"file_list: {list_file} line {number}: expected 'path{delimiter or ' '}label', "
                            f"got {line.strip()!r}")
        path, label = os.path.join(root, parts[0].strip()), int(parts[1])
        if _hidden_path(parts[0].strip()):
            if skipped is not None:
                skipped["hidden path"] += 1
            continue
        if label < 0:
            raise DataError(f"file_list: {list_file} line {number}: label {label} is negative; labels are 0..K-1")
        if not os.path.isfile(path):
            raise DataError(f"file_list: {list_file} line {number}: image file not found: {path} "
                            f"(paths are relative to root={root!r})")
        paths.append(path)
        labels.append(label)
    if not labels:
        raise DataError(f"file_list: {list_file} has no 'path label' lines")
    return paths, np.asarray(labels, dtype="int64")


class FileList(_FileDataset):
    """A PaddleClas list file: one ``relative/path.jpg label`` per line, paths relative to ``root``.

    ``delimiter`` separates path and label (PaddleClas's ImageNetDataset key); by default any whitespace.
    Lines naming a hidden path (``.ipynb_checkpoints/...``) are left out and counted."""

    name, skipped_unit = "file_list", "line"

    def __init__(self, list_file: str, root: str = "", mode: str = "RGB", class_names: Optional[Sequence[str]] = None,
                 delimiter: Optional[str] = None) -> None:
        super().__init__(mode)
        if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
            raise ValueError(f"file_list: delimiter must be a non-empty string, got {delimiter!r}")
        if not os.path.isfile(list_file):
            raise DataError(f"file_list: list file not found: {shown_path(list_file)}; expected lines 'path label'")
        self.source, self.skipped = list_file, Counter()
        self.paths, self.labels = parse_list(list_file, root, delimiter, self.skipped)
        self.classes = list(class_names) if class_names else [str(i) for i in range(int(self.labels.max()) + 1)]
        check_label_range(self.labels, len(self.classes), f"file_list: {list_file} ({len(self.classes)} class_names)")


DATASETS.register("image_folder", ImageFolder)
DATASETS.register("file_list", FileList)
