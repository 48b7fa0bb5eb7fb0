"""Bad inputs found by an adversarial pass over the real tools: each must end in one `error:` line, exit 2."""
import os
import subprocess

import pytest
from helpers import assert_says, error_line, run_tool


def _tool(tool, *args):
    return run_tool(tool, *args, timeout=600)  # a training on a shared 2-core machine


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "afile"
    path.write_text("keep")
    return path


@pytest.mark.slow
@pytest.mark.e2e
def test_experiment_output_dir_that_is_a_file(a_file):
    result = _tool("experiment", "-c", "configs/experiments/batchnorm_basics.yaml",
                   "--output_dir", str(a_file))
    line = error_line(result, "output_dir", str(a_file), "cannot be used for writing")
    assert "this is a bug" not in line
    assert a_file.read_text() == "keep"


@pytest.mark.slow
@pytest.mark.e2e
def test_benchmark_output_dir_that_is_a_file_fails_before_timing(a_file):
    result = _tool("benchmark", "--models", "resnet20", "--repeats", "1", "--no_memory",
                   "--loader_config", "none", "--output_dir", str(a_file))
    error_line(result, "--output_dir", "cannot be used for writing")
    assert a_file.read_text() == "keep"


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("flag", ["--batch_sizes", "--image_size"])
def test_benchmark_sizes_must_be_positive(flag):
    result = _tool("benchmark", "--models", "resnet20", flag, "0", "--output_dir", "/nonexistent/never")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr  # argparse: usage, then the line
    assert result.stderr.splitlines()[-1] == f"benchmark.py: error: argument {flag}: expected an integer >= 1, got 0"


@pytest.mark.slow
@pytest.mark.e2e
def test_resume_from_a_truncated_pdparams_says_damaged(tmp_path):
    run_dir = tmp_path / "run"
    result = _tool("train", "-c", "configs/digits/resnet20.yaml", "-o", "Global.epochs=1",
                   "Global.use_visualdl=false", "DataLoader.Train.batch_size=256",
                   f"Global.output_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    weights = run_dir / "latest.pdparams"
    weights.write_bytes(weights.read_bytes()[:100])
    result = _tool("train", "-c", "configs/digits/resnet20.yaml", "-o", "Global.epochs=2",
                   "Global.use_visualdl=false", f"Global.output_dir={tmp_path / 'resumed'}",
                   f"Global.checkpoints={run_dir / 'latest'}")
    error_line(result, str(weights), "does not belong to", "truncated, damaged")


@pytest.fixture
def full_disk(tmp_path):
    """A 400 KiB tmpfs: room for the config and the log, not for a ResNet-20 checkpoint (root only)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount_point)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (a full disk is simulated in test_checkpoint.py)")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], capture_output=True)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_full_disk_while_saving_is_one_line_and_leaves_no_temporary_file(full_disk):
    result = _tool("train", "-c", "configs/digits/resnet20.yaml", "-o", "Global.epochs=1",
                   "Global.use_visualdl=false", "DataLoader.Train.batch_size=256",
                   f"Global.output_dir={full_disk / 'run'}")
    error_line(result, "cannot write checkpoint", "No space left on device", str(full_disk / "run"))
    left = sorted(name for _, _, names in os.walk(full_disk) for name in names)
    assert not any(name.endswith(".tmp") or ".pd" in name for name in left), left


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 1-epoch digits ResNet-20 run directory (latest + best_model), shared by the tests below."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = _tool("train", "-c", "configs/digits/resnet20.yaml", "-o", "Global.epochs=1",
                   "Global.use_visualdl=false", "DataLoader.Train.batch_size=256",
                   f"Global.output_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.mark.slow
@pytest.mark.e2e
def test_export_onto_a_full_disk_is_one_line_before_anything_is_written(trained_run, full_disk):
    result = _tool("export", "-c", "configs/digits/resnet20.yaml", "-o",
                   f"Global.pretrained_model={trained_run / 'latest'}", f"Export.save_dir={full_disk / 'exp'}")
    error_line(result, f"Export.save_dir={full_disk / 'exp'}", "MiB free", "needs about")
    assert os.listdir(full_disk) == []


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("tool", ["eval", "export"])
def test_weights_with_nan_batchnorm_statistics_are_refused_by_eval_and_export(tmp_path, trained_run, tool):
    import paddle
    state = paddle.load(str(trained_run / "latest.pdparams"))
    state["bn1._mean"] = state["bn1._mean"] * float("nan")  # what a run fed a NaN pixel used to save
    paddle.save(state, str(tmp_path / "nan.pdparams"))
    result = _tool(tool, "-c", "configs/digits/resnet20.yaml", "-o", f"Global.pretrained_model={tmp_path / 'nan'}",
                   f"Export.save_dir={tmp_path / 'exp'}")
    error_line(result, str(tmp_path / "nan.pdparams"), "bn1._mean holds 16 NaN/Inf value(s) of 16")
    assert sorted(os.listdir(tmp_path)) == ["nan.pdparams"]  # export wrote nothing


@pytest.mark.slow
@pytest.mark.e2e
def test_the_sequence_model_on_an_image_data_set_is_one_line(tmp_path):
    result = _tool("train", "-c", "configs/digits/resnet20.yaml", "-o", "Arch.name=seq_conv1d",
                   "Global.epochs=1", "Global.use_visualdl=false", f"Global.output_dir={tmp_path / 'run'}")
    assert_says(error_line(result), "Arch.name=seq_conv1d ", "DataLoader.Train.dataset ", "images [C, H, W]",
                "waveforms")
    assert not (tmp_path / "run").exists()  # refused before training: no folder made
