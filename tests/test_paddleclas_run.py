"""PaddleClas configs' DataLoader sections and -o overrides, and real runs: tools/train.py in a subprocess trains one
step of each test config on a tiny generated train_list.txt set; eval.py and export.py take the same file."""
import copy
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from ppnorm.deploy.cli import export_main, infer_main
from ppnorm.engine.cli import eval_main, train_main
from ppnorm.engine.config import ConfigError, load_config, validate
from ppnorm.paddleclas.translator import translate
from ppnorm.models.registry import MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "tests", "data", "paddleclas")
R50 = os.path.join(HERE, "ResNet50.yaml")
LEGACY = os.path.join(HERE, "ResNet18_legacy.yaml")  # PaddleClas 2.2's layout: Global.class_num: 1000


def raw(path=R50):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def run(config, *overrides):
    return validate(translate(copy.deepcopy(config), overrides, "test"), "test")


def test_dataset_keys():
    train = run(raw(), "DataLoader.Train.dataset.delimiter=,")["DataLoader"]["Train"]["dataset"]
    assert train["delimiter"] == ","
    with pytest.raises(ConfigError, match="relabel=true is not supported"):
        run(raw(), "DataLoader.Train.dataset.relabel=True")
    with pytest.raises(ConfigError, match="dataset.name='MultiLabelDataset' is not supported"):
        run(raw(), "DataLoader.Train.dataset.name=MultiLabelDataset")
    with pytest.raises(ConfigError, match="sampler.name='PKSampler' is not supported"):
        run(raw(), "DataLoader.Train.sampler.name=PKSampler")


def test_batch_transform_ops_are_refused_unless_set_to_null():
    with pytest.raises(ConfigError, match=r"batch_transform_ops \(MixupOperator\) is not supported.*"
                                          r"-o DataLoader.Train.dataset.batch_transform_ops=null"):
        run(raw(), "DataLoader.Train.dataset.batch_transform_ops=[{MixupOperator: {alpha: 0.2}}]")
    config = run(raw(), "DataLoader.Train.dataset.batch_transform_ops=null")
    assert config["DataLoader"]["Train"]["dataset"]["name"] == "file_list"


def test_op_lists_are_checked():
    with pytest.raises(ConfigError, match=r"transform_ops\[2\]: op 'AutoAugment' is not supported; supported ops: "
                                          r"DecodeImage"):
        run(raw(), "DataLoader.Train.dataset.transform_ops.2={AutoAugment: null}")
    with pytest.raises(ConfigError, match="order='chw' but the image is HWC"):
        run(raw(), "DataLoader.Train.dataset.transform_ops.3.NormalizeImage.order=chw")
    with pytest.raises(ConfigError, match="transpose the images twice"):
        run(raw(), "DataLoader.Train.dataset.transform_ops.0.DecodeImage.channel_first=True")
    with pytest.raises(ConfigError, match=r"transform_ops\[1\]: RandCropImage: size"):
        run(raw(), "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=-3")


def test_missing_normalize_feeds_0_to_255_like_paddleclas(capsys):
    config = raw()
    config["DataLoader"]["Train"]["dataset"]["transform_ops"].pop()
    ops = run(config)["DataLoader"]["Train"]["transforms"]
    assert ops[-1] == {"NormalizeImage": {"scale": 1.0, "mean": [0.0] * 3, "std": [1.0] * 3, "order": "hwc"}}
    assert "no NormalizeImage" in capsys.readouterr().err


def test_legacy_reader_keys_are_refused():
    config = raw()
    config["DataLoader"]["Train"] = {"batch_size": 256, "file_list": "train_list.txt", "data_dir": "."}
    with pytest.raises(ConfigError, match="PaddleClas's old reader keys"):
        run(config)


def test_paddleclas_2_0_layout_is_refused():
    with pytest.raises(ConfigError, match="PaddleClas 2.0's old layout \\(ARCHITECTURE, TRAIN\\)"):
        load_config(R50, ["ARCHITECTURE.name=ResNet50", "TRAIN.batch_size=3"])


def test_overrides_use_paddleclas_names_and_list_indices():
    config = load_config(R50, ["DataLoader.Train.dataset.image_root=/data/", "DataLoader.Eval.sampler.batch_size=8",
                               "DataLoader.Eval.dataset.transform_ops.1.ResizeImage.resize_short=36"])
    assert config["DataLoader"]["Train"]["dataset"]["root"] == "/data/"
    assert config["DataLoader"]["Eval"]["batch_size"] == 8
    assert config["DataLoader"]["Eval"]["transforms"][1] == {"ResizeImage": {"resize_short": 36}}
    with pytest.raises(ConfigError, match="'9' is not an index of the 4-item list"):
        load_config(R50, ["DataLoader.Eval.dataset.transform_ops.9.CropImage.size=3"])




