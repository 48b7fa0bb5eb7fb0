"""Every norm kind in both layouts exports through export_model and paddle.inference with oneDNN reproduces the
dygraph model: channels-last graphs of gn, ln, in and rms used to fail under oneDNN (a conv channel-count error,
a broadcast mismatch, logits off by 1e25), so NHWC models are exported as their NCHW twin behind a transpose.
Untrained models with random norm parameters on small synthetic images; one run through the tools trains."""
import os
import re

import numpy as np
import paddle
import pytest
from helpers import run_tool
import yaml

import ppnorm
from ppnorm.deploy import export as X
from ppnorm.deploy.layout import ChannelsLastInput, copy_weights
from ppnorm.deploy.predictor import Predictor
from ppnorm.engine import load_config
from ppnorm.nn import NORM_KINDS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "configs", "digits", "resnet20.yaml")
SHAPE = [3, 10, 6]  # C, H, W: different sizes, so a swapped axis shows
KINDS = [kind for kind in NORM_KINDS if kind != "sync_bn"]  # sync_bn has no CPU kernel
MODELS = ["resnet20", pytest.param("densenet_small", marks=pytest.mark.slow)]


def _arch(name, kind, layout):
    return {"name": name, "in_channels": 3, "num_classes": 3, "norm": kind, "data_format": layout,
            "norm_options": {"groups": 4} if kind == "gn" else {}}


def _weights(path, arch):
    """Random weights whose norm scales, shifts and running statistics are far from 1 and 0."""
    paddle.seed(5)
    model = ppnorm.build_model(dict(arch))
    rng = np.random.default_rng(6)
    for value in model.state_dict().values():
        if len(value.shape) == 1:
            value.set_value(rng.uniform(0.5, 1.5, value.shape).astype("float32"))
    paddle.save(model.state_dict(), str(path) + ".pdparams")
    return model


def _config(tmp_path, arch):
    overrides = [f"Global.output_dir={tmp_path / 'run'}", f"Global.pretrained_model={tmp_path / 'w'}",
                 f"Export.save_dir={tmp_path / 'exported'}"]
    config = load_config(DIGITS, overrides)
    config["Arch"] = dict(arch)
    config["DataLoader"]["Eval"].update(
        dataset={"name": "synthetic", "split": "test", "num_samples": 70, "image_shape": SHAPE, "num_classes": 3},
        transforms=[])
    return config


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_norm_kind_exports_and_runs_under_onednn_in_both_layouts(tmp_path, kind, layout, name):
    arch = _arch(name, kind, layout)
    model = _weights(tmp_path / "w", arch)
    summary = X.export_model(_config(tmp_path, arch), log=[].append)
    assert summary["max_abs_diff"] <= 1e-4
    model.eval()
    images = np.random.default_rng(7).standard_normal([5, *SHAPE]).astype("float32")
    if layout == "NHWC":
        images = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    expected = model(paddle.to_tensor(images)).numpy()
    assert np.abs(expected).max() > 1e-2  # logits that show a wrong graph
    for onednn in (True, False):
        np.testing.assert_allclose(Predictor(str(tmp_path / "exported"), use_onednn=onednn)(images), expected,
                                   rtol=1e-4, atol=1e-4)
    description = yaml.safe_load((tmp_path / "exported" / "inference.yml").read_text(encoding="utf-8"))
    assert description["data_format"] == layout and description["input_shape"][-1 if layout == "NHWC" else 0] == 3


def test_a_channels_last_model_is_saved_as_its_channels_first_twin_behind_a_transpose(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(X, "save_for_inference", lambda model, *args: saved.append(model) or [])
    monkeypatch.setattr(X, "check_staged", lambda *args, **kwargs: {"paddle": 0.0})
    arch = _arch("resnet20", "gn", "NHWC")
    model = _weights(tmp_path / "w", arch)
    X.export_model(_config(tmp_path, arch), log=[].append)
    assert isinstance(saved[0], ChannelsLastInput) and saved[0].model.data_format == "NCHW"
    images = paddle.to_tensor(np.random.default_rng(8).standard_normal([2, 10, 6, 3]).astype("float32"))
    model.eval()
    np.testing.assert_allclose(saved[0](images).numpy(), model(images).numpy(), rtol=1e-5, atol=1e-5)
    X.export_model(_config(tmp_path, _arch("resnet20", "gn", "NCHW")), log=[].append)
    assert saved[1].data_format == "NCHW" and not isinstance(saved[1], ChannelsLastInput)


def _top1(text, tag):
    """The top1 a tool's ``[Done] top1 x`` / ``[Infer] top1 x`` line reports."""
    return float(re.search(rf"\[{tag}\] top1 ([0-9.]+)", text).group(1))


@pytest.mark.slow
@pytest.mark.e2e
def test_a_channels_last_model_trains_exports_and_infers_through_the_tools(tmp_path):
    """``in`` (a GroupNorm per channel when channels-last) learns something in one epoch, so a wrong graph shows;
    the ``groups`` it does not read is a one-line warning in each tool, not an error."""
    run = tmp_path / "run"
    done = run_tool("train", "-c", DIGITS, "-o", "Arch.data_format=NHWC", "-o", "Arch.norm=in", "-o",
                    "Arch.norm_options.groups=8", "-o", "Global.epochs=1", "-o", f"Global.output_dir={run}",
                    timeout=600)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stderr.count("warning: norm_options.groups=8 ") == 1
    trained = _top1(done.stdout, "Done")
    done = run_tool("export", "-c", run / "config.yaml", "-o", f"Global.pretrained_model={run / 'latest'}",
                    timeout=600)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stderr.count("warning: norm_options.groups=8 ") == 1  # the channels-first twin says nothing more
    done = run_tool("infer", "--model_dir", run / "inference", "-c", run / "config.yaml", timeout=600)
    assert done.returncode == 0, done.stderr[-1500:]
    assert _top1(done.stdout, "Infer") == trained > 0.2


def test_weights_that_do_not_fit_the_twin_are_refused():
    arch = _arch("resnet20", "bn", "NHWC")
    with pytest.raises(ValueError) as error:
        copy_weights(ppnorm.build_model(dict(arch)), ppnorm.build_model(dict(arch, norm="none")))
    assert "Arch.data_format=NCHW" in str(error.value)
