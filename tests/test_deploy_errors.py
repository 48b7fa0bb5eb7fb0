"""Bad input to tools/export.py and tools/infer.py, through the tools' mains: one `error:` line, exit code 2,
no traceback, nothing touched outside the output; plus what infer does with 0-255 and non-finite arrays."""
import os

import numpy as np
import paddle
import pytest
import yaml
from helpers import error_line, run_tool, tree_state

import ppnorm
from ppnorm.data import build_dataset
from ppnorm.deploy.cli import export_main, infer_main
from ppnorm.deploy.export import EXPORT_MARK

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

DIGITS = "configs/digits/resnet20.yaml"


def _fails_cleanly(main, argv, capsys, root, *expected):
    """Run ``main(argv)``: exit 2, exactly one `error:` line holding ``expected``, no traceback, nothing
    under ``root`` changed."""
    before = tree_state(root)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code == 2, captured.err
    assert len(errors) == 1 and "Traceback" not in captured.err + captured.out, captured.err
    assert all(text in errors[0] for text in expected), errors[0]
    assert tree_state(root) == before
    return errors[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Weights of an untrained resnet20 whose BN statistics come from digits (so its predictions depend on the
    input), and their export."""
    root = tmp_path_factory.mktemp("deploy_errors")
    paddle.seed(0)
    model = ppnorm.build_model("resnet20", in_channels=1, num_classes=10)
    model.fc.weight.set_value(model.fc.weight * 5)
    data = build_dataset({"name": "digits", "split": "train"})
    norms = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.BatchNorm2D)]
    for norm in norms:
        norm._momentum = 0.0  # one train-mode pass sets the running statistics to this batch's
    model.train()
    model((paddle.to_tensor(np.stack([data[i][0] for i in range(256)])) - 0.3) / 0.37)
    run = root / "run"
    run.mkdir()
    paddle.save(model.state_dict(), str(run / "best_model.pdparams"))
    overrides = [f"Global.output_dir={run}", "Global.use_visualdl=false", "Export.tolerance=0.01",
                 f"Global.pretrained_model={run / 'best_model'}"]
    assert export_main(["-c", DIGITS, "-o", *overrides]) == 0
    return root, run, overrides


def _export(overrides, *extra):
    return ["-c", DIGITS, "-o", *overrides, *extra]


@pytest.mark.slow
def test_export_refuses_to_replace_a_directory_that_is_not_an_export(exported, capsys):
    root, run, overrides = exported
    _fails_cleanly(export_main, _export(overrides, f"Export.save_dir={run}"), capsys, root,
                   f"Export.save_dir={run}", "no export wrote", "nothing was changed")
    assert (run / "best_model.pdparams").is_file()


@pytest.mark.slow
def test_export_refuses_an_existing_file_and_a_directory_with_foreign_files(exported, tmp_path, capsys):
    root, _, overrides = exported
    target = tmp_path / "model.bin"
    target.write_bytes(b"keep me")
    _fails_cleanly(export_main, _export(overrides, f"Export.save_dir={target}"), capsys, tmp_path,
                   "is an existing file")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "inference.yml").write_text(EXPORT_MARK + "\n{}\n")
    (mixed / "notes.txt").write_text("mine")
    _fails_cleanly(export_main, _export(overrides, f"Export.save_dir={mixed}"), capsys, tmp_path,
                   "does not write (e.g. notes.txt)")
    theirs = tmp_path / "theirs"  # another tool's model folder with the same file names (PaddleX, PaddleClas)
    theirs.mkdir()
    (theirs / "inference.yml").write_text("Global:\n  model_name: PP-LCNet\n")
    (theirs / "inference.json").write_text("{}")
    _fails_cleanly(export_main, _export(overrides, f"Export.save_dir={theirs}"), capsys, tmp_path,
                   "holds an inference.yml that ppnorm's export did not write")
    _fails_cleanly(export_main, _export(overrides, f"Export.save_dir={target / 'inference'}"), capsys, tmp_path,
                   "cannot create a directory in", str(target))


@pytest.mark.slow
def test_export_replaces_a_previous_export_and_leaves_no_temporary_directories(exported, capsys):
    root, run, overrides = exported
    model_dir = run / "inference"
    (model_dir / "inference.yml").write_text(EXPORT_MARK + "\nstale: true\n")
    assert export_main(_export(overrides, f"Export.save_dir={model_dir}")) == 0
    assert "stale" not in (model_dir / "inference.yml").read_text()
    assert sorted(os.listdir(run)) == ["best_model.pdparams", "inference"]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_weights_for_export_are_one_line(exported, tmp_path, capsys, damage):
    _, run, overrides = exported
    data = (run / "best_model.pdparams").read_bytes()
    content = {"truncated": data[:len(data) // 2], "empty": b"", "garbage": os.urandom(4096)}[damage]
    (tmp_path / "weights.pdparams").write_bytes(content)
    argv = _export(overrides, f"Global.pretrained_model={tmp_path / 'weights'}", f"Export.save_dir={tmp_path / 'out'}")
    _fails_cleanly(export_main, argv, capsys, tmp_path, str(tmp_path / "weights.pdparams"))
    assert not (tmp_path / "out").exists()


def _copy_export(run, target):
    target.mkdir()
    for name in os.listdir(run / "inference"):
        (target / name).write_bytes((run / "inference" / name).read_bytes())
    return target


@pytest.mark.parametrize("file, content, expected", [
    ("inference.pdiparams", "half", "cannot load the exported model"),
    ("inference.pdiparams", b"", "cannot load the exported model"),
    ("inference.yml", b"input_shape: [1, 8\n", "is not valid YAML (line"),
    ("inference.yml", b"- just\n- a list\n", "expected a mapping"),
    ("inference.yml", b"data_format: NCHW\ninput_shape: [1, 8]\n", "'input_shape' is missing or invalid"),
])
@pytest.mark.slow
def test_damaged_export_directories_are_one_line_naming_the_file(exported, tmp_path, capsys, file, content, expected):
    _, run, _ = exported
    model_dir = _copy_export(run, tmp_path / "model")
    original = (model_dir / file).read_bytes()
    (model_dir / file).write_bytes(original[:len(original) // 2] if content == "half" else content)
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), "float32"))
    _fails_cleanly(infer_main, ["--model_dir", str(model_dir), "--input", str(tmp_path / "one.npy")], capsys,
                   tmp_path, str(model_dir / file) if file == "inference.yml" else "inference.pdiparams", expected)


@pytest.mark.parametrize("array, expected", [
    (np.array([["a", "b"]]), "got dtype <U1"),
    (np.full((1, 1, 8, 8), True), "got dtype bool"),
    (np.full((2, 1, 8, 8), -0.5, "float32"), "values range from -0.5 to -0.5"),
    (np.full((1, 1, 8, 8), 300, "int64"), "values range from 300 to 300"),
    (np.zeros((0, 1, 8, 8), "float32"), "holds no images"),
])
@pytest.mark.slow
def test_arrays_infer_cannot_use_are_one_line_naming_the_file(exported, tmp_path, capsys, array, expected):
    _, run, _ = exported
    np.save(tmp_path / "bad.npy", array)
    _fails_cleanly(infer_main, ["--model_dir", str(run / "inference"), "--input", str(tmp_path / "bad.npy")],
                   capsys, tmp_path, str(tmp_path / "bad.npy"), expected)


@pytest.mark.slow
def test_empty_input_and_topk_out_of_range_are_errors(exported, tmp_path, capsys):
    _, run, _ = exported
    (tmp_path / "empty").mkdir()
    model = ["--model_dir", str(run / "inference")]
    _fails_cleanly(infer_main, model + ["--input", str(tmp_path / "empty")], capsys, tmp_path,
                   "no image or .npy files in")
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), "float32"))
    _fails_cleanly(infer_main, model + ["--input", str(tmp_path / "one.npy"), "--topk", "11"], capsys, tmp_path,
                   "--topk 11 is more than the model's 10 classes")
    for topk in ("0", "-1"):
        with pytest.raises(SystemExit) as stop:
            infer_main(model + ["--input", str(tmp_path / "one.npy"), "--topk", topk])
        assert stop.value.code == 2
        assert f"expected an integer >= 1, got {int(topk)}" in capsys.readouterr().err


def _predictions(model_dir, path, capsys):
    capsys.readouterr()
    assert infer_main(["--model_dir", str(model_dir), "--input", str(path), "--topk", "3"]) == 0
    captured = capsys.readouterr()
    return [line.split(": ", 1)[1] for line in captured.out.splitlines() if not line.startswith("[")], captured.err


@pytest.mark.slow
def test_0_255_arrays_are_rescaled_like_the_same_images_in_0_1(exported, tmp_path, capsys):
    _, run, _ = exported
    data = build_dataset({"name": "digits", "split": "test"})
    pixels = np.round(np.stack([data[i][0] for i in range(4)]) * 255)  # [4, 1, 8, 8], whole numbers 0..255
    np.save(tmp_path / "unit.npy", (pixels / 255).astype("float32"))
    expected, _ = _predictions(run / "inference", tmp_path / "unit.npy", capsys)
    np.save(tmp_path / "dark.npy", (pixels / 510).astype("float32"))
    assert _predictions(run / "inference", tmp_path / "dark.npy", capsys)[0] != expected  # scale matters
    for dtype in ("float32", "float64", "int64", "uint8"):
        np.save(tmp_path / "raw.npy", pixels.astype(dtype))
        assert _predictions(run / "inference", tmp_path / "raw.npy", capsys)[0] == expected, dtype


@pytest.mark.slow
def test_non_finite_inputs_are_predicted_with_one_warning_per_image(exported, tmp_path, capsys):
    _, run, _ = exported
    images = np.full((3, 1, 8, 8), 0.5, "float32")
    images[0, 0, 0, :3] = np.nan
    images[2, 0, 4, 4] = np.inf
    np.save(tmp_path / "odd.npy", images)
    predictions, err = _predictions(run / "inference", tmp_path / "odd.npy", capsys)
    assert len(predictions) == 3
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    path = tmp_path / "odd.npy"
    assert warnings == [f"warning: {path}[0] has 3 non-finite value(s) (NaN/Inf) of 64; its prediction is not "
                        f"meaningful", f"warning: {path}[2] has 1 non-finite value(s) (NaN/Inf) of 64; its "
                        f"prediction is not meaningful"]


@pytest.mark.slow
@pytest.mark.e2e
def test_tools_infer_py_reports_a_damaged_parameter_file_in_one_line(exported, tmp_path):
    """The real script in a subprocess (under a timeout): Paddle's C++ error becomes one line, exit 2."""
    _, run, _ = exported
    model_dir = _copy_export(run, tmp_path / "model")
    (model_dir / "inference.pdiparams").write_bytes(os.urandom(4096))
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), "float32"))
    before = tree_state(tmp_path)
    error_line(run_tool("infer", "--model_dir", model_dir, "--input", tmp_path / "one.npy", timeout=120),
               "cannot load the exported model", "inference.pdiparams")
    assert tree_state(tmp_path) == before


