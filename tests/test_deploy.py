"""BatchNorm folding, tools/export.py and tools/infer.py end to end, CPU threads."""
import copy
import os

import numpy as np
import paddle
import paddle.nn as nn
import pytest
import yaml
from PIL import Image

import ppnorm
from ppnorm.compat import set_training_mode
from ppnorm.engine import Trainer, load_config
from ppnorm.engine.cli import eval_main
from ppnorm.engine.threads import resolve_cpu_threads
from ppnorm.data import build_dataset
from ppnorm.deploy.cli import export_main, infer_main
from ppnorm.deploy.export import save_for_inference
from ppnorm.deploy.predictor import Predictor, PredictorError, cpu_supports_bf16
from ppnorm.nn import is_batch_norm
from ppnorm.nn.fuse import ChannelBias, fold_batch_norm, fuse_conv_bn

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

DIGITS = "configs/digits/resnet20.yaml"


def _randomize_batch_norms(model):
    """Non-trivial running statistics and affine parameters, so folding has something to get wrong."""
    for layer in model.sublayers():
        if is_batch_norm(layer):
            shape = layer._mean.shape
            layer._mean.set_value(paddle.randn(shape) * 0.2)
            layer._variance.set_value(paddle.rand(shape) + 0.5)
            layer.weight.set_value(paddle.rand(shape) + 0.5)
            layer.bias.set_value(paddle.randn(shape) * 0.2)
    return set_training_mode(model, False)


def _fused_copy(model, x):
    fused = copy.deepcopy(model)
    return fused, fuse_conv_bn(fused, x)


