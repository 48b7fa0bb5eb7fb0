"""What tools/infer.py reads: image files, folders of images, ``.npy`` arrays, prepared like the eval data."""
import os

import numpy as np

from ..data import DataError, build_transforms
from ..data.folder import IMAGE_EXTENSIONS, load_image_file
from ..data.pipeline import to_layout
from ..data.transforms import TRANSFORMS

_RESIZING = ("Resize", "CenterCrop", "RandomResizedCrop", "RandomCrop")


def expand_paths(paths):
    """Files named directly, plus every image / .npy file under named folders (sorted)."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                found += [os.path.join(root, n) for n in sorted(names)
                          if n.lower().endswith(IMAGE_EXTENSIONS + (".npy",))]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise DataError(f"--input: {path} not found (give image files, folders of images, or .npy files)")
    if not found:
        raise DataError(f"--input: no image or .npy files in {', '.join(paths)} "
                        f"(extensions: {', '.join(IMAGE_EXTENSIONS)}, .npy)")
    return found


def read_images(path, channels):
    """``[(name, CHW float32 in [0, 1]), ...]`` from one file.

    ``.npy``: one image [C, H, W] or a stack [N, C, H, W], float in [0, 1] or uint8 in [0, 255].
    """
    if not path.lower().endswith(".npy"):
        return [(path, load_image_file(path, "L" if channels == 1 else "RGB"))]
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as a .npy array ({error})") from None
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] != channels:
        raise DataError(f"{path}: expected an array [C, H, W] or [N, C, H, W] with C={channels}, "
                        f"got shape {list(array.shape)}")
    array = array.astype("float32") / 255.0 if array.dtype == np.uint8 else array.astype("float32")
    return [(f"{path}[{i}]", image) for i, image in enumerate(array)]


class Preprocess:
    """The exported eval transforms, plus a Resize to the model's size when they would not produce it."""

    def __init__(self, description):
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

    def __call__(self, image):
        if self.resize is not None and tuple(image.shape[1:]) != self.size:
            image = self.resize(image, self.rng)
        return to_layout(self.transform(image, self.rng), self.layout)
