"""Pretrained weights: PaddleClas, paddle.vision and ppnorm files, ``pretrained=True`` and the load line."""
import importlib
import importlib.util
import math
import os
import re
import sys

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.engine import CheckpointError, load_pretrained
from ppnorm.engine.builder import model_from_config
from ppnorm.models import pretrained as pretrained_module
from ppnorm.models.convert import to_ppnorm
from ppnorm.models.convert import from_paddleclas
from ppnorm.paddleclas.installed import import_ppcls

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

INSTALL = "pip install --no-deps paddleclas==2.6.0 six requests tqdm"
PROJECTED = ", basic blocks with a first-block projection: needs first_projection=True"


@pytest.fixture(scope="module")
def ppcls():
    """PaddleClas's backbones (ppnorm's import_ppcls); skipped with the install command when it is missing."""
    if importlib.util.find_spec("paddleclas") is None:
        pytest.skip(f"paddleclas is not installed ({INSTALL})")
    return import_ppcls("ppcls.arch.backbone")


def test_import_ppcls_without_paddleclas_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(ImportError, match=re.escape(f"needs the paddleclas package, which is not installed: "
                                                    f"{INSTALL} (--no-deps")) as error:
        import_ppcls()
    assert "\n" not in str(error.value)


def random_state(layer, seed=0):
    """Random values for every tensor (running variances positive), so a wrong mapping changes the logits.

    Slices of one random pool at random offsets: drawing 25M fresh numbers takes seconds on 2 cores.
    """
    rng = np.random.default_rng(seed)
    pool = rng.standard_normal(1 << 20, dtype=np.float32) * 0.1
    state = {}
    for key, value in layer.state_dict().items():
        values = np.resize(np.roll(pool, int(rng.integers(pool.size))), value.shape)
        state[key] = np.abs(values) * 5 + 0.5 if key.endswith("_variance") else values
    layer.set_state_dict(state)
    layer.eval()
    return state


def logits_diff(reference, ours, size=45):
    ours.eval()
    x = paddle.rand([1, 3, size, size])  # odd sizes exercise the vd shortcut's ceil-mode pooling
    return float((ours(x) - reference(x)).abs().max())


@pytest.fixture(scope="module")
def densenet121(ppcls):
    """PaddleClas's DenseNet121, built once: its parameter names (conv1_weights ...) are unique per process."""
    with paddle.LazyGuard():
        reference = ppcls.DenseNet121()
    random_state(reference)
    return reference


def paddleclas_reference(ppcls, name, densenet121):
    if name == "DenseNet121":
        return densenet121
    with paddle.LazyGuard():  # no random init of millions of weights: random_state sets them all
        reference = getattr(ppcls, name)()
    random_state(reference)
    return reference


@pytest.mark.parametrize("theirs,ours,options,source", [
    ("ResNet50", "resnet50", {}, "PaddleClas ResNet)"), ("ResNet50_vd", "resnet50_vd", {}, "PaddleClas ResNet_vd)"),
    ("ResNet18_vd", "resnet18_vd", {}, "PaddleClas ResNet_vd)"),
    ("ResNet18", "resnet18", {"first_projection": True}, f"PaddleClas ResNet{PROJECTED})"),
    ("DenseNet121", "densenet121", {}, "paddle.vision/PaddleClas DenseNet)")])
@pytest.mark.slow
def test_paddleclas_weights_give_paddleclas_logits(ppcls, densenet121, tmp_path, theirs, ours, options, source):
    reference = paddleclas_reference(ppcls, theirs, densenet121)
    state = reference.state_dict()
    paddle.save(state, str(tmp_path / "w.pdparams"))
    with paddle.LazyGuard():
        model = ppnorm.build_model(ours, **options)
    line = load_pretrained(str(tmp_path / "w"), model)
    assert logits_diff(reference, model) < 1e-5
    assert line.startswith(f"[Pretrained] loaded {len(state)} tensors from {tmp_path / 'w.pdparams'} ({source}")


@pytest.mark.slow
def test_paddleclas_densenet_saved_with_parameter_names(densenet121, tmp_path):
    by_name = {p.name: p.numpy() for p in densenet121.parameters()}  # conv1_weights, conv2_1_x1_bn_mean, ...
    assert "conv2_1_x1_bn_mean" in by_name and "fc_offset" in by_name
    paddle.save(by_name, str(tmp_path / "named.pdparams"))
    model = ppnorm.build_model("densenet121", pretrained=str(tmp_path / "named"))
    assert logits_diff(densenet121, model) < 1e-5


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_vd_parameter_counts_equal_the_installed_paddleclas(ppcls, depth):
    with paddle.LazyGuard():
        theirs, ours = getattr(ppcls, f"ResNet{depth}_vd")(), ppnorm.build_model(f"resnet{depth}_vd")
    count = [sum(math.prod(p.shape) for p in m.parameters() if not p.stop_gradient) for m in (theirs, ours)]
    assert count[0] == count[1]