def test_fold_batch_norm_matches_the_formula_with_and_without_conv_bias():
    for bias in (False, None):  # bias_attr=False: no bias yet; None: a conv bias exists
        conv = nn.Conv2D(3, 4, 3, padding=1, bias_attr=bias)
        norm = _randomize_batch_norms(nn.BatchNorm2D(4, epsilon=1e-3))
        x = paddle.randn([2, 3, 5, 5])
        expected = norm(conv(x)).numpy()
        scale = norm.weight.numpy() / np.sqrt(norm._variance.numpy() + 1e-3)
        conv_bias = conv.bias.numpy() if conv.bias is not None else 0.0
        w_expected = conv.weight.numpy() * scale[:, None, None, None]
        b_expected = (conv_bias - norm._mean.numpy()) * scale + norm.bias.numpy()
        fold_batch_norm(conv, norm)
        np.testing.assert_allclose(conv.weight.numpy(), w_expected, rtol=1e-6)
        np.testing.assert_allclose(conv.bias.numpy(), b_expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(conv(x).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_channels_last_fold_moves_the_bias_out_of_the_conv(dtype):
    conv = nn.Conv2D(3, 4, 3, padding=1, data_format="NHWC")
    norm = _randomize_batch_norms(nn.BatchNorm2D(4, data_format="NHWC"))
    conv.to(dtype=dtype)
    norm.to(dtype=dtype)
    x = paddle.randn([2, 5, 5, 3]).astype(dtype)
    expected = norm(conv(x)).numpy()
    replacement = fold_batch_norm(conv, norm)
    assert type(replacement) is ChannelBias and conv.bias is None  # oneDNN refuses a [1, 1, 1, C] conv bias
    assert str(replacement.bias.dtype) == f"paddle.{dtype}" and replacement.bias.shape == [4]
    np.testing.assert_allclose(replacement(conv(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_folded_bias_created_for_a_float64_conv_is_float64():
    conv = nn.Conv2D(3, 4, 3, padding=1, bias_attr=False)
    norm = _randomize_batch_norms(nn.BatchNorm2D(4))
    conv.to(dtype="float64")
    norm.to(dtype="float64")
    x = paddle.randn([2, 3, 5, 5]).astype("float64")
    expected = norm(conv(x)).numpy()
    assert type(fold_batch_norm(conv, norm)) is nn.Identity
    assert str(conv.bias.dtype) == "paddle.float64"
    np.testing.assert_allclose(conv(x).numpy(), expected, rtol=1e-10, atol=1e-10)


class _SmallNet(nn.Layer):
    """conv (non-zero bias) -> BN without affine -> ReLU -> conv -> BN -> pool -> fc, in either layout."""

    def __init__(self, data_format):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 4, 3, padding=1, data_format=data_format)
        self.bn1 = nn.BatchNorm2D(4, weight_attr=False, bias_attr=False, data_format=data_format)
        self.conv2 = nn.Conv2D(4, 5, 3, padding=1, bias_attr=False, data_format=data_format)
        self.bn2 = nn.BatchNorm2D(5, data_format=data_format)
        self.pool = nn.AdaptiveAvgPool2D(1, data_format=data_format)
        self.fc = nn.Linear(5, 3)
        self.conv1.bias.set_value(paddle.to_tensor([0.5, -1.0, 2.0, 0.25]))

    def forward(self, x):
        x = self.bn2(self.conv2(nn.functional.relu(self.bn1(self.conv1(x)))))
        return self.fc(self.pool(x).flatten(1))


@pytest.mark.parametrize("data_format, shape", [("NCHW", [2, 3, 6, 6]), ("NHWC", [2, 6, 6, 3])])
def test_folding_a_biased_conv_and_a_norm_without_affine_keeps_the_logits(data_format, shape, tmp_path):
    paddle.seed(3)
    model = _SmallNet(data_format)
    assert model.bn1.weight is None and model.bn1.bias is None
    for norm in (model.bn1, model.bn2):
        norm._mean.set_value(paddle.randn(norm._mean.shape))
        norm._variance.set_value(paddle.rand(norm._variance.shape) + 0.5)
    model.bn2.weight.set_value(paddle.rand([5]) + 0.5)
    model.bn2.bias.set_value(paddle.randn([5]))
    x = paddle.randn(shape)
    model.eval()
    expected = model(x).numpy()
    model.train()  # fusing must use the running statistics and leave the model in eval mode
    folded = fuse_conv_bn(model, x)
    assert folded == [("conv1", "bn1"), ("conv2", "bn2")]
    assert not model.training and not any(layer.training for layer in model.sublayers())
    assert not any(is_batch_norm(layer) for layer in model.sublayers())
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert np.abs(expected).max() > 1.0  # the biases and statistics matter for these logits
    save_for_inference(model, x, str(tmp_path))  # oneDNN once refused the NHWC fold's [1, 1, 1, C] bias
    np.testing.assert_allclose(Predictor(str(tmp_path))(x.numpy()), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, options, shape, pairs", [
    ("resnet20", {}, [2, 3, 16, 16], 21),            # conv1 + 9 blocks x 2 + 2 projection shortcuts
    ("resnet20", {"data_format": "NHWC"}, [2, 16, 16, 3], 21),
    ("resnet50", {"num_classes": 10}, [1, 3, 64, 64], 53),
    ("densenet121", {"num_classes": 10}, [1, 3, 64, 64], 59),  # stem + the 58 norms after a 1x1 bottleneck
    ("densenet_small", {}, [2, 3, 16, 16], 1),       # pre-activation without bottleneck: only the stem folds
])
@pytest.mark.slow
def test_fusing_keeps_eval_outputs_and_removes_the_folded_norms(name, options, shape, pairs):
    model = _randomize_batch_norms(ppnorm.build_model(name, **options))
    x = paddle.randn(shape)
    before = sum(is_batch_norm(layer) for layer in model.sublayers())
    fused, folded = _fused_copy(model, x)
    after = sum(is_batch_norm(layer) for layer in fused.sublayers())
    assert len(folded) == pairs and after == before - pairs
    reference = model(x).numpy()
    np.testing.assert_allclose(fused(x).numpy(), reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())
    assert sum(is_batch_norm(layer) for layer in model.sublayers()) == before  # the original is untouched


def test_norms_that_use_each_input_s_statistics_are_never_folded():
    model = set_training_mode(ppnorm.build_model("resnet20", norm="gn", norm_options={"groups": 4}), False)
    x = paddle.randn([2, 3, 8, 8])
    fused, folded = _fused_copy(model, x)
    assert folded == []
    np.testing.assert_array_equal(fused(x).numpy(), model(x).numpy())


def test_a_conv_output_that_also_goes_elsewhere_is_not_folded():
    class Branching(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(2, 2, 1)
            self.norm_a = nn.BatchNorm2D(2)
            self.norm_b = nn.BatchNorm2D(2)

        def forward(self, x):
            y = self.conv(x)
            return self.norm_a(y) + self.norm_b(y)

    model = _randomize_batch_norms(Branching())
    x = paddle.randn([1, 2, 3, 3])
    fused, folded = _fused_copy(model, x)
    assert folded == []
    np.testing.assert_allclose(fused(x).numpy(), model(x).numpy(), rtol=1e-6)


# ------------------------------------------------------------------ export and infer on a trained model
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two quick epochs of resnet20 on digits, exported with BN folded."""
    out = tmp_path_factory.mktemp("deploy") / "run"
    overrides = [f"Global.output_dir={out}", "Global.epochs=2", "Global.use_visualdl=false",
                 "DataLoader.Train.batch_size=128"]
    result = Trainer(load_config(DIGITS, overrides)).train()
    code = export_main(["-c", DIGITS, "-o", *overrides, f"Global.pretrained_model={out / 'best_model'}"])
    assert code == 0
    return out, overrides, result


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_export_writes_a_verified_model_and_its_description(trained):
    out, _, _ = trained
    model_dir = out / "inference"
    assert sorted(os.listdir(model_dir)) == ["inference.json", "inference.pdiparams", "inference.yml"]
    description = yaml.safe_load((model_dir / "inference.yml").read_text())
    assert description["input_shape"] == [1, 8, 8] and description["data_format"] == "NCHW"
    assert description["classes"] == [str(i) for i in range(10)]
    assert description["folded_batch_norms"] == 21
    assert description["max_abs_diff"] <= 1e-4
    assert not [name for name in os.listdir(out) if ".tmp-" in name or ".old-" in name]


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_infer_on_the_eval_split_reproduces_the_training_accuracy(trained, capsys):
    out, overrides, result = trained
    capsys.readouterr()
    assert infer_main(["--model_dir", str(out / "inference"), "-c", DIGITS, "-o", *overrides, "--show", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"[Infer] top1 {result['top1']:.4f} on 360 eval samples")
    assert sum(line.startswith("eval #") for line in lines) == 2


@pytest.mark.slow
def test_infer_on_image_files_and_npy_arrays_predicts_like_the_dygraph_model(trained, tmp_path, capsys):
    out, overrides, _ = trained
    config = load_config(DIGITS, overrides + [f"Global.pretrained_model={out / 'best_model'}"])
    from ppnorm.engine.builder import model_from_config
    data = build_dataset({"name": "digits", "split": "test"})
    model = set_training_mode(model_from_config(config, data), False)
    images = np.stack([data[i][0] for i in range(4)])  # [4, 1, 8, 8] in [0, 1]
    np.save(tmp_path / "four.npy", images)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(2):  # 8-bit PNGs: the same images up to rounding
        Image.fromarray(np.round(images[i, 0] * 255).astype("uint8")).save(folder / f"img{i}.png")
    normalized = (paddle.to_tensor(images) - 0.3) / 0.37
    expected = model(normalized).numpy().argmax(axis=1)
    capsys.readouterr()
    code = infer_main(["--model_dir", str(out / "inference"), "--input", str(tmp_path / "four.npy"), str(folder),
                       "--topk", "2", "--batch_size", "3"])
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("[")]
    assert len(lines) == 6
    predicted = [int(line.split(": ")[1].split(" ")[0]) for line in lines]
    assert predicted[:4] == list(expected)
    assert predicted[4:] == list(expected[:2])
    assert all(line.count("(") == 2 for line in lines)  # top-2 with probabilities


@pytest.mark.slow
def test_a_failed_export_check_writes_nothing(trained, tmp_path, monkeypatch, capsys):
    out, overrides, _ = trained
    import ppnorm.deploy.export as export

    def broken_fuse(model, x):
        pairs = fuse_conv_bn(model, x)
        model.fc.bias.set_value(model.fc.bias + 1.0)
        return pairs

    monkeypatch.setattr(export, "fuse_conv_bn", broken_fuse)
    target = tmp_path / "exported"
    code = export_main(["-c", DIGITS, "-o", *overrides, f"Global.pretrained_model={out / 'best_model'}",
                        f"Export.save_dir={target}"])
    assert code == 2
    assert "differ from the trained model's by 1" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_export_and_infer_errors_are_one_line(trained, tmp_path, capsys):
    out, overrides, _ = trained
    assert export_main(["-c", DIGITS]) == 2
    assert "export needs weights: add -o Global.pretrained_model=" in capsys.readouterr().err
    assert infer_main(["--model_dir", str(tmp_path), "--input", "x.png"]) == 2
    assert "no exported model" in capsys.readouterr().err
    np.save(tmp_path / "rgb.npy", np.zeros((3, 8, 8), "float32"))
    assert infer_main(["--model_dir", str(out / "inference"), "--input", str(tmp_path / "rgb.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "with C=1, got shape [1, 3, 8, 8]" in err


@pytest.mark.slow
def test_nhwc_model_evaluates_an_nchw_checkpoint_identically(trained, capsys):
    out, overrides, result = trained
    capsys.readouterr()
    code = eval_main(["-c", DIGITS, "-o", *overrides, f"Global.pretrained_model={out / 'best_model'}",
                      "Arch.data_format=NHWC"])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    top1 = float(line.split("top1: ")[1].split(",")[0])
    assert top1 == pytest.approx(result["top1"], abs=5e-6)  # printed with 5 decimals


@pytest.mark.slow
@pytest.mark.oldest_paddle_slow
def test_an_nhwc_model_exports_and_paddle_inference_reproduces_its_accuracy(trained, tmp_path, capsys):
    out, overrides, result = trained
    nhwc = overrides + ["Arch.data_format=NHWC"]
    target = tmp_path / "nhwc"
    code = export_main(["-c", DIGITS, "-o", *nhwc, f"Global.pretrained_model={out / 'best_model'}",
                        f"Export.save_dir={target}"])
    assert code == 0, capsys.readouterr().err
    description = yaml.safe_load((target / "inference.yml").read_text())
    assert description["data_format"] == "NHWC" and description["input_shape"] == [8, 8, 1]
    assert description["folded_batch_norms"] == 21 and description["max_abs_diff"] <= 1e-4
    capsys.readouterr()
    assert infer_main(["--model_dir", str(target), "-c", DIGITS, "-o", *nhwc, "--show", "0"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
        f"[Infer] top1 {result['top1']:.4f} on 360 eval samples")
    mode = os.stat(target).st_mode & 0o777
    umask = os.umask(0o022)
    os.umask(umask)
    assert mode == 0o777 & ~umask  # the usual permissions, not mkdtemp's 0700


def test_cpu_threads_default_to_the_available_cores(monkeypatch):
    import ppnorm.engine.threads as threads
    assert resolve_cpu_threads(3) == (3, "Global.cpu_threads")
    assert resolve_cpu_threads(None, 5) == (5, "OMP_NUM_THREADS")  # the tools pass the user's OMP_NUM_THREADS
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "1")
    assert resolve_cpu_threads(None)[0] == threads.available_cores()


@pytest.mark.slow
@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no avx512_bf16 / amx_bf16 for oneDNN's bf16 kernels")
def test_bf16_inference_agrees_with_fp32(trained):
    out, _, _ = trained
    data = build_dataset({"name": "digits", "split": "test"})
    batch = (np.stack([data[i][0] for i in range(64)]) - 0.3) / 0.37
    fp32 = Predictor(str(out / "inference"))(batch)
    bf16 = Predictor(str(out / "inference"), precision="bf16")(batch)
    assert np.abs(bf16 - fp32).max() < 0.05 * np.abs(fp32).max()  # bf16 keeps 8 bits of mantissa
    assert (bf16.argmax(axis=1) == fp32.argmax(axis=1)).mean() >= 0.95


@pytest.mark.slow
def test_bf16_is_refused_where_it_cannot_run(trained):
    out, _, _ = trained
    with pytest.raises(PredictorError, match="bf16 needs the CPU with oneDNN"):
        Predictor(str(out / "inference"), use_onednn=False, precision="bf16")
