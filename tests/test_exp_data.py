"""Experiments on any data set: the ``data`` setting, ``ctx.data``, and every experiment's quick preset on a tiny
CIFAR-10 in the real ``cifar-10-batches-py`` format."""
import os
import pickle
import re

import numpy as np
import pytest
from PIL import Image

from experiment_runs import read_runs, run_quick
from ppnorm.engine.config import ConfigError
from ppnorm.experiments import NAMES, data, experiments, training
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.context import Context
from test_data import make_mnist

CONFIG = "configs/experiments/norm_position.yaml"


def make_cifar10_folder(root, per_batch=100, test=64):
    """``root/cifar-10-batches-py`` with the five training batches, test_batch and batches.meta as the real files
    are: protocol-2 pickles of byte-keyed dicts, ``data`` uint8 [N, 3072] (R, G, B planes of 32x32)."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for name, count in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", test)]:
        labels = rng.permutation(np.arange(count) % 10)  # every class in every batch
        with open(os.path.join(folder, name), "wb") as handle:
            pickle.dump({b"batch_label": name.encode(), b"labels": [int(label) for label in labels],
                         b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                         b"filenames": [f"img{i}.png".encode() for i in range(count)]}, handle, protocol=2)
    with open(os.path.join(folder, "batches.meta"), "wb") as handle:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}, handle, protocol=2)
    return folder


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return make_cifar10_folder(str(tmp_path_factory.mktemp("cifar")))


def _load(overrides, config=CONFIG):
    return load_experiment_config(config, overrides, experiments())


# ------------------------------------------------------------------ the setting
def test_digits_is_the_default_and_matches_training_digits():
    _, settings, _ = _load([])
    assert settings["data"] == {"name": "digits"}
    for split in ("train", "test"):
        for normalize in (True, False):
            mine, old = data.load(settings["data"], split, normalize), training.digits(split, normalize)
            assert np.array_equal(mine[0].numpy(), old[0].numpy()) and np.array_equal(mine[1].numpy(), old[1].numpy())
    assert data.info(None) == ("digits", 1, 8, 8, 10, 1437, 360) and data.info(None).features == 64


@pytest.mark.parametrize("override, message", [
    ("data=cifar10", r"norm_position.yaml: data.data_file must be set for data set 'cifar10'$"),
    ("data.name=cifar10", r"data.data_file must be set for data set 'cifar10'$"),
    ("data.name=cifar11", r"data.name must be one of cifar10, cifar100, .*got 'cifar11'"),
    ("data=[1]", r"data must be a data set name or a mapping"),
    ("data.name=waveforms", r"data.name 'waveforms' yields sequences; experiments train on images$"),
    ("data.split=test", r"data.split is not an option here"),
    ("data.resise=16", r"unknown key 'data.resise' for data set 'digits' \(did you mean 'resize'\?\); valid: name, "),
    ("data.train_samples=0", r"data.train_samples must be an integer >= 1 \(or null\), got 0$"),
    ("data.image_size=x", r"data.image_size must be an integer >= 1"),
    ("data.test_fraction=0.3", r"data.test_fraction: 'digits' has its own test split; leave it out$"),
])
def test_bad_data_settings_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message) as error:
        _load([override])
    assert "\n" not in str(error.value)


def test_a_missing_file_names_the_key_and_the_path(tmp_path):
    missing = tmp_path / "nope" / "cifar-10-batches-py"
    with pytest.raises(ConfigError, match=rf"data.data_file: file or folder not found: {missing}$"):
        _load(["data.name=cifar10", f"data.data_file={missing}"])
    with pytest.raises(ConfigError, match=rf"data.data_dir: file or folder not found: {tmp_path / 'mnist'}$"):
        _load(["data.name=mnist", f"data.data_dir={tmp_path / 'mnist'}"])


def test_yaml_mapping_and_home_expansion(tmp_path, monkeypatch, cifar):
    monkeypatch.setenv("HOME", os.path.dirname(cifar))
    config = tmp_path / "exp.yaml"
    config.write_text("experiment: norm_position\ndata: {name: cifar10, data_file: ~/cifar-10-batches-py}\n")
    _, settings, _ = _load([], str(config))
    assert settings["data"] == {"name": "cifar10", "data_file": cifar}


# ------------------------------------------------------------------ loading
def test_cifar_folder_in_memory_normalized_per_channel(cifar):
    spec = {"name": "cifar10", "data_file": cifar}
    info = data.info(spec)
    assert info == ("cifar10", 3, 32, 32, 10, 500, 64) and info.model_options == {"in_channels": 3, "num_classes": 10}
    train, raw = data.load(spec, "train")[0].numpy(), data.load(spec, "train", normalize=False)[0].numpy()
    with open(os.path.join(cifar, "data_batch_1"), "rb") as handle:
        first = pickle.load(handle, encoding="bytes")[b"data"][0].reshape(3, 32, 32)
    assert np.allclose(raw[0], first / 255.0)  # channel planes in file order, pixels scaled to [0, 1]
    assert np.allclose(train.mean(axis=(0, 2, 3)), 0, atol=1e-5) and np.allclose(train.std(axis=(0, 2, 3)), 1, atol=1e-4)
    mean, std = data.statistics(spec)
    test = data.load(spec, "test")[0].numpy()
    assert np.allclose(test, (data.load(spec, "test", normalize=False)[0].numpy() - mean) / std, atol=1e-5)


def test_subsets_are_fixed_and_sized(cifar):
    spec = {"name": "cifar10", "data_file": cifar, "train_samples": 50, "test_samples": 20}
    images, labels = data.load(spec, "train", normalize=False)
    assert data.info(spec)[-2:] == (50, 20) and len(labels) == 50
    full, full_labels = data.load({"name": "cifar10", "data_file": cifar}, "train", normalize=False)
    index = [int(np.flatnonzero((full.numpy() == image).all(axis=(1, 2, 3)))[0]) for image in images.numpy()[:5]]
    assert index == sorted(index) and list(full_labels.numpy()[index]) == list(labels.numpy()[:5])


def test_mnist_files(tmp_path):
    make_mnist(tmp_path, n_train=12, n_test=4)
    _, settings, _ = _load(["data.name=mnist", f"data.data_dir={tmp_path}"])
    assert data.info(settings["data"])[1:] == (1, 28, 28, 10, 12, 4)


def test_own_image_folder_is_split_per_class_and_resized(tmp_path):
    rng = np.random.default_rng(0)
    for name, count in (("cat", 10), ("dog", 5)):
        (tmp_path / name).mkdir()
        for i in range(count):
            size = (12 + i, 10) if i % 2 else (16, 16)
            Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    spec = {"name": "image_folder", "root": str(tmp_path), "image_size": 8, "test_fraction": 0.2}
    info = data.info(spec)
    assert info == ("image_folder", 3, 8, 8, 2, 12, 3)
    assert sorted(data.load(spec, "test")[1].numpy().tolist()) == [0, 0, 1]  # 20% of each class held out
    with pytest.raises(ConfigError, match=r"data 'image_folder': file .*cat/1.png is 3x13x10 but the first image is "
                                          r"3x16x16; set data.image_size to resize them all$"):
        data.info({"name": "image_folder", "root": str(tmp_path)})


# ------------------------------------------------------------------ every experiment on CIFAR-10
# runs.csv rows of each quick preset, from its QUICK params
EXPECTED_RUNS = {
    "batch_size_sweep": lambda p: (len(p["batch_sizes"]) + 1) * p["seeds"],  # BN per batch size, GN once
    "activation_with_bn": lambda p: len(p["acts"]) * 2 * p["seeds"],
    "residual_vs_plain": lambda p: len(p["depths"]) * 2 * p["seeds"],
    "imbalanced_bn": lambda p: len(p["norms"]) * p["seeds"],
    "dropout_with_bn": lambda p: len(p["norms"]) * len(p["dropouts"]) * len(p["weight_decays"]) * p["seeds"],
    "pooling_shift": lambda p: len(p["downsamples"]) * p["seeds"] * len(p["shifts"]),
    "gradient_flow": lambda p: 2 * len(p["acts"]) * len(p["norms"]) * p["seeds"],  # mlp and cnn
    "norm_position": lambda p: len(p["models"]) * len(p["acts"]) * 2 * p["seeds"],
    "init_sensitivity": lambda p: len(p["norms"]) * (len(p["inits"]) + 2) * p["seeds"],
    "activation_pitfalls": lambda p: (len(p["dying"]) * len(p["lrs"]) + len(p["sign_acts"]) * len(p["norms"]))
    * p["seeds"],
    "input_scaling": lambda p: 2 * len(p["transforms"]) * p["seeds"],
    "batch_noise": lambda p: len(p["batch_sizes"]) * p["seeds"],
    "covariate_shift": lambda p: 2 * p["seeds"],  # no BN and BN
    "style_norm": lambda p: len(p["norms"]) * p["seeds"] * (1 + len(p["label_tasks"])),
    "group_sweep": lambda p: len(p["groups"]) * p["seeds"],
    "precise_bn": lambda p: len(p["lrs"]) * p["seeds"],
    "dropout_modes": lambda p: p["seeds"],  # one row per seed: both modes trained in one cell
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NAMES))
def test_every_experiment_runs_on_cifar10_or_says_why_not(name, cifar, tmp_path, monkeypatch):
    module = experiments()[name]
    overrides = ["data.name=cifar10", f"data.data_file={cifar}"]
    if getattr(module, "DATA", None) is not True:
        why = module.DATA if isinstance(getattr(module, "DATA", None), str) else "it trains on digits only"
        with pytest.raises(ConfigError, match=re.escape(f"data: experiment {name} takes no data set option: {why}")):
            run_quick(name, tmp_path, *overrides)
        return
    loaded = []
    monkeypatch.setattr(training, "digits", lambda *a, **k: pytest.fail(f"{name} still reads training.digits"))
    real_load = data.load
    monkeypatch.setattr(data, "load", lambda spec, *a, **k: loaded.append(spec["name"]) or real_load(spec, *a, **k))
    ctx = run_quick(name, tmp_path, *overrides)
    assert set(loaded) == {"cifar10"}
    assert len(read_runs(tmp_path)) == EXPECTED_RUNS[name](ctx.params)
    assert ctx.claims and os.path.isfile(tmp_path / "claims.csv") and os.path.isfile(tmp_path / "report.md")


def test_context_without_a_data_setting_reads_digits(tmp_path):
    ctx = Context("x", None, {"seed": 0, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}, {})
    assert ctx.data_info.name == "digits" and ctx.data("test")[0].shape == [360, 1, 8, 8]


def test_an_evaluation_interval_beyond_the_training_steps_is_a_one_line_error(cifar, tmp_path):
    steps = 2 * (150 // 32)  # 2 epochs of full batches of 32 out of 150 images (the last partial batch dropped)
    with pytest.raises(ConfigError, match=rf"params.eval_every=15 exceeds the {steps} training steps on cifar10; lower "
                                          r"params.eval_every or train longer$"):
        run_quick("activation_with_bn", tmp_path, "data.name=cifar10", f"data.data_file={cifar}",
                  "data.train_samples=150", "params.epochs=2")
