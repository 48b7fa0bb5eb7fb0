"""ONNX (the optional extra): tools/export.py --format onnx, tools/infer.py --backend onnxruntime, the
benchmark's onnxruntime row, and the one-line error when the extra is missing."""
import importlib.util
import os
import sys

import numpy as np
import paddle
import pytest
from helpers import run_tool
import yaml

import ppnorm
from ppnorm.benchmark import suite as suite_module
from ppnorm.benchmark.cli import benchmark_main
from ppnorm.benchmark.suite import Suite
from ppnorm.data import build_dataset
from ppnorm.deploy import export as export_module
from ppnorm.deploy.cli import export_main, infer_main
from ppnorm.deploy.onnx import OnnxError, OnnxPredictor, convert
from ppnorm.deploy.predictor import Predictor
from ppnorm.engine import load_config
from ppnorm.engine.builder import model_from_config

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "configs", "digits", "resnet20.yaml")
HAS_EXTRA = all(importlib.util.find_spec(name) is not None for name in ("paddle2onnx", "onnxruntime"))
needs_extra = pytest.mark.skipif(not HAS_EXTRA, reason='the ONNX extra is not installed (pip install -e ".[onnx]")')
INSTALL = 'pip install -e ".[onnx]"'


def _weights_with_random_statistics(path):
    """resnet20 (digits) weights whose BatchNorm running statistics are far from 0/1, so a wrong fold shows."""
    paddle.seed(1)
    rng = np.random.default_rng(1)
    state = ppnorm.build_model("resnet20", num_classes=10, in_channels=1).state_dict()
    for name, value in state.items():
        if name.endswith("._mean"):
            value.set_value(rng.normal(0.0, 0.2, value.shape).astype("float32"))
        elif name.endswith("._variance"):
            value.set_value(rng.uniform(0.5, 1.5, value.shape).astype("float32"))
    paddle.save(state, str(path))
    return str(path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An ONNX export (random weights, randomized BN statistics) and the eval-mode dygraph model it came from."""
    root = tmp_path_factory.mktemp("onnx")
    weights = _weights_with_random_statistics(root / "w.pdparams")
    overrides = [f"Global.output_dir={root}", f"Global.pretrained_model={weights}"]
    model_dir = root / "inference"
    assert export_main(["-c", DIGITS, "-o", *overrides, "--format", "onnx", "--output_dir", str(model_dir)]) == 0
    model = model_from_config(load_config(DIGITS, overrides), build_dataset({"name": "digits", "split": "test"}))
    model.eval()
    return model_dir, model


def _eval_batch(count):
    data = build_dataset({"name": "digits", "split": "test"})
    images = np.stack([data[i][0] for i in range(count)])  # [N, 1, 8, 8] in [0, 1]
    return images, ((images - 0.3) / 0.37).astype("float32")  # the config's eval Normalize


@pytest.mark.slow
@needs_extra
def test_onnx_export_reproduces_the_unfolded_model_and_says_so(exported):
    model_dir, model = exported
    assert sorted(os.listdir(model_dir)) == ["inference.json", "inference.pdiparams", "inference.yml", "model.onnx"]
    description = yaml.safe_load((model_dir / "inference.yml").read_text())
    assert description["format"] == "onnx" and description["folded_batch_norms"] == 21
    assert 0 < description["onnx_max_abs_diff"] <= 1e-4
    _, batch = _eval_batch(100)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(batch)).numpy()
    assert np.abs(expected).max() > 1.0  # non-trivial logits: a dropped or doubled BatchNorm would show
    onnx_logits = OnnxPredictor(str(model_dir))(batch)
    np.testing.assert_allclose(onnx_logits, expected, rtol=0, atol=1e-4)
    np.testing.assert_allclose(onnx_logits, Predictor(str(model_dir))(batch), rtol=0, atol=1e-4)


@pytest.mark.slow
@pytest.mark.e2e
@needs_extra
def test_infer_tool_with_onnxruntime_predicts_like_paddle_inference(exported, tmp_path, capsys):
    model_dir, model = exported
    images, batch = _eval_batch(5)
    np.save(tmp_path / "five.npy", images)
    result = run_tool("infer", "--model_dir", model_dir, "--backend", "onnxruntime", "--input", tmp_path / "five.npy",
                      "--topk", "3", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(onnxruntime, CPU, fp32, 1 thread(s))" in result.stdout
    onnx_lines = [line for line in result.stdout.splitlines() if ".npy[" in line]
    capsys.readouterr()
    assert infer_main(["--model_dir", str(model_dir), "--input", str(tmp_path / "five.npy"), "--topk", "3"]) == 0
    paddle_lines = [line for line in capsys.readouterr().out.splitlines() if ".npy[" in line]
    assert len(onnx_lines) == 5 and onnx_lines == paddle_lines
    with paddle.no_grad():
        top = model(paddle.to_tensor(batch)).numpy().argmax(axis=1)
    assert [line.split(": ")[1].split(" ")[0] for line in onnx_lines] == [str(k) for k in top]


def _fake_export_dir(path):
    """A directory that passes tools/infer.py's checks up to the backend (its files hold no model)."""
    path.mkdir()
    for name in ("inference.json", "inference.pdiparams", "model.onnx"):
        (path / name).write_text("x")
    description = {"data_format": "NCHW", "input_shape": [1, 8, 8], "channels": 1, "classes": [], "topk": [1]}
    (path / "inference.yml").write_text(yaml.safe_dump(description))
    return str(path)


def test_a_missing_extra_is_one_line_naming_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "paddle2onnx", None)  # `import paddle2onnx` now raises ImportError
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    save_dir = tmp_path / "inference"
    runs = {
        "Export.format=onnx (--format onnx) needs paddle2onnx": lambda: export_main(
            ["-c", DIGITS, "-o", "Global.pretrained_model=never/read", "--format", "onnx", "--output_dir",
             str(save_dir)]),
        "--backend onnxruntime needs onnxruntime": lambda: infer_main(
            ["--model_dir", _fake_export_dir(tmp_path / "m"), "--backend", "onnxruntime", "--input", "x.npy"]),
        "--onnx needs paddle2onnx": lambda: benchmark_main(["--onnx", "--output_dir", str(tmp_path / "bench")]),
    }
    for start, run in runs.items():
        capsys.readouterr()
        assert run() == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {start}") and INSTALL in lines[0], lines
    assert not save_dir.exists() and not (tmp_path / "bench").exists()


