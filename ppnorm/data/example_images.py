"""A tiny own-data example: three classes of coloured PNGs in train/ and val/ folders plus PaddleClas list files.

``python -m ppnorm.data.example_images data/my_images`` writes the set the own-data docs train on (30 training
and 10 evaluation images per class); it works from any directory and refuses to write into a folder that exists.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

CLASSES = ("cat", "dog", "fox")  # each class has a dominant colour (red, green, blue); image sizes vary


def make_images(root: Union[str, Path], per_class: int, seed: int,
                classes: Sequence[str] = CLASSES) -> List[Tuple[str, int]]:
    """``root/<class>/<i>.png`` RGB images of 34..45 px; returns the ``(path relative to root's parent, label)``
    pairs."""
    from PIL import Image

    root = Path(root)
    rng, pairs = np.random.default_rng(seed), []
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            h, w = rng.integers(34, 46, size=2)
            pixels = rng.integers(0, 120, (h, w, 3))
            pixels[..., label % 3] += 130
            Image.fromarray(pixels.astype("uint8")).save(root / name / f"{i}.png")
            pairs.append((f"{root.name}/{name}/{i}.png", label))
    return pairs


def write_example(root: Union[str, Path], train_per_class: int = 30, val_per_class: int = 10) -> int:
    """``root/train``, ``root/val`` (one folder per class) and ``root/{train,val}_list.txt`` naming the same
    images as ``path label`` lines; returns the number of images written."""
    root, count = Path(root), 0
    for split, per_class, seed in (("train", train_per_class, 0), ("val", val_per_class, 1)):
        pairs = make_images(root / split, per_class, seed)
        (root / f"{split}_list.txt").write_text("".join(f"{path} {label}\n" for path, label in pairs))
        count += len(pairs)
    return count


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ppnorm.data.example_images", description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default="data/my_images", help="folder to create (default: %(default)s)")
    parser.add_argument("--train", type=int, default=30, help="training images per class (default: %(default)s)")
    parser.add_argument("--val", type=int, default=10, help="evaluation images per class (default: %(default)s)")
    args = parser.parse_args(argv)
    if Path(args.root).exists():
        print(f"error: {args.root} already exists; give another folder or remove it", file=sys.stderr)
        return 2
    count = write_example(args.root, args.train, args.val)
    print(f"[Data] {count} images of {len(CLASSES)} classes ({', '.join(CLASSES)}) in {args.root}/train and "
          f"{args.root}/val, with {args.root}/train_list.txt and val_list.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
