"""Reading an ``image_folder`` tree: which folders are classes, which files are images, what was skipped.

Hidden entries (a leading ``.``, e.g. Jupyter's ``.ipynb_checkpoints``, macOS ``._x.jpg``) and the
tool folders ``__pycache__`` / ``__MACOSX`` are never classes or images and are not counted. A class
folder without images, a symlink that loops or points back at the root (or above it), and a run's
output directory inside the tree are one-line :class:`DataError` s naming the path and the fix.
Everything else that is not an image directly inside a class folder is skipped and counted.
"""
from __future__ import annotations

import os
import unicodedata
from collections import Counter
from typing import Dict, List, Mapping, Tuple

from .base import DataError, shown_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
# folders tools and file systems make, never a class: Python's, macOS zips', ext4's, Windows' recycle bin and volume data
TOOL_FOLDERS = ("__pycache__", "__MACOSX", "lost+found", "$RECYCLE.BIN", "System Volume Information")
RUN_FILES = ("config.yaml", "latest.pdparams", "best_model.pdparams", "inference.yml")  # what a ppnorm run writes
NESTED, AT_ROOT = "nested", "outside class folders"


def is_hidden(name: str) -> bool:
    """True for names no data set reads: a leading ``.``, and the folders of :data:`TOOL_FOLDERS`."""
    return name.startswith(".") or name in TOOL_FOLDERS


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _kind(name):
    """How a skipped file is counted: its lower-case extension, or ``no extension``."""
    extension = os.path.splitext(name)[1].lower()
    return extension or "no extension"


def _check_link(path, root):
    """A symlinked class folder must resolve, and not to the root or one of its ancestors (that repeats the tree)."""
    if not os.path.exists(path):
        raise DataError(f"image_folder: {path} is a broken symlink or a symlink loop; remove it or point it at "
                        f"a folder of images")
    target, real_root = os.path.realpath(path), os.path.realpath(root)
    if real_root == target or real_root.startswith(target.rstrip(os.sep) + os.sep):
        raise DataError(f"image_folder: {path} is a symlink to {target}, the data root or a folder above it, so it "
                        f"is no class folder; remove the link")


def _listdir(folder):
    """Sorted entries of ``folder``; an unreadable folder is a one-line :class:`DataError`."""
    try:
        return sorted(os.listdir(folder))
    except OSError as error:
        raise DataError(f"image_folder: cannot read folder {folder} ({error.strerror or type(error).__name__}); "
                        f"make it readable or move it out of the data root") from None


def _count_nested(folder, skipped):
    """Count every visible file below ``folder``'s sub-folders as nested (symlinked folders are not entered)."""
    for entry in _listdir(folder):
        path = os.path.join(folder, entry)
        if is_hidden(entry) or not os.path.isdir(path):
            continue
        for _, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not is_hidden(d)]
            skipped[NESTED] += sum(1 for f in files if not is_hidden(f))


def _class_images(folder, skipped):
    """The sorted image paths directly inside ``folder``; other visible files are counted in ``skipped``."""
    images = []
    for entry in _listdir(folder):
        path = os.path.join(folder, entry)
        if is_hidden(entry) or os.path.isdir(path):
            continue
        if is_image(entry):
            images.append(path)
        else:
            skipped[_kind(entry)] += 1
    _count_nested(folder, skipped)
    return images


def _empty_class_error(folder, skipped_here):
    run_files = sorted(set(_listdir(folder)) & set(RUN_FILES))
    if run_files:
        return DataError(f"image_folder: {folder} holds {', '.join(run_files)}: it is a ppnorm run or export "
                         f"directory, not a class folder; move it out of the data root (keep Global.output_dir "
                         f"outside it)")
    detail = f", only {_parts(skipped_here)}" if skipped_here else ""
    return DataError(f"image_folder: class folder {folder} has no images{detail}; add "
                     f"{', '.join(IMAGE_EXTENSIONS)} files to it or remove the folder")


def scan_image_folder(root: str) -> Tuple[List[str], Dict[str, List[str]], Counter[str]]:
    """``(classes, {class: [image paths]}, skipped Counter)`` of ``root/<class>/<image>``; see the module docstring."""
    if not os.path.isdir(root):
        raise DataError(f"image_folder: directory not found: {shown_path(root)}; expected root/<class>/<image files>")
    classes, images, skipped, real = [], {}, Counter(), {}
    for entry in _listdir(root):
        path = os.path.join(root, entry)
        if is_hidden(entry):
            continue
        if os.path.islink(path):
            _check_link(path, root)
        if not os.path.isdir(path):
            skipped[AT_ROOT] += 1
            continue
        same = real.setdefault(os.path.realpath(path), entry)
        if same != entry:
            raise DataError(f"image_folder: class folders {same!r} and {entry!r} in {root} are the same folder (a "
                            f"symlink), so every image would be in two classes; remove the link")
        normal = unicodedata.normalize("NFC", entry)
        if normal in classes:
            raise DataError(f"image_folder: class folders in {root} have the same name {normal!r} written two ways "
                            f"(Unicode composed and decomposed); rename one")
        here = Counter()
        found = _class_images(path, here)
        if not found:
            raise _empty_class_error(path, here)
        classes.append(normal)  # class names in NFC: a folder copied from macOS (NFD) matches one typed here
        images[normal] = found
        skipped.update(here)
    if not classes:
        raise DataError(f"image_folder: no class folders in {root} (expected root/<class>/<image files> with "
                        f"extensions {', '.join(IMAGE_EXTENSIONS)})")
    return classes, images, skipped


def skipped_text(skipped: Mapping[str, int], what: str = "file") -> str:
    """``skipped 2 files (1 .gif, 1 nested)``, or ``""`` when nothing was skipped."""
    total = sum(skipped.values())
    if not total:
        return ""
    return f"skipped {total} {what}{'s' if total != 1 else ''} ({_parts(skipped)})"


def _parts(skipped):
    """``1 .gif, 1 nested``: the counts, largest first."""
    return ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])))
