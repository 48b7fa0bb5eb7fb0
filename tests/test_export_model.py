"""export_model end to end on tiny untrained models (a one-conv simple_cnn on 3x6x4 synthetic images, a small
seq_conv1d): what is written, what inference.yml says per layout, what the verifier refuses (NaN logits, a fold
that changes the logits), what is left when a step fails, and what save_for_inference, reference and check_staged
return. Each export takes well under a second after the first."""
import os

import numpy as np
import paddle
import pytest
from helpers import run_tool
import yaml

import ppnorm
from ppnorm.deploy import export as X
from ppnorm.deploy.predictor import Predictor
from ppnorm.engine import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "configs", "digits", "resnet20.yaml")
SEQUENCE = os.path.join(ROOT, "configs", "sequence", "seq_conv1d.yaml")
SHAPE = [3, 6, 4]  # C, H, W: every size different, so a swapped axis shows
NORMALIZE = [{"Normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}}]
ARCH = ["Arch.name=simple_cnn", "Arch.widths=[4]", "Arch.convs_per_stage=1", "Arch.in_channels=3",
        "Arch.num_classes=3"]


def _weights(path, layout="NCHW", nan=False):
    """An untrained one-conv simple_cnn whose BatchNorm has non-trivial statistics (folding it changes the conv)."""
    paddle.seed(1)
    model = ppnorm.build_model("simple_cnn", in_channels=3, num_classes=3, widths=[4], convs_per_stage=1,
                               data_format=layout)
    rng = np.random.default_rng(2)
    for name, value in model.state_dict().items():
        if "norm" in name:
            value.set_value(rng.uniform(0.5, 1.5, value.shape).astype("float32"))
    model.features[0].norm._momentum = 0.0  # running statistics from one train-mode batch: predictions vary
    batch = _eval_images(32, "train")
    batch = paddle.to_tensor(batch if layout == "NCHW" else np.ascontiguousarray(batch.transpose(0, 2, 3, 1)))
    model.train()
    model(batch)
    model.eval()
    model.fc.weight.set_value(model.fc.weight * 4)
    model.fc.bias.set_value(model.fc.bias - model(batch).mean(axis=0))  # centred logits
    if nan:  # finite weights whose logits overflow to +-inf and NaN
        signs = np.where(np.arange(model.fc.weight.size).reshape(model.fc.weight.shape) % 2, 1, -1)
        model.fc.weight.set_value((3e38 * signs).astype("float32"))
    paddle.save(model.state_dict(), str(path) + ".pdparams")
    return str(path)


def _config(tmp_path, layout="NCHW", save_dir=None, nan=False, extra=()):
    weights = _weights(tmp_path / ("nan" if nan else "w"), layout, nan)
    overrides = [f"Global.output_dir={tmp_path / 'run'}", f"Global.pretrained_model={weights}",
                 f"Arch.data_format={layout}", *ARCH, *extra]
    if save_dir is not None:
        overrides.append(f"Export.save_dir={save_dir}")
    config = load_config(DIGITS, overrides)
    config["DataLoader"]["Eval"].update(
        dataset={"name": "synthetic", "split": "test", "num_samples": 70, "image_shape": SHAPE, "num_classes": 3},
        transforms=NORMALIZE)
    return config


def _model(config):
    """The eval-mode model ``config`` exports (its weights, its layout)."""
    model = ppnorm.build_model("simple_cnn", in_channels=3, num_classes=3, widths=[4], convs_per_stage=1,
                               data_format=config["Arch"]["data_format"])
    model.set_state_dict(paddle.load(config["Global"]["pretrained_model"] + ".pdparams"))
    model.eval()
    return model


def _eval_images(count=X.CHECK_IMAGES, split="test"):
    """The first eval (or train) images, normalized, NCHW."""
    from ppnorm.data import build_dataset
    data = build_dataset({"name": "synthetic", "split": split, "num_samples": 70, "image_shape": SHAPE,
                          "num_classes": 3})
    images = np.stack([data[i][0] for i in range(count)])
    mean, std = (np.array(NORMALIZE[0]["Normalize"][key], "float32")[:, None, None] for key in ("mean", "std"))
    return (images - mean) / std


def _read_yml(directory):
    text = (directory / "inference.yml").read_text(encoding="utf-8")
    assert text.startswith(X.EXPORT_MARK + "\n")
    return yaml.safe_load(text)


@pytest.mark.parametrize("layout, shape", [("NCHW", SHAPE), ("NHWC", [6, 4, 3])])
def test_export_model_writes_a_verified_model_and_says_its_layout_and_channels(tmp_path, layout, shape):
    target = tmp_path / "exported"
    config = _config(tmp_path, layout, save_dir=target)
    lines = []
    summary = X.export_model(config, log=lines.append)
    assert summary == {"save_dir": str(target), "folded": 1, "max_abs_diff": summary["max_abs_diff"],
                       "onnx_max_abs_diff": None}
    assert 0 <= summary["max_abs_diff"] <= 1e-5
    assert sorted(os.listdir(target)) == ["inference.json", "inference.pdiparams", "inference.yml"]
    assert sorted(os.listdir(tmp_path)) == ["exported", "w.pdparams"]  # no staging or run directory left
    description = _read_yml(target)
    assert description == {
        "arch": dict(config["Arch"]), "weights": str(tmp_path / "w"), "format": "paddle", "data_format": layout,
        "input_kind": "image", "input_shape": shape, "channels": 3, "transforms": NORMALIZE,
        "classes": ["0", "1", "2"], "topk": config["Metric"]["topk"], "folded_batch_norms": 1,
        "max_abs_diff": summary["max_abs_diff"]}
    assert lines[0] == "[Export] folded 1 BatchNorm layer(s) into the preceding conv"
    assert lines[1].startswith("[Export] paddle.inference (oneDNN) vs the unfolded eval-mode model on 64 eval images")
    assert lines[2].startswith(f"[Export] saved to {target}; run it with: ")
    assert lines[2].endswith(f"/infer.py --model_dir {target} --input <images>") and len(lines) == 3
    # the exported graph gives the eval-mode model's logits on other images and batch sizes
    model = _model(config)
    images = _eval_images(5)
    if layout == "NHWC":
        images = images.transpose(0, 2, 3, 1)
    images = np.ascontiguousarray(images)
    expected = model(paddle.to_tensor(images)).numpy()
    np.testing.assert_allclose(Predictor(str(target))(images), expected, atol=1e-5)


def test_export_model_defaults_to_the_runs_inference_folder_and_logs_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)
    config["Global"]["output_dir"] = "run"
    lines = []
    summary = X.export_model(config, log=lines.append)
    assert summary["save_dir"] == str(tmp_path / "run" / "inference")
    assert sorted(os.listdir(tmp_path / "run" / "inference"))[-1] == "inference.yml"
    assert lines[-1].startswith(f"[Export] saved to {os.path.join('run', 'inference')}; run it with: ")
    assert lines[-1].endswith(f" --model_dir {os.path.join('run', 'inference')} --input <images>")


def test_a_second_export_replaces_the_first_and_no_fold_is_described(tmp_path):
    target = tmp_path / "exported"
    X.export_model(_config(tmp_path, save_dir=target), log=[].append)
    first = (target / "inference.pdiparams").read_bytes()
    config = _config(tmp_path, save_dir=target)
    config["Export"]["fuse_bn"] = False
    summary = X.export_model(config, log=[].append)
    assert summary["folded"] == 0 and _read_yml(target)["folded_batch_norms"] == 0
    assert (target / "inference.pdiparams").read_bytes() != first  # unfolded: the norm's own tensors are saved
    assert sorted(os.listdir(tmp_path)) == ["exported", "w.pdparams"]


def test_nan_logits_are_refused_and_nothing_is_written(tmp_path):
    target = tmp_path / "exported"
    with pytest.raises(X.ExportError, match=r"differ from the trained model's by nan > Export.tolerance=0.0001; "
                                            r"nothing was written to "):
        X.export_model(_config(tmp_path, save_dir=target, nan=True), log=[].append)
    assert sorted(os.listdir(tmp_path)) == ["nan.pdparams"]


def test_a_fold_that_changes_the_logits_keeps_the_previous_export(tmp_path, monkeypatch):
    target = tmp_path / "exported"
    X.export_model(_config(tmp_path, save_dir=target), log=[].append)
    before = {name: (target / name).read_bytes() for name in os.listdir(target)}
    fuse = X.fuse_conv_bn

    def broken(model, x):
        pairs = fuse(model, x)
        model.fc.bias.set_value(model.fc.bias + 0.01)
        return pairs
    monkeypatch.setattr(X, "fuse_conv_bn", broken)
    config = _config(tmp_path, save_dir=target)
    with pytest.raises(X.ExportError, match=r"by 0.01 > Export.tolerance=0.0001; nothing was written to "
                                            + str(target) + "$"):
        X.export_model(config, log=[].append)
    config["Export"]["tolerance"] = 0.02  # within a looser tolerance it passes
    assert X.export_model(config, log=[].append)["max_abs_diff"] == pytest.approx(0.01, rel=1e-3)
    assert {name: (target / name).read_bytes() for name in os.listdir(target)} != before
    assert sorted(os.listdir(tmp_path)) == ["exported", "w.pdparams"]


def test_a_failed_describe_leaves_no_staging_directory(tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise RuntimeError("describe failed")
    monkeypatch.setattr(X, "describe", failing)
    with pytest.raises(RuntimeError, match="describe failed"):
        X.export_model(_config(tmp_path, save_dir=tmp_path / "exported"), log=[].append)
    assert sorted(os.listdir(tmp_path)) == ["w.pdparams"]


def test_a_foreign_target_is_refused_before_any_data_is_read(tmp_path, monkeypatch):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    monkeypatch.setattr(X, "reference", lambda *a: pytest.fail("read data before checking the target"))
    with pytest.raises(X.ExportError, match="is an existing directory that no export wrote"):
        X.export_model(_config(tmp_path, save_dir=tmp_path / "other"), log=[].append)
    config = _config(tmp_path, save_dir=tmp_path / "inside")
    config["DataLoader"]["Eval"]["dataset"] = {"name": "image_folder", "root": str(tmp_path)}
    from ppnorm.data import DataError
    with pytest.raises(DataError, match=r"^Export.save_dir=.*/inside is inside DataLoader.Eval.dataset.root"):
        X.export_model(config, log=[].append)
    assert sorted(os.listdir(tmp_path)) == ["other", "w.pdparams"]


def test_onnx_needs_its_extra_before_the_data_is_read(tmp_path, monkeypatch):
    asked, reference = [], X.reference

    def missing(flag):
        asked.append(flag)
        raise X.ExportError("no onnx")
    monkeypatch.setattr(X, "require_extra", missing)
    monkeypatch.setattr(X, "reference", lambda *a: pytest.fail("read data before checking the extra"))
    with pytest.raises(X.ExportError, match="no onnx"):
        X.export_model(_config(tmp_path, extra=["Export.format=onnx"]), log=[].append)
    assert asked == ["Export.format=onnx (--format onnx)"]
    monkeypatch.setattr(X, "reference", reference)
    X.export_model(_config(tmp_path, save_dir=tmp_path / "plain"), log=[].append)  # paddle: the extra is not asked
    assert len(asked) == 1


def test_an_onnx_export_is_converted_verified_and_described(tmp_path):
    pytest.importorskip("paddle2onnx")
    pytest.importorskip("onnxruntime")
    target = tmp_path / "onnx"
    lines = []
    summary = X.export_model(_config(tmp_path, save_dir=target, extra=["Export.format=onnx"]), log=lines.append)
    assert 0 <= summary["onnx_max_abs_diff"] <= 1e-5
    assert sorted(os.listdir(target)) == ["inference.json", "inference.pdiparams", "inference.yml", "model.onnx"]
    description = _read_yml(target)
    assert description["format"] == "onnx" and description["onnx_max_abs_diff"] == summary["onnx_max_abs_diff"]
    assert lines[2].startswith("[Export] onnxruntime (model.onnx, opset ")
    assert lines[-1].endswith(f" --model_dir {target} --backend onnxruntime --input <images>")


def test_export_stages_with_room_for_twice_the_weights(tmp_path, monkeypatch):
    needed = []
    stage = X.stage

    def recording(save_dir, needed_bytes=0):
        needed.append((save_dir, needed_bytes))
        return stage(save_dir, needed_bytes)
    monkeypatch.setattr(X, "stage", recording)
    X.export_model(_config(tmp_path, save_dir=tmp_path / "exported"), log=[].append)
    model = ppnorm.build_model("simple_cnn", in_channels=3, num_classes=3, widths=[4], convs_per_stage=1)
    assert needed == [(str(tmp_path / "exported"), 2 * X.weight_bytes(model) + 2**20)]


# --- the steps on their own -----------------------------------------------------------------------------------------

def test_reference_gives_the_eval_mode_logits_of_the_first_eval_images(tmp_path, capsys):
    config = _config(tmp_path, "NHWC")
    model, images, logits, data = X.reference(config, "NHWC")
    assert not model.training and data.dataset.classes == ["0", "1", "2"] and len(data.dataset) == 70
    assert images.shape == [64, 6, 4, 3]
    np.testing.assert_allclose(images.numpy(), _eval_images().transpose(0, 2, 3, 1), rtol=1e-6)
    with paddle.no_grad():
        np.testing.assert_array_equal(logits, model(images).numpy())
    model.train()
    assert np.abs(model(images).numpy() - logits).max() > 1e-3  # train mode would give other logits
    assert "eval" in capsys.readouterr().out


def test_save_for_inference_folds_a_copy_and_keeps_the_batch_dynamic(tmp_path):
    model = ppnorm.build_model("simple_cnn", in_channels=3, num_classes=3, widths=[4], convs_per_stage=1)
    paddle.seed(3)
    model.features[0].norm._mean.set_value(np.full([4], 0.3, "float32"))
    model.train()
    example = paddle.to_tensor(_eval_images(2))
    pairs = X.save_for_inference(model, example, str(tmp_path))
    assert pairs == [("features.0.conv", "features.0.norm")] and model.training
    assert "norm" in dict(model.features[0].named_children())  # the model itself is not folded
    model.eval()
    images = _eval_images(7)
    np.testing.assert_allclose(Predictor(str(tmp_path))(images), model(paddle.to_tensor(images)).numpy(), atol=1e-5)
    assert X.save_for_inference(model, example, str(tmp_path / "plain"), fuse_bn=False) == []


def test_save_for_inference_keeps_the_length_of_sequences_dynamic(tmp_path):
    model = ppnorm.build_model("seq_conv1d", in_channels=2, num_classes=4, widths=[4], norm="bn", mask_channel=True)
    model.eval()

    def batch(length):
        rng = np.random.default_rng(length)
        x = rng.standard_normal((3, 2, length)).astype("float32")
        x[:, -1] = 1.0
        return x
    assert X.save_for_inference(model, paddle.to_tensor(batch(10)), str(tmp_path)) == [("convs.0", "norms.0")]
    for length in (10, 17):
        np.testing.assert_allclose(Predictor(str(tmp_path))(batch(length)),
                                   model(paddle.to_tensor(batch(length))).numpy(), atol=1e-5)


def test_a_sequence_export_describes_sequences_and_asks_for_npy(tmp_path):
    paddle.seed(0)
    model = ppnorm.build_model("seq_conv1d", in_channels=2, num_classes=4, widths=[4], mask_channel=True)
    paddle.save(model.state_dict(), str(tmp_path / "seq.pdparams"))
    target = tmp_path / "exported"
    config = load_config(SEQUENCE, [f"Global.output_dir={tmp_path / 'run'}", "Arch.widths=[4]",
                                    f"Global.pretrained_model={tmp_path / 'seq'}", f"Export.save_dir={target}",
                                    "DataLoader.Eval.dataset.num_samples=70"])
    lines = []
    X.export_model(config, log=lines.append)
    description = _read_yml(target)
    assert (description["input_kind"], description["input_shape"], description["channels"]) == ("sequence+mask",
                                                                                               [2, 40], 2)
    assert lines[-1].endswith(f" --model_dir {target} --input <sequences.npy>")


class _Staged:
    """Stands for a predictor class: records how it was built and returns set logits."""
    made = []

    def __init__(self, logits):
        self.logits = logits

    def __call__(self, directory, **options):
        _Staged.made.append((directory, options))
        return lambda images: self.logits


def test_check_staged_verifies_with_onednn_and_converts_only_for_onnx(tmp_path, monkeypatch):
    logits = np.array([[1.0, 2.0]], "float32")
    _Staged.made = []
    monkeypatch.setattr(X, "Predictor", _Staged(logits + 1e-3))
    converted = []
    monkeypatch.setattr(X, "convert", lambda *args: converted.append(args) or 13)
    monkeypatch.setattr(X, "OnnxPredictor", lambda directory: (lambda images: logits + 2e-3))
    monkeypatch.setattr(X, "model_files", lambda staging: (staging + "/g", staging + "/p"))
    images = paddle.zeros([1, 2])
    lines = []
    diffs = X.check_staged("/s", images, logits, {"tolerance": 0.01}, "/out", log=lines.append)
    assert diffs == {"paddle": pytest.approx(1e-3, rel=1e-3)} and converted == []
    assert _Staged.made == [("/s", {"use_onednn": True})]
    diffs = X.check_staged("/s", images, logits, {"tolerance": 0.01, "format": "onnx"}, "/out", log=lines.append)
    assert diffs == {"paddle": pytest.approx(1e-3, rel=1e-3), "onnx": pytest.approx(2e-3, rel=1e-3)}
    assert converted == [("/s/g", "/s/p", os.path.join("/s", "model.onnx"))]
    assert lines[-1].startswith("[Export] onnxruntime (model.onnx, opset 13) vs ")
    with pytest.raises(X.ExportError, match=r"\(onnxruntime \(model.onnx, opset 13\)\) differ .* by 0.002 > "
                                            r"Export.tolerance=0.0015; nothing was written to /out"):
        X.check_staged("/s", images, logits, {"tolerance": 0.0015, "format": "onnx"}, "/out", log=lines.append)
    with pytest.raises(X.ExportError, match=r"\(paddle.inference \(oneDNN\)\) differ .* by 0.001 > "
                                            r"Export.tolerance=0.0005; nothing was written to /out"):
        X.check_staged("/s", images, logits, {"tolerance": 0.0005, "format": "onnx"}, "/out", log=lines.append)


@pytest.mark.slow
@pytest.mark.e2e
def test_an_nhwc_export_runs_through_tools_infer(tmp_path):
    target = tmp_path / "nhwc"
    config = _config(tmp_path, "NHWC", save_dir=target)
    X.export_model(config, log=[].append)
    from ppnorm.data import build_dataset
    data = build_dataset({"name": "synthetic", "split": "test", "num_samples": 70, "image_shape": SHAPE,
                          "num_classes": 3})
    raw = np.stack([data[i][0] for i in range(6)])  # [6, 3, 6, 4] in [0, 1]: infer normalizes them
    np.save(tmp_path / "six.npy", raw)
    model = _model(config)
    expected = model(paddle.to_tensor(np.ascontiguousarray(_eval_images(6).transpose(0, 2, 3, 1)))).numpy()
    done = run_tool("infer", "--model_dir", target, "--input", tmp_path / "six.npy", "--topk", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith(str(tmp_path / "six.npy"))]
    printed = np.zeros((len(rows), 3))
    for row, text in zip(printed, rows):  # "1 (0.731), 2 (0.201), 0 (0.068)"
        for item in text.split(", "):
            name, probability = item.split(" (")
            row[int(name)] = float(probability.rstrip(")"))
    probabilities = np.exp(expected - expected.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(printed, probabilities, atol=6e-4)
    assert np.ptp(probabilities, axis=0).max() > 0.01  # the predictions depend on the image


# --- kills of the first mutation run with these tests ----------------------------------------------------------------

def test_save_for_inference_leaves_the_trained_model_untouched(tmp_path):
    model = ppnorm.build_model("simple_cnn", in_channels=3, num_classes=3, widths=[4], convs_per_stage=1)
    model.features[0].norm._mean.set_value(np.full([4], 0.3, "float32"))
    model.train()
    before = {name: value.numpy().copy() for name, value in model.state_dict().items()}
    X.save_for_inference(model, paddle.to_tensor(_eval_images(2)), str(tmp_path))
    assert all(layer.training for layer in model.sublayers(include_self=True))
    after = model.state_dict()
    assert sorted(after) == sorted(before)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name].numpy(), value, err_msg=name)


@pytest.mark.parametrize("kind", ["image", "sequence"])
def test_the_saved_graph_takes_one_float32_input_x_with_a_free_batch_and_length(tmp_path, kind):
    if kind == "image":
        model = ppnorm.build_model("simple_cnn", in_channels=3, num_classes=3, widths=[4], convs_per_stage=1)
        example, shape = paddle.to_tensor(_eval_images(2)), [-1, 3, 6, 4]
    else:
        model = ppnorm.build_model("seq_conv1d", in_channels=2, num_classes=4, widths=[4], mask_channel=True)
        example, shape = paddle.ones([2, 2, 10]), [-1, 2, -1]
    X.save_for_inference(model, example, str(tmp_path))
    [spec] = paddle.jit.load(str(tmp_path / "inference"))._input_spec()
    assert (list(spec.shape), spec.dtype, spec.name) == (shape, paddle.float32, "x")


def _image_folder(root):
    """Two classes with Chinese names, two 6x4 RGB images each."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for name in ("猫", "狗"):
        (root / name).mkdir(parents=True)
        for index in range(2):
            Image.fromarray(rng.integers(0, 256, (6, 4, 3), dtype="uint8")).save(root / name / f"{index}.png")
    return root


def test_an_image_folder_export_keeps_the_trained_class_order_and_writes_names_as_text(tmp_path, capsys):
    data = _image_folder(tmp_path / "data")
    target = tmp_path / "exported"
    config = _config(tmp_path, save_dir=target, extra=["Global.class_names=[猫, 狗, 鸟]"])
    config["DataLoader"]["Eval"]["dataset"] = {"name": "image_folder", "root": str(data)}
    X.export_model(config, log=[].append)
    assert f"[Data] image_folder eval ({data}): 2 classes (狗, 猫), 4 images" in capsys.readouterr().out.splitlines()
    text = (target / "inference.yml").read_text(encoding="utf-8")
    assert "- 猫\n- 狗\n- 鸟\n" in text  # the trained order, readable
    description = yaml.safe_load(text)
    assert description["classes"] == ["猫", "狗", "鸟"]
    assert list(description) == ["arch", "weights", "format", "data_format", "input_kind", "input_shape", "channels",
                                 "transforms", "classes", "topk", "folded_batch_norms", "max_abs_diff"]


def test_export_loads_the_whole_trained_model_even_with_pretrained_skip(tmp_path):
    target = tmp_path / "exported"
    config = _config(tmp_path, save_dir=target, extra=["Global.pretrained_skip=[fc]"])
    X.export_model(config, log=[].append)
    images = _eval_images(4)
    np.testing.assert_allclose(Predictor(str(target))(images), _model(config)(paddle.to_tensor(images)).numpy(),
                               atol=1e-5)


def test_errors_in_the_eval_data_name_the_eval_section(tmp_path):
    config = _config(tmp_path)
    config["Arch"]["num_classes"] = 2
    with pytest.raises(Exception, match=r"^Arch.num_classes=2 but DataLoader.Eval.dataset has labels up to 2"):
        X.reference(config, "NCHW")
    config = _config(tmp_path)
    config["DataLoader"]["Eval"]["transforms"] = [{"CenterCrop": {"size": 9}}]
    with pytest.raises(Exception, match=r"^DataLoader.Eval.dataset: sample 0: CenterCrop: size 9x9 is larger"):
        X.reference(config, "NCHW")


def test_the_checked_batch_draws_random_eval_transforms_from_the_configs_seed(tmp_path):
    from ppnorm.data import build_dataloader
    config = _config(tmp_path, extra=["Global.seed=3"])
    config["DataLoader"]["Eval"]["transforms"] = ["RandomHorizontalFlip"]
    _, images, _, _ = X.reference(config, "NCHW")
    section = dict(config["DataLoader"]["Eval"], batch_size=X.CHECK_IMAGES)
    for seed, same in ((3, True), (0, False)):
        loader, _, _ = build_dataloader(section, seed, where="DataLoader.Eval")
        assert np.array_equal(next(iter(loader))[0].numpy(), images.numpy()) is same