@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """4 training and 4 eval 40x48 RGB images of 4 classes, listed as PaddleClas's 'images/x.png label' lines."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        lines = []
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / "images" / f"{split}{i}.png")
            lines.append(f"images/{split}{i}.png {i}\n")
        (root / f"{split}_list.txt").write_text("".join(lines))
    return root


def small(root, out):
    """Data paths (the only change a user makes) plus sizes, epochs and batches that make the test fast."""
    overrides = ["Global.device=cpu", "Global.epochs=1", "Global.save_interval=0", "Arch.class_num=4",
                 f"Global.output_dir={out}", "Global.image_shape=[3,32,32]",
                 "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=32",
                 "DataLoader.Eval.dataset.transform_ops.1.ResizeImage.resize_short=36",
                 "DataLoader.Eval.dataset.transform_ops.2.CropImage.size=32"]
    for mode, split in (("Train", "train"), ("Eval", "val")):
        overrides += [f"DataLoader.{mode}.dataset.image_root={root}",
                      f"DataLoader.{mode}.dataset.cls_label_path={root}/{split}_list.txt",
                      f"DataLoader.{mode}.sampler.batch_size=4", f"DataLoader.{mode}.loader.num_workers=0"]
    return overrides


def train(config, overrides):
    command = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "-c", config]
    for override in overrides:
        command += ["-o", override]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


@pytest.mark.parametrize("name,model", [("ResNet50", "resnet50"), ("DenseNet121", "densenet121"),
                                        ("ResNet50_vd", "resnet50_vd")])
@pytest.mark.slow
def test_tools_train_runs_a_paddleclas_file(tiny_set, tmp_path, name, model):
    if model not in MODELS:
        pytest.skip("resnet*_vd not in the zoo yet")
    out = tmp_path / "out"
    warmup = ["Optimizer.lr.warmup_epoch=0"] if name == "ResNet50_vd" else []  # its 5 warm-up epochs > 1 epoch
    result = train(os.path.join(HERE, f"{name}.yaml"), small(tiny_set, out) + warmup)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[Train][Epoch 1/1][Iter: 1/1]" in result.stdout  # one step of batch 4
    assert re.search(r"\[Eval\]\[Epoch 1\]\[Avg\].*samples: 4", result.stdout)
    assert result.stderr.count("key(s) ppnorm does not honour as PaddleClas would") == 1  # one notes block
    assert "warning (as PaddleClas): Metric TopkAcc topk [5] is more than Arch.class_num=4" in result.stderr
    saved = yaml.safe_load((out / "config.yaml").read_text())  # ppnorm's config: eval/export take it too
    assert saved["Arch"]["name"] == model and saved["Arch"]["num_classes"] == 4
    assert saved["DataLoader"]["Train"]["dataset"]["list_file"] == f"{tiny_set}/train_list.txt"
    assert os.path.isfile(out / "latest.pdparams") and os.path.isfile(out / "best_model.pdparams")


@pytest.mark.slow  # 3 s on a quiet machine, 9 s on a shared one
def test_legacy_global_class_num_file_trains_with_arch_class_num_override(tiny_set, tmp_path):
    out = tmp_path / "out"
    result = train(LEGACY, small(tiny_set, out))  # small() has the usual -o Arch.class_num=4
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"\[Eval\]\[Epoch 1\]\[Avg\].*samples: 4", result.stdout)
    warning = ("warning (as PaddleClas): Global.class_num is deprecated, use Arch.class_num; Global.class_num=1000 "
               "is ignored, Arch.class_num=4 is used")
    assert result.stderr.count("Global.class_num is deprecated") == 1 and warning in result.stderr
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["Arch"] == {"name": "resnet18", "num_classes": 4, "first_projection": True}


@pytest.mark.slow
def test_eval_export_and_infer_take_the_paddleclas_file(tiny_set, tmp_path, capsys):
    # ResNet18 at a small rate: after one step ResNet-50's eval-mode logits are so large (running statistics
    # barely moved) that the export check's absolute tolerance fails; the file and its keys are the same
    out = tmp_path / "out"
    overrides = small(tiny_set, out) + ["Arch.name=ResNet18", "Optimizer.lr.learning_rate=0.0001"]
    assert train_main(["-c", R50, "-o", *overrides]) == 0
    trained = re.search(r"\[Eval\]\[Epoch 1\]\[Avg\]loss: ([0-9.]+), top1: ([0-9.]+)", capsys.readouterr().out)
    weights = f"Global.pretrained_model={out}/best_model"
    assert eval_main(["-c", R50, "-o", *overrides, weights]) == 0
    assert f"loss: {trained[1]}, top1: {trained[2]}" in capsys.readouterr().out  # same weights, same images
    save_dir = tmp_path / "inference"
    assert export_main(["-c", R50, "-o", *overrides, weights, f"Global.save_inference_dir={save_dir}"]) == 0
    description = yaml.safe_load((save_dir / "inference.yml").read_text())
    assert description["arch"] == {"name": "resnet18", "num_classes": 4, "first_projection": True}
    assert description["input_shape"] == [3, 32, 32] and description["max_abs_diff"] <= 1e-4
    assert [next(iter(op)) for op in description["transforms"]] == ["DecodeImage", "ResizeImage", "CropImage",
                                                                    "NormalizeImage"]
    capsys.readouterr()
    assert infer_main(["--model_dir", str(save_dir), "-c", R50, "-o", *overrides, "--show", "0"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
        f"[Infer] top1 {float(trained[2]):.4f} on 4 eval samples")  # the exported model, PaddleClas's eval ops
    assert infer_main(["--model_dir", str(save_dir), "--input", str(tiny_set / "images" / "val0.png")]) == 0
    assert "val0.png: " in capsys.readouterr().out  # a file, preprocessed by the ops inference.yml names
