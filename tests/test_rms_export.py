"""An rms model through tools/export.py and tools/infer.py: paddle.inference with oneDNN must give the trained
model's logits (its float64 broadcasts did not: the export was refused with a difference of ~1e10)."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

import ppnorm
import ppnorm.nn.functional
from ppnorm.deploy.export import save_for_inference
from ppnorm.deploy.predictor import Predictor
from ppnorm.nn import build_norm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCH = dict(name="simple_cnn", in_channels=1, num_classes=10, widths=[4], convs_per_stage=1, norm="rms")


def _tool(name, *args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", f"{name}.py"), *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_rms_norm_under_paddle_inference_with_onednn_gives_the_dygraph_output(tmp_path, layout):
    paddle.seed(0)
    norm = build_norm("rms", 4, data_format=layout)
    norm.bias.set_value(paddle.to_tensor([0.5, -1.0, 2.0, 0.0]))
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 6) if layout == "NCHW" else (3, 5, 6, 4)) * 3 + 1
    x = paddle.to_tensor(x.astype("float32"))
    save_for_inference(norm, x, str(tmp_path))
    for onednn in (True, False):
        np.testing.assert_allclose(Predictor(str(tmp_path), use_onednn=onednn)(x.numpy()), norm(x).numpy(),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_an_rms_model_exports_verified_and_infers_its_logits(tmp_path):
    paddle.seed(3)
    model = ppnorm.build_model(dict(ARCH))
    model.eval()
    paddle.save(model.state_dict(), str(tmp_path / "w.pdparams"))
    arch = [f"Arch.{key}={value}".replace("'", "") for key, value in ARCH.items()]
    done = _tool("export", "-c", "digits/resnet20", "-o", "Arch={_delete_: true, name: simple_cnn}", *arch,
                 f"Global.pretrained_model={tmp_path / 'w'}", "--output_dir", tmp_path / "inf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    images = np.random.default_rng(0).random((4, 1, 8, 8)).astype("float32")
    np.save(tmp_path / "four.npy", images)
    done = _tool("infer", "--model_dir", tmp_path / "inf", "--input", tmp_path / "four.npy", "--topk", "1",
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    assert sum(line.startswith(str(tmp_path / "four.npy")) for line in done.stdout.splitlines()) == 4


def test_rms_norm_of_a_bfloat16_input_keeps_its_dtype_far_beyond_its_square_range():
    x = paddle.to_tensor(np.full([2, 3, 4, 4], 1000.0, dtype="float32")).astype("bfloat16")  # mean square 1e6
    y = ppnorm.nn.functional.rms_norm(x)
    assert y.dtype == x.dtype
    np.testing.assert_allclose(y.astype("float32").numpy(), 1.0, rtol=1e-2)
