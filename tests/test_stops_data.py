"""A corrupt image met in the middle of an epoch ends tools/train.py like a stop: 'latest' is saved at the step
reached, the one error line names the file and the resume flag, and once the file is fixed the resumed run ends
bitwise where an uninterrupted run ends. No worker is left behind and the data folder is not touched."""
import os
import re

import numpy as np
import paddle
import pytest
from PIL import Image
from helpers import run_tool, tree_state
from weights import assert_same_weights, load_weights

from ppnorm.data import EpochBatchSampler

TIMEOUT = 300
CLASSES, PER_CLASS, BATCH, BAD_STEP = ("a", "b"), 12, 4, 3  # 6 steps per epoch; the bad file is in batch 3
TRAIN = ["Global.epochs=2", "Global.use_visualdl=false", "Global.print_batch_step=1", "Arch.name=simple_cnn",
         f"DataLoader.Train.batch_size={BATCH}", "DataLoader.Eval.batch_size=8",
         "DataLoader.Train.transforms=[{RandomHorizontalFlip: {prob: 0.5}}]", "DataLoader.Eval.transforms=[]"]


def _images(root):
    """``root/<class>/<i>.png`` 8x8 RGB images; returns their paths in the data set's order (classes, then names)."""
    rng, paths = np.random.default_rng(0), []
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = rng.integers(0, 120, (8, 8, 3))
            pixels[..., label] += 130
            Image.fromarray(pixels.astype("uint8")).save(root / name / f"{i:02d}.png")
    return sorted(str(path) for path in root.glob("*/*.png"))


def _bad_file(paths):
    """The file the first epoch's shuffled order meets in batch BAD_STEP (seed 0, as Global.seed)."""
    sampler = EpochBatchSampler(len(paths), BATCH, shuffle=True, drop_last=True, seed=0)
    sampler.set_epoch(0)
    return paths[list(sampler)[BAD_STEP][1]]


def _train(root, output_dir, workers, *extra):
    args = ["-c", "configs/custom/image_folder.yaml", "--output_dir", str(output_dir), "-o", *TRAIN,
            f"DataLoader.Train.dataset.root={root / 'train'}", f"DataLoader.Eval.dataset.root={root / 'val'}",
            f"DataLoader.Train.num_workers={workers}", *extra]
    return run_tool("train", *args, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    paths = _images(root / "train")
    _images(root / "val")
    full = _train(root, root / "full", 0)
    assert full.returncode == 0, full.stderr
    return root, paths, root / "full" / "latest"


def _leftover_workers(marker):
    """Processes still running whose command line names ``marker`` (a run's output directory)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("workers, damage", [(0, "truncated"), (2, "garbage")])
def test_a_corrupt_image_mid_epoch_saves_latest_at_the_step_and_resume_is_exact(folders, tmp_path, workers, damage):
    root, paths, uninterrupted = folders
    bad = _bad_file(paths)
    good = open(bad, "rb").read()
    with open(bad, "wb") as handle:
        handle.write(good[:len(good) // 2] if damage == "truncated" else os.urandom(len(good)))
    before = tree_state(root / "train")
    try:
        run = _train(root, tmp_path / "run", workers)
        after = tree_state(root / "train")
    finally:
        with open(bad, "wb") as handle:
            handle.write(good)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.splitlines()
    latest = tmp_path / "run" / "latest"
    assert len(lines) == 1 and lines[0].startswith("error: ") and bad in lines[0], lines
    assert re.search(rf"epoch 1, step {BAD_STEP}\b.*Global\.checkpoints={re.escape(str(latest))}$", lines[0])
    assert "Traceback" not in run.stdout + run.stderr
    states = paddle.load(str(latest) + ".pdstates")
    assert (states["epoch"], states["step"], states["global_step"]) == (0, BAD_STEP, BAD_STEP)
    assert after == before and _leftover_workers(str(tmp_path / "run")) == []

    resumed = _train(root, tmp_path / "run", workers, f"Global.checkpoints={latest}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(load_weights(latest), load_weights(uninterrupted))