def test_paddleclas_resnet_table_examples():
    """ResNet-50 numbering: blocks 0-2 stage 1, 3-6 stage 2, 7-12 stage 3, 13-15 stage 4 (a short opens each)."""
    keys = [f"blocks.{n}.conv0.conv.weight" for n in range(16)] + ["stem.0.conv.weight", "stem.0.bn._mean"]
    keys += [f"blocks.{n}.short.{kind}" for n in (0, 3, 7, 13) for kind in ("conv.weight", "bn._variance")]
    keys += ["blocks.0.conv2.conv.weight", "blocks.6.conv2.bn.bias", "fc.weight"]
    names, family = from_paddleclas(dict.fromkeys(keys, 0))
    assert family == "ResNet"
    assert names == {**names, "layer2.0.conv1.weight": 0, "layer2.3.conv1.weight": 0, "layer4.2.conv1.weight": 0,
                     "layer3.0.downsample.0.weight": 0, "layer1.0.downsample.1._variance": 0, "conv1.weight": 0,
                     "bn1._mean": 0, "layer1.0.conv3.weight": 0, "layer2.3.bn3.bias": 0, "fc.weight": 0}
    assert len(names) == len(keys)
    deep, family = to_ppnorm(dict.fromkeys([f"stem.{i}.{k}" for i in range(3) for k in ("conv.weight", "bn.bias")], 0))
    assert family == "PaddleClas ResNet_vd"
    assert sorted(deep) == ["bn1.bias", "conv1.0.conv.weight", "conv1.0.norm.bias", "conv1.1.conv.weight",
                            "conv1.1.norm.bias", "conv1.2.weight"]


def test_paddleclas_densenet_table_examples():
    keys = ["conv1_weights", "conv1_bn_scale", "conv2_6_x1_bn_mean", "conv3_1_x2_weights", "conv2_blk_weights",
            "conv4_blk_bn_offset", "conv5_blk_bn_variance", "fc_weights", "fc_offset"]
    names, family = from_paddleclas(dict(zip(keys, range(len(keys)))))
    assert family == "DenseNet"
    assert names == {"stem.conv_norm_act.conv.weight": 0, "stem.conv_norm_act.norm.weight": 1,
                     "block1.layer6.bottleneck.norm._mean": 2, "block2.layer1.conv.conv.weight": 3,
                     "transition1.reduce.conv.weight": 4, "transition3.reduce.norm.bias": 5,
                     "final_norm._variance": 6, "fc.weight": 7, "fc.bias": 8}


def test_unknown_paddleclas_key_is_one_line(tmp_path):
    paddle.save({"stem.0.conv.weight": np.zeros([2, 3, 3, 3], "float32"), "blocks.0.se.fc.weight": np.zeros(2)},
                str(tmp_path / "odd.pdparams"))
    with pytest.raises(CheckpointError, match=r"odd.pdparams: PaddleClas weight 'blocks.0.se.fc.weight' has no row"):
        ppnorm.build_model("resnet18_vd", pretrained=str(tmp_path / "odd.pdparams"))


@pytest.mark.slow
def test_pretrained_true_reads_paddles_cache_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setattr(paddle.utils.download, "WEIGHTS_HOME", str(tmp_path / "hapi"))
    monkeypatch.setattr(pretrained_module, "PADDLECLAS_CACHE", str(tmp_path / "paddleclas"))
    with pytest.raises(FileNotFoundError, match=r"^pretrained=True: resnet18.pdparams is not in .*hapi \(ppnorm does "
                                                r"not download\): download https://paddle-hapi.bj.bcebos.com/models/"
                                                r"resnet18.pdparams and put it there"):
        ppnorm.build_model("resnet18", pretrained=True)
    reference = paddle.vision.models.resnet18()
    os.makedirs(tmp_path / "hapi")
    paddle.save(random_state(reference), str(tmp_path / "hapi" / "resnet18.pdparams"))
    model = ppnorm.build_model("resnet18", pretrained=True)
    model.eval()
    assert logits_diff(reference, model, size=32) < 1e-5


@pytest.mark.parametrize("name,value,message", [
    ("resnet20", True, "no published ImageNet weights for 'resnet20'"),
    ("resnet20", 1, "pretrained must be True, False or a path to a .pdparams file, got 1")])
def test_bad_pretrained_values(name, value, message):
    with pytest.raises(ValueError, match=message):
        ppnorm.build_model(name, pretrained=value)


def test_load_line_and_pretrained_skip(tmp_path, capsys):
    source = ppnorm.build_model("resnet20", num_classes=10)
    file = str(tmp_path / "ten.pdparams")
    paddle.save(source.state_dict(), file)
    with pytest.raises(CheckpointError, match=r"fc.weight has shape \[64, 10\] but the model has \[64, 5\]"):
        ppnorm.build_model("resnet20", num_classes=5, pretrained=file)
    model = ppnorm.build_model("resnet20", num_classes=5, pretrained=file, pretrained_skip=["fc"])
    assert capsys.readouterr().out == (f"[Pretrained] loaded {len(source.state_dict()) - 2} tensors from {file} "
                                       f"(ppnorm/paddle.vision names); skipped 2 by pretrained_skip ['fc'], kept as "
                                       f"initialized: fc.weight, fc.bias\n")
    np.testing.assert_array_equal(model.layer3[2].bn2._mean.numpy(), source.layer3[2].bn2._mean.numpy())
    np.testing.assert_array_equal(model.conv1.weight.numpy(), source.conv1.weight.numpy())
    ppnorm.build_model("resnet20", num_classes=10, pretrained=file)
    assert capsys.readouterr().out.endswith("(ppnorm/paddle.vision names); skipped none\n")