@pytest.mark.slow
@needs_extra
def test_an_onnx_model_off_by_more_than_the_tolerance_is_not_written(exported, tmp_path, monkeypatch, capsys):
    class Shifted(OnnxPredictor):  # onnxruntime's logits plus 1e-3: what a wrong conversion would look like
        def __call__(self, batch):
            return super().__call__(batch) + 1e-3

    monkeypatch.setattr(export_module, "OnnxPredictor", Shifted)
    weights = exported[0].parent / "w.pdparams"
    save_dir = tmp_path / "inference"
    code = export_main(["-c", DIGITS, "-o", f"Global.pretrained_model={weights}", "--format", "onnx",
                        "--output_dir", str(save_dir)])
    out, err = capsys.readouterr()
    assert code == 2 and "[Export] onnxruntime (model.onnx, opset 13) vs the unfolded eval-mode model" in out
    assert err.startswith("error: the exported model's logits (onnxruntime") and "> Export.tolerance=0.0001" in err
    assert not save_dir.exists() and os.listdir(tmp_path) == []  # no model, no staging directory left


@pytest.mark.slow
@needs_extra
def test_convert_reports_a_damaged_graph_and_never_replaces_a_file(exported, tmp_path):
    graph, params = tmp_path / "inference.json", exported[0] / "inference.pdiparams"
    graph.write_text('{"program": ')  # paddle2onnx logs a JSON parse error, then calls sys.exit(-1)
    with pytest.raises(OnnxError, match=r"could not convert .*inference.json with paddle .*exited with status -1"):
        convert(str(graph), str(params), str(tmp_path / "model.onnx"))
    assert not (tmp_path / "model.onnx").exists()
    existing = tmp_path / "existing.onnx"
    existing.write_bytes(b"not ours")
    with pytest.raises(FileExistsError):
        convert(str(exported[0] / "inference.json"), str(params), str(existing))
    assert existing.read_bytes() == b"not ours"


def test_export_refuses_a_directory_whose_model_onnx_it_did_not_write(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "model.onnx").write_bytes(b"someone else's model")
    code = export_main(["-c", DIGITS, "-o", "Global.pretrained_model=never/read", "--format", "onnx",
                        "--output_dir", str(foreign)])
    assert code == 2 and "no export wrote" in capsys.readouterr().err
    assert os.listdir(foreign) == ["model.onnx"] and (foreign / "model.onnx").read_bytes() == b"someone else's model"


@pytest.mark.slow
@needs_extra
def test_benchmark_onnx_row_is_a_ratio_against_paddle_inference_of_the_same_model(monkeypatch):
    timed = []

    def fixed_rates(runs, items, warmup, repeats):  # every candidate runs; the rates are set by the test
        for name, run in runs.items():
            run()
            timed.append((name, items))
        return {name: {"eval": 10.0, "fp32": 40.0, "onnxruntime": 30.0}[name] for name in runs}

    monkeypatch.setattr(suite_module, "side_by_side", fixed_rates)
    rows = Suite(image_size=8, num_classes=10, warmup=0, repeats=1, memory=False, onnx=True,
                 log=lambda line: None).run(["resnet20"], ["bn"], [4], ["infer"])
    assert sorted(timed) == [("eval", 4), ("fp32", 4), ("onnxruntime", 4)]  # same batch, one side-by-side call
    by_name = {row["implementation"]: row for row in rows}
    onnx, paddle_row = by_name["ppnorm exported (onnxruntime)"], by_name["ppnorm exported (oneDNN fp32)"]
    assert (onnx["ratio"], onnx["ratio_against"]) == (0.75, "ppnorm exported (oneDNN fp32)")
    assert (paddle_row["ratio"], paddle_row["ratio_against"]) == (4.0, "ppnorm dygraph eval")
    assert 0 < onnx["relative_diff"] < 1e-5 and onnx["batch"] == paddle_row["batch"] == 4
    with pytest.raises(ValueError, match="add fp32 to --precisions"):
        Suite(precisions=("bf16",), onnx=True)