SHIFT_OP = '''
from ppnorm.data.transforms import TRANSFORMS


@TRANSFORMS.register("AddOffset")
class AddOffset:
    def __init__(self, offset=0.0):
        self.offset = offset

    def __call__(self, image, rng=None):
        return image + self.offset
'''


@pytest.mark.slow
@pytest.mark.e2e
def test_a_transform_of_ones_own_module_in_inference_yml_is_imported_only_when_asked(exported, tmp_path):
    """infer never imports code a model directory names: an unknown transform is one line saying how to import
    it, and ``--custom_imports`` with the module's file makes the same command predict."""
    _, run, _ = exported
    model_dir = _copy_export(run, tmp_path / "model")
    description = yaml.safe_load((model_dir / "inference.yml").read_text())
    description["transforms"] = [{"AddOffset": {"offset": 0.0}}] + list(description["transforms"] or [])
    (model_dir / "inference.yml").write_text(yaml.safe_dump(description))
    (tmp_path / "my_ops.py").write_text(SHIFT_OP)
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), "float32"))
    command = ["--model_dir", model_dir, "--input", tmp_path / "one.npy"]
    before = tree_state(tmp_path)
    error_line(run_tool("infer", *command, timeout=120), str(model_dir / "inference.yml"),
               "unknown transform 'AddOffset'", "--custom_imports")
    assert tree_state(tmp_path) == before
    done = run_tool("infer", *command, "--custom_imports", "my_ops.py", timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and "one.npy[0]: " in done.stdout, done.stderr
    missing = run_tool("infer", *command, "--custom_imports", "no_such_ops.py", timeout=120, cwd=tmp_path)
    line = error_line(missing, "--custom_imports[0]", str(tmp_path / "no_such_ops.py"), "give --custom_imports its path")
    assert "Global.custom_imports" not in line  # infer has no config key for it