def test_paddleclas_resnet18_into_resnet18_says_first_projection(tmp_path):
    state = {"stem.0.conv.weight": np.zeros([64, 3, 7, 7], "float32"),
             "blocks.0.short.conv.weight": np.zeros([64, 64, 1, 1], "float32"),
             "blocks.0.conv1.conv.weight": np.zeros([64, 64, 3, 3], "float32")}
    paddle.save(state, str(tmp_path / "r18.pdparams"))
    with pytest.raises(CheckpointError, match=re.escape(f"(PaddleClas ResNet{PROJECTED}) has no weights for")):
        ppnorm.build_model("resnet18", pretrained=str(tmp_path / "r18.pdparams"))


def test_paddle_vision_resnet18_into_first_projection_names_first_projection_false(tmp_path):
    file = str(tmp_path / "resnet18.pdparams")
    paddle.save(paddle.vision.models.resnet18().state_dict(), file)  # no first-block shortcut
    with pytest.raises(CheckpointError, match=r"projection shortcut \(layer1\.0\.downsample\.0\.weight, .*set "
                                              r"Arch\.first_projection: false \(in a PaddleClas config "
                                              r"Arch\.use_first_short_conv: False; build_model\(\.\.\., "
                                              r"first_projection=False\)\)$") as error:
        ppnorm.build_model("resnet18", first_projection=True, pretrained=file, pretrained_skip=["fc"])
    assert "pretrained_skip" not in str(error.value)  # skipping the shortcut would train it from scratch
    ppnorm.build_model("resnet18", first_projection=False, pretrained=file)  # the named fix loads it


def test_first_projection_weights_into_a_plain_resnet18_name_first_projection_true(tmp_path):
    file = str(tmp_path / "projected.pdparams")
    paddle.save(ppnorm.build_model("resnet18", first_projection=True).state_dict(), file)
    with pytest.raises(CheckpointError, match=r"weights for a first-block projection shortcut the model lacks .*set "
                                              r"Arch\.first_projection: true"):
        ppnorm.build_model("resnet18", pretrained=file)


class _Five:
    """The little a model builder asks of a data set: samples, labels, the number of classes."""
    num_classes, labels = 5, [0, 4]

    def __getitem__(self, index):
        return np.zeros([3, 8, 8], "float32"), 0


def test_pretrained_skip_applies_to_training_not_to_eval_and_export(tmp_path, capsys):
    trained = ppnorm.build_model("resnet20", num_classes=5)
    paddle.save(trained.state_dict(), str(tmp_path / "best_model.pdparams"))
    config = {"Arch": {"name": "resnet20"}, "Global": {"sync_bn": False, "device": "cpu", "pretrained_skip": ["fc"],
                                                        "pretrained_model": str(tmp_path / "best_model")}}
    fine_tune = model_from_config(config, _Five())
    assert "skipped 2 by pretrained_skip ['fc']" in capsys.readouterr().out
    assert not np.array_equal(fine_tune.fc.weight.numpy(), trained.fc.weight.numpy())
    evaluated = model_from_config(config, _Five(), "DataLoader.Eval.dataset")
    assert capsys.readouterr().out.endswith("skipped none\n")
    np.testing.assert_array_equal(evaluated.fc.weight.numpy(), trained.fc.weight.numpy())


def test_skip_mismatched_keeps_other_shapes_as_initialized_in_training_only(tmp_path, capsys):
    source = ppnorm.build_model("resnet20", num_classes=10)
    paddle.save(source.state_dict(), str(tmp_path / "ten.pdparams"))
    config = {"Arch": {"name": "resnet20"}, "Global": {"sync_bn": False, "device": "cpu", "pretrained_skip": [],
                                                        "pretrained_skip_mismatched": True,
                                                        "pretrained_model": str(tmp_path / "ten")}}
    model = model_from_config(config, _Five())  # 5 classes: the file's 10-class fc has another shape
    assert capsys.readouterr().out.endswith(
        "skipped 2 of another shape (Global.pretrained_skip_mismatched, as PaddleClas loads), kept as initialized: "
        "fc.weight, fc.bias\n")
    np.testing.assert_array_equal(model.conv1.weight.numpy(), source.conv1.weight.numpy())
    assert list(model.fc.weight.shape) == [64, 5]
    with pytest.raises(CheckpointError, match=r"fc.weight has shape \[64, 10\] but the model has \[64, 5\]"):
        model_from_config(config, _Five(), "DataLoader.Eval.dataset")  # eval/export load a trained model whole
