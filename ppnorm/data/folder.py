"""Image files on disk: ``image_folder`` (one sub-folder per class) and ``file_list`` (PaddleClas lists)."""
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from .base import DATASETS, DataError, ImageDataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def load_image_file(path, mode="RGB"):
    """Decode an image file to CHW float32 in [0, 1]."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert(mode), dtype="float32") / 255.0
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"cannot decode image {path} ({error}); expected one of {', '.join(IMAGE_EXTENSIONS)}") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


class _FileDataset(ImageDataset):
    def __init__(self, mode):
        if mode not in ("RGB", "L"):
            raise ValueError(f"image mode must be 'RGB' or 'L', got '{mode}'")
        self.mode = mode

    def load_image(self, index):
        return load_image_file(self.paths[index], self.mode)


class ImageFolder(_FileDataset):
    """``root/<class name>/<image>``: class names sorted alphabetically give labels 0..K-1."""

    def __init__(self, root, mode="RGB"):
        super().__init__(mode)
        if not os.path.isdir(root):
            raise DataError(f"image_folder: directory not found: {root} (expected root/<class>/<image files>)")
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.paths, labels = [], []
        for label, name in enumerate(self.classes):
            folder = os.path.join(root, name)
            for file in sorted(os.listdir(folder)):
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    self.paths.append(os.path.join(folder, file))
                    labels.append(label)
        if not self.paths:
            raise DataError(f"image_folder: no images in {root} (expected root/<class>/<image files> "
                            f"with extensions {', '.join(IMAGE_EXTENSIONS)})")
        self.labels = np.asarray(labels, dtype="int64")


class FileList(_FileDataset):
    """A PaddleClas list file: one ``relative/path.jpg label`` per line, paths relative to ``root``."""

    def __init__(self, list_file, root="", mode="RGB", class_names=None):
        super().__init__(mode)
        if not os.path.isfile(list_file):
            raise DataError(f"file_list: list file not found: {list_file} (expected lines 'path label')")
        self.paths, labels = [], []
        with open(list_file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                    raise DataError(f"file_list: {list_file} line {number}: expected 'path label', got {line.strip()!r}")
                self.paths.append(os.path.join(root, parts[0].strip()))
                labels.append(int(parts[1]))
        if not labels:
            raise DataError(f"file_list: {list_file} has no 'path label' lines")
        self.labels = np.asarray(labels, dtype="int64")
        self.classes = list(class_names) if class_names else [str(i) for i in range(int(self.labels.max()) + 1)]


DATASETS.register("image_folder", ImageFolder)
DATASETS.register("file_list", FileList)
