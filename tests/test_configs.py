"""Every shipped config validates and runs (one short epoch on tiny data in the real formats)."""
import glob
import os

import numpy as np
import pytest
from PIL import Image

from ppnorm.engine import Trainer, load_config
from ppnorm.engine.config import save_config

from test_data import make_cifar10

CONFIGS = sorted(p for p in glob.glob("configs/*/*.yaml")
                 if not p.startswith(("configs/experiments/", "configs/custom/")))
# (experiment configs are loaded and run by tests/test_experiments.py, configs/custom by tests/test_own_data.py)


def test_every_config_is_tested():
    assert len(CONFIGS) == 9


@pytest.mark.parametrize("path", CONFIGS)
def test_config_validates_and_its_saved_copy_loads_back_unchanged(path, tmp_path):
    config = load_config(path)
    assert config["Arch"]["name"] == os.path.basename(path)[:-5]
    saved = save_config(config, str(tmp_path))  # the run's config.yaml, which eval/export are given
    assert load_config(saved) == config


def _run(path, tmp_path, *overrides):
    config = load_config(path, [f"Global.output_dir={tmp_path / 'out'}", "Global.epochs=1", "Global.device=cpu",
                                "Global.use_visualdl=false", "DataLoader.Train.num_workers=0",
                                "DataLoader.Eval.num_workers=0", *overrides])
    return Trainer(config).train()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["configs/digits/resnet18.yaml", "configs/digits/densenet_small.yaml"])
def test_digits_configs_run(path, tmp_path):
    result = _run(path, tmp_path, "DataLoader.Train.batch_size=512")
    assert result["samples"] == 360


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in CONFIGS if "cifar10" in p])
def test_cifar_configs_run(path, tmp_path):
    archive = str(tmp_path / "cifar-10-python.tar.gz")
    make_cifar10(archive, per_batch=2)
    result = _run(path, tmp_path, f"DataLoader.Train.dataset.data_file={archive}",
                  f"DataLoader.Eval.dataset.data_file={archive}", "DataLoader.Train.batch_size=5")
    assert result["samples"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in CONFIGS if "imagenet" in p])
def test_imagenet_style_configs_run(path, tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for label, cls in enumerate(("n01", "n02")):
        os.makedirs(tmp_path / "data" / cls)
        for i in range(2):
            name = f"{cls}/{i}.jpg"
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "data" / name)
            lines.append(f"{name} {label}")
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    data = str(tmp_path / "data")
    if "file_list" in open(path).read():
        sets = [f"DataLoader.{m}.dataset.list_file={tmp_path / 'list.txt'}" for m in ("Train", "Eval")]
        sets += [f"DataLoader.{m}.dataset.root={data}" for m in ("Train", "Eval")]
    else:
        sets = [f"DataLoader.{m}.dataset.root={data}" for m in ("Train", "Eval")]
    result = _run(path, tmp_path, *sets, "Arch.num_classes=2", "DataLoader.Train.batch_size=2",
                  "DataLoader.Eval.batch_size=4", "DataLoader.Train.transforms=[{RandomResizedCrop: {size: 32}}]",
                  "DataLoader.Eval.transforms=[{Resize: {size: 36}}, {CenterCrop: {size: 32}}]")
    assert result["samples"] == 4
