"""Own data that works the first time: the configs/custom configs train through the real tools, a finished run's
config.yaml drives eval and export, obvious mismatches are one-line errors with the fix, and no run silently
overwrites another run's checkpoints."""
import re
from pathlib import Path

import pytest
import yaml
from helpers import assert_says, run_tool

from ppnorm.data.example_images import CLASSES, write_example
from ppnorm.deploy.cli import export_main
from ppnorm.engine import load_config
from ppnorm.engine.cli import eval_main, train_main
from ppnorm.engine.config import save_config
from ppnorm.engine.run_lock import OutputDirError, check_no_other_run

FOLDER, LIST = "configs/custom/image_folder.yaml", "configs/custom/file_list.yaml"
TIMEOUT = 300


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny own data set both ways: folders train/ and val/, and list files naming the same images."""
    root = tmp_path_factory.mktemp("my_images")
    write_example(root, train_per_class=8, val_per_class=4)
    return root


def _data_overrides(config, data):
    """The data paths, and a batch that fits the 24 training images (drop_last)."""
    if config == FOLDER:
        return [f"DataLoader.Train.dataset.root={data / 'train'}", f"DataLoader.Eval.dataset.root={data / 'val'}",
                "DataLoader.Train.batch_size=8"]
    paths = [f"DataLoader.{s}.dataset.{k}={v}" for s, split in (("Train", "train"), ("Eval", "val"))
             for k, v in (("list_file", data / f"{split}_list.txt"), ("root", data))]
    return paths + ["DataLoader.Train.batch_size=8"]


def _train(config, data, output_dir, *overrides):
    return run_tool("train", "-c", config, "--output_dir", output_dir, "-o", "Global.epochs=1",
                 "Global.use_visualdl=false", *_data_overrides(config, data), *overrides, timeout=TIMEOUT)


@pytest.mark.parametrize("path", [FOLDER, LIST])
def test_custom_configs_validate_and_their_saved_copy_loads_back_unchanged(path, tmp_path):
    config = load_config(path)
    assert config["Arch"]["name"] == "resnet20" and "num_classes" not in config["Arch"]
    assert config["DataLoader"]["Train"]["dataset"]["name"] == Path(path).stem
    assert load_config(save_config(config, str(tmp_path))) == config


def _eval_line(text):
    return re.findall(r"\[Eval\](?:\[Epoch \d+\])?\[Avg\](.*)", text)[-1]


@pytest.fixture(scope="module")
def folder_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "folder"
    result = _train(FOLDER, data, out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


@pytest.mark.slow
@pytest.mark.e2e
def test_image_folder_config_trains_one_epoch_through_tools_train(folder_run):
    out, stdout = folder_run
    assert "[Done] top1" in stdout and "on 12 eval samples" in stdout
    for name in ("latest", "best_model"):
        assert (out / f"{name}.pdparams").is_file()
    saved = (out / "config.yaml").read_text()
    assert "name: resnet20" in saved and "val" in saved
    saved = yaml.safe_load(saved)  # what the model predicts is recorded for eval/export (issue 24)
    assert saved["Arch"]["num_classes"] == 3 and saved["Global"]["class_names"] == list(CLASSES)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_runs_config_yaml_drives_eval_and_export(folder_run, capsys):
    out, stdout = folder_run
    args = ["-c", str(out / "config.yaml"), "-o", f"Global.pretrained_model={out / 'best_model'}"]
    assert eval_main(args) == 0
    assert _eval_line(capsys.readouterr().out) == _eval_line(stdout)  # the numbers of training's last evaluation
    assert export_main(args) == 0, capsys.readouterr().err
    assert (out / "inference" / "inference.pdiparams").is_file()


@pytest.mark.slow
@pytest.mark.e2e
def test_file_list_config_trains_one_epoch_through_tools_train(data, tmp_path):
    result = _train(LIST, data, tmp_path / "list")
    assert result.returncode == 0, result.stderr
    assert "on 12 eval samples" in result.stdout
    assert (tmp_path / "list" / "latest.pdparams").is_file()


@pytest.mark.slow
@pytest.mark.e2e
def test_training_into_another_runs_directory_is_refused_unless_resumed_or_overwritten(folder_run, tmp_path):
    out, _ = folder_run
    with pytest.raises(OutputDirError) as error:
        check_no_other_run(str(out))
    assert_says(str(error.value), f"Global.output_dir={out} ", "(latest, best_model)",  # the ways on, in this order
                f"-o Global.checkpoints={out / 'latest'}", "-o Global.overwrite=true", "--output_dir")
    check_no_other_run(str(out), checkpoints=str(out / "latest"))  # resuming this run
    check_no_other_run(str(out), overwrite=True)
    with pytest.raises(OutputDirError, match="already holds"):  # resuming another run into this one
        check_no_other_run(str(out), checkpoints=str(tmp_path / "other" / "latest"))
    (tmp_path / "best_model.pdcommit").write_text("{}")  # a checkpoint interrupted while being committed
    with pytest.raises(OutputDirError, match=r"checkpoints \(best_model\)"):
        check_no_other_run(str(tmp_path))
    check_no_other_run(str(tmp_path / "fresh"))  # nothing there yet


def _train_error(capsys, config, data, out, *overrides):
    code = train_main(["-c", config, "--output_dir", str(out), "-o", "Global.use_visualdl=false",
                       *_data_overrides(config, data), *overrides])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
@pytest.mark.e2e
def test_second_run_into_the_same_directory_is_one_line_through_the_training_tool(folder_run, data, capsys):
    out, _ = folder_run
    line = _train_error(capsys, FOLDER, data, out)
    assert line.startswith(f"error: Global.output_dir={out} already holds another run's checkpoints")


@pytest.mark.parametrize("overrides, expected", [
    (["DataLoader.Train.transforms=[{RandomCrop: {size: 24}}]",
      "DataLoader.Eval.transforms=[{Resize: {size: [32, 32]}}]"],
     "error: DataLoader.Train gives samples of 3x24x24 (CHW) but DataLoader.Eval gives 3x32x32: the model would be "
     "evaluated on other images than it is trained on; make the train crop/resize size"),
    (["DataLoader.Eval.transforms=[{Resize: {size: [32, 32]}}, {Normalize: {mean: [0.3], std: [0.37]}}]"],
     "error: DataLoader.Eval.dataset: sample 0 (file {data}/val/cat/0.png): Normalize: 1 mean/std value for an "
     "image with 3 channel(s); give one value per channel"),
], ids=["train crop vs eval size", "1-channel Normalize on RGB"])
def test_obvious_mismatches_are_one_line_errors_with_the_fix(data, tmp_path, capsys, overrides, expected):
    line = _train_error(capsys, FOLDER, data, tmp_path / "run", *overrides)
    assert line.startswith(expected.format(data=data)), line


def test_eval_labels_beyond_the_models_classes_are_one_line_through_the_training_tool(data, tmp_path, capsys):
    bad = tmp_path / "val_list.txt"
    bad.write_text((data / "val_list.txt").read_text() + "val/cat/0.png 7\n")
    line = _train_error(capsys, LIST, data, tmp_path / "run", f"DataLoader.Eval.dataset.list_file={bad}")
    assert_says(line, "error: DataLoader.Eval.dataset ", "3 classes", "sample 12 ", "label 7", "0..2")


def test_the_example_generator_writes_folders_and_lists_that_agree_and_never_writes_into_an_existing_folder(
        tmp_path, capsys):
    """``python -m ppnorm.data.example_images`` (the own-data docs' first command) needs no checkout."""
    from ppnorm.data.example_images import main
    root = tmp_path / "my_images"
    assert main([str(root), "--train", "2", "--val", "1"]) == 0
    for split, per_class in (("train", 2), ("val", 1)):
        lines = (root / f"{split}_list.txt").read_text().splitlines()
        assert len(lines) == per_class * len(CLASSES) == len(list((root / split).glob("*/*.png")))
        for line in lines:
            path, label = line.split()
            assert (root / path).is_file() and CLASSES[int(label)] == Path(path).parent.name
    assert main([str(root)]) == 2
    assert "already exists" in capsys.readouterr().err
