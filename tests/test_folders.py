"""Folders that are not classes, files that are not images, and the class names a run was trained on.

An ``image_folder`` tree with what real ones hold (``.ipynb_checkpoints``, ``__pycache__``, hidden files,
a ``.gif``, a nested image) trains on its real classes and says what it skipped; an empty class folder,
a symlink to the root and an output directory inside the data are one-line errors; the class names
travel with the run into config.yaml, the checkpoint and inference.yml, and eval/export/infer use them.
The tools run through their entry points, all cases of a table in one subprocess with a timeout
(``helpers.run_steps``), to pay for Paddle's import once (marked slow and e2e). No case may
change a file of the data tree.
"""
import os
from collections import Counter
from pathlib import Path

import numpy as np
import paddle
import pytest
import yaml
from helpers import assert_says, error_line, png, run_steps, run_tool, tree_state
from PIL import Image

import ppnorm
from ppnorm.data import DataError, build_dataset

TIMEOUT = 240


def messy_tree(root):
    """``root/train`` (a, b, c: 4 images each) and ``root/eval`` (2 each), plus what a real tree collects."""
    for split, count in (("train", 4), ("eval", 2)):
        for c in "abc":
            for i in range(count):
                png(root / split / c / f"{i}.png", seed=i + 10 * "abc".index(c))
        png(root / split / ".ipynb_checkpoints" / "0-checkpoint.png")  # AI Studio's Jupyter writes these
    png(root / "train" / "__pycache__" / "x.png")
    png(root / "train" / "a" / ".hidden.png")
    png(root / "train" / "a" / ".ipynb_checkpoints" / "0-checkpoint.png")
    png(root / "train" / "b" / "nested" / "n.png")
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(root / "train" / "c" / "x.gif")


def _config(tmp, name, train="train", eval="eval", output=None, **glob):
    """A simple_cnn image_folder run on ``tmp/<train>`` and ``tmp/<eval>``, written as ``tmp/<name>.yaml``."""
    config = {"Global": {"device": "cpu", "epochs": 1, "output_dir": str(output or tmp / "out" / name),
                         "use_visualdl": False, **glob},
              "Arch": {"name": "simple_cnn"}, "Metric": {"topk": [1]},
              "DataLoader": {mode: {"batch_size": 4, "dataset": {"name": "image_folder", "root": str(tmp / root)}}
                             for mode, root in (("Train", train), ("Eval", eval))}}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


# ------------------------------------------------------------------ a messy tree, trained and used end to end
@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("messy")
    messy_tree(tmp)
    for c in "abz":  # a folder with a class the model never saw
        for i in range(2):
            png(tmp / "stray" / c / f"{i}.png", seed=i)
    for c in "abcd":
        png(tmp / "four" / c / "0.png")
    trained_elsewhere = ppnorm.build_model("simple_cnn", num_classes=3)  # weights without ppnorm's .pdstates
    paddle.save(trained_elsewhere.state_dict(), str(tmp / "plain.pdparams"))
    before = {name: tree_state(tmp / name) for name in DATA}
    out = tmp / "out" / "run"
    _config(tmp, "run")
    steps = [(name, tool, [str(arg).format(t=tmp, out=out) for arg in argv]) for name, tool, argv in STEPS]
    return tmp, out, run_steps(steps, TIMEOUT), before


DATA = ("train", "eval", "stray", "four")
WEIGHTS = "Global.pretrained_model={out}/best_model"
STRAY_EVAL, STRAY_TRAIN = "DataLoader.Eval.dataset.root={t}/stray", "DataLoader.Train.dataset.root={t}/stray"
STEPS = [  # name, tool, argv ({t}: the tree, {out}: the run's output_dir), run in this order
    ("train", "train", ["-c", "{t}/run.yaml"]),
    ("eval", "eval", ["-c", "{out}/config.yaml", "-o", WEIGHTS]),
    ("eval_plain", "eval", ["-c", "{t}/run.yaml", "-o", WEIGHTS]),  # the class names from the checkpoint
    ("eval_stray", "eval", ["-c", "{out}/config.yaml", "-o", WEIGHTS, STRAY_EVAL]),
    ("eval_stray_plain", "eval", ["-c", "{t}/run.yaml", "-o", WEIGHTS, STRAY_EVAL]),
    ("resume_other", "train", ["-c", "{t}/run.yaml", "-o", "Global.checkpoints={out}/latest", STRAY_TRAIN,
                               "Global.epochs=2"]),
    ("retrain_other", "train", ["-c", "{out}/config.yaml", "--output_dir", "{t}/out/other", "-o", STRAY_TRAIN]),
    ("eval_old_weights", "eval", ["-c", "{t}/run.yaml", "-o", "Global.pretrained_model={t}/plain",
                                  "DataLoader.Eval.dataset.root={t}/four"]),
    ("export_inside", "export", ["-c", "{t}/run.yaml", "-o", WEIGHTS, "--output_dir", "{t}/eval/inference"]),
    ("export", "export", ["-c", "{t}/run.yaml", "-o", WEIGHTS]),
    ("infer", "infer", ["--model_dir", "{out}/inference", "--input", "{t}/train"]),
]


@pytest.mark.slow
@pytest.mark.e2e
def test_hidden_folders_and_files_are_no_classes_and_skipped_files_are_counted(messy_run):
    tmp, out, results, _ = messy_run
    train = results["train"]
    assert train.returncode == 0, train.stderr
    assert (f"[Data] image_folder train ({tmp / 'train'}): 3 classes (a, b, c), 12 images; skipped 2 files "
            f"(1 .gif, 1 nested)") in train.stdout.splitlines()
    assert f"[Data] image_folder eval ({tmp / 'eval'}): 3 classes (a, b, c), 6 images" in train.stdout.splitlines()
    assert "on 6 eval samples" in train.stdout


@pytest.mark.slow
@pytest.mark.e2e
def test_the_class_names_travel_with_the_run(messy_run):
    _, out, results, _ = messy_run
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["Global"]["class_names"] == ["a", "b", "c"] and saved["Arch"]["num_classes"] == 3
    for name in ("latest", "best_model"):
        assert paddle.load(str(out / f"{name}.pdstates"))["class_names"] == ["a", "b", "c"]
        assert paddle.load(str(out / f"{name}.pdparams"))["fc.weight"].shape[-1] == 3
    assert results["export"].returncode == 0, results["export"].stderr
    assert yaml.safe_load((out / "inference" / "inference.yml").read_text())["classes"] == ["a", "b", "c"]


@pytest.mark.slow
@pytest.mark.e2e
def test_eval_uses_the_trained_classes(messy_run):
    _, _, results, _ = messy_run
    train_eval = [line for line in results["train"].stdout.splitlines() if line.startswith("[Eval][Epoch")][-1]
    for name in ("eval", "eval_plain"):  # the run's config.yaml, or the user's config and the checkpoint's names
        assert results[name].returncode == 0, results[name].stderr
        assert results[name].stdout.splitlines()[-1].split("]")[-1] == train_eval.split("]")[-1]


@pytest.mark.parametrize("step, source", [("eval_stray", "Global.class_names"),
                                          ("eval_stray_plain", "best_model.pdstates")])
@pytest.mark.slow
@pytest.mark.e2e
def test_eval_on_other_classes_is_one_line_naming_both_lists(messy_run, step, source):
    line = error_line(messy_run[2][step])
    assert "class(es) 'z' that the trained model (" in line and source in line
    assert "[a, b, z]" in line and "[a, b, c]" in line and "pretrained_skip" not in line


@pytest.mark.slow
@pytest.mark.e2e
def test_eval_of_weights_without_class_names_advises_the_runs_config_not_pretrained_skip(messy_run):
    tmp, _, results, _ = messy_run
    line = error_line(results["eval_old_weights"])
    assert f"{tmp / 'plain.pdparams'}" in line and "fc.weight has shape" in line
    assert "eval and export load the trained model whole: give the run's own config.yaml" in line
    assert "pretrained_skip" not in line


@pytest.mark.slow
@pytest.mark.e2e
def test_export_into_the_data_is_one_line(messy_run):
    tmp, _, results, _ = messy_run
    assert error_line(results["export_inside"]) == (
        f"error: Export.save_dir={tmp / 'eval' / 'inference'} is inside DataLoader.Eval.dataset.root={tmp / 'eval'}: "
        f"its files would become a class of the next run; choose a directory outside that data root")


@pytest.mark.slow
@pytest.mark.e2e
def test_infer_on_a_folder_skips_hidden_files_and_counts_the_rest(messy_run):
    tmp, _, results, _ = messy_run
    infer = results["infer"]
    assert infer.returncode == 0, infer.stderr
    predicted = [line.split(": ")[0] for line in infer.stdout.splitlines() if line.startswith(str(tmp))]
    assert len(predicted) == 13 and str(tmp / "train" / "b" / "nested" / "n.png") in predicted
    assert not any("checkpoint" in p or "hidden" in p or "__pycache__" in p for p in predicted)
    assert "[Infer] --input folders: 13 input file(s); skipped 1 file (1 .gif)" in infer.stdout


@pytest.mark.slow
@pytest.mark.e2e
def test_resuming_or_retraining_on_other_classes_is_one_line(messy_run):
    _, out, results, _ = messy_run
    line = error_line(results["resume_other"])
    assert f"Global.checkpoints={out / 'latest'} was trained on classes [a, b, c] but" in line and "[a, b, z]" in line
    line = error_line(results["retrain_other"])
    assert "DataLoader.Train.dataset has class(es) 'z' that Global.class_names lacks" in line and "[a, b, c]" in line


@pytest.mark.slow
@pytest.mark.e2e
def test_no_tool_changed_the_data_tree(messy_run):
    tmp, _, results, before = messy_run
    assert len(results) == len(STEPS)  # every step reported
    assert {name: tree_state(tmp / name) for name in DATA} == before


# ------------------------------------------------------------------ trees that cannot be trained on, one line each
def _notes(train):
    (train / "d").mkdir()
    (train / "d" / "notes.txt").write_text("todo")


def _old_run(train):
    (train / "old_run").mkdir()
    for name in ("config.yaml", "latest.pdparams"):
        (train / "old_run" / name).write_text("x")


BAD_TREES = {  # name: (what to add to a good train/ folder, overrides, fragments of the error line; {t}: the tree)
    "empty_class": (lambda train: (train / "d").mkdir(), [], ["class folder {t}/train/d has no images; add .jpg"]),
    "class_without_images": (_notes, [], ["class folder {t}/train/d has no images, only 1 .txt;", "remove the folder"]),
    "symlink_to_root": (lambda train: os.symlink(train, train / "loop"), [],
                        ["{t}/train/loop is a symlink to {t}/train, the data root or a folder above it", "remove"]),
    "symlink_to_parent": (lambda train: os.symlink("..", train / "up"), [], ["{t}/train/up is a symlink to {t},"]),
    "symlink_loop": (lambda train: os.symlink("self", train / "self"), [],
                     ["{t}/train/self is a broken symlink or a symlink loop"]),
    "old_run_inside": (_old_run, [], ["{t}/train/old_run holds config.yaml, latest.pdparams: it is a ppnorm run",
                                      "move it out of the data root"]),
    "output_inside": (lambda train: None, ["--output_dir", "{t}/train/runs/x"],
                      ["Global.output_dir={t}/train/runs/x is inside DataLoader.Train.dataset.root={t}/train",
                       "choose a directory outside that data root"]),
    "output_is_root": (lambda train: None, ["--output_dir", "{t}/eval"],
                       ["Global.output_dir={t}/eval is inside DataLoader.Eval.dataset.root={t}/eval"]),
}


@pytest.fixture(scope="module")
def bad_trees(tmp_path_factory):
    """Each case's tree and config, run in one subprocess; name -> (tree, result, hash before, hash after)."""
    base = tmp_path_factory.mktemp("bad")
    steps, trees = [], {}
    for name, (add, argv, _) in BAD_TREES.items():
        tmp = base / name
        messy_tree(tmp)
        add(tmp / "train")
        config = _config(tmp, "run", output=base / "out" / name)
        trees[name] = (tmp, tree_state(tmp))
        steps.append((name, "train", ["-c", config] + [arg.format(t=tmp) for arg in argv]))
    results = run_steps(steps, TIMEOUT)
    return {name: (tmp, results.get(name), before, tree_state(tmp)) for name, (tmp, before) in trees.items()}


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("name", list(BAD_TREES))
def test_a_tree_that_is_no_data_set_is_one_line_and_nothing_changes(bad_trees, name):
    tmp, result, before, after = bad_trees[name]
    assert result is not None, f"{name} did not report (a hang?)"
    line = error_line(result)
    for fragment in BAD_TREES[name][2]:
        assert fragment.format(t=tmp) in line, (fragment, line)
    assert after == before  # nothing written into the tree
    assert not (tmp / "train" / "runs").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_tools_train_py_itself_keeps_its_output_out_of_the_data(tmp_path):
    messy_tree(tmp_path)
    config = _config(tmp_path, "run", output=tmp_path / "train" / "output")
    before = tree_state(tmp_path)
    result = run_tool("train", "-c", config, timeout=TIMEOUT)
    line = error_line(result)
    assert_says(line, f"error: Global.output_dir={tmp_path / 'train' / 'output'} ",
                f" DataLoader.Train.dataset.root={tmp_path / 'train'}", "a directory outside")
    assert tree_state(tmp_path) == before


# ------------------------------------------------------------------ in-process: the counting rules
def test_hidden_entries_are_never_classes_and_not_counted(tmp_path):
    messy_tree(tmp_path)
    (tmp_path / "train" / "README.md").write_text("my data")
    (tmp_path / "train" / "__MACOSX").mkdir()
    png(tmp_path / "train" / "__MACOSX" / "._a.png")
    png(tmp_path / "train" / "c" / "._0.png")  # macOS resource fork beside an image
    data = build_dataset({"name": "image_folder", "root": str(tmp_path / "train")})
    assert data.classes == ["a", "b", "c"] and len(data) == 12 and list(data.labels) == [0] * 4 + [1] * 4 + [2] * 4
    assert data.skipped == Counter({".gif": 1, "nested": 1, "outside class folders": 1})
    assert data.summary("train").endswith("skipped 3 files (1 .gif, 1 nested, 1 outside class folders)")


def test_file_list_leaves_out_hidden_paths_and_counts_them(tmp_path):
    messy_tree(tmp_path)
    lines = ["train/a/0.png 0", "train/.ipynb_checkpoints/0-checkpoint.png 0", "train/a/.hidden.png 0",
             "./train/b/0.png 1"]
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    data = build_dataset({"name": "file_list", "list_file": str(tmp_path / "list.txt"), "root": str(tmp_path)})
    assert [Path(p).name for p in data.paths] == ["0.png", "0.png"] and list(data.labels) == [0, 1]
    assert data.summary("eval") == (f"file_list eval ({tmp_path / 'list.txt'}): 2 classes (0, 1), 2 images; "
                                    f"skipped 2 lines (2 hidden path)")
    (tmp_path / "hidden.txt").write_text("train/.ipynb_checkpoints/0-checkpoint.png 0\n")
    with pytest.raises(DataError, match="has no 'path label' lines"):
        build_dataset({"name": "file_list", "list_file": str(tmp_path / "hidden.txt"), "root": str(tmp_path)})


def test_a_class_folder_linked_to_another_class_is_refused(tmp_path):
    from ppnorm.data import DataError, build_dataset
    root = tmp_path / "train"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(root / name / "0.png")
    (root / "c").symlink_to(root / "a")
    with pytest.raises(DataError, match=r"^image_folder: class folders 'a' and 'c' in .* are the same folder"):
        build_dataset({"name": "image_folder", "root": str(root)})


def test_class_names_are_compared_in_one_unicode_form(tmp_path):
    import unicodedata
    from ppnorm.data import build_dataset
    for split, form in (("train", "NFD"), ("eval", "NFC")):
        for name in ("café", "tea"):
            folder = tmp_path / split / unicodedata.normalize(form, name)
            folder.mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(folder / "0.png")
    train, evaluation = (build_dataset({"name": "image_folder", "root": str(tmp_path / s)}) for s in ("train", "eval"))
    assert train.classes == evaluation.classes == [unicodedata.normalize("NFC", "café"), "tea"]
    for name in ("lost+found", "$RECYCLE.BIN"):  # file-system folders are never classes
        (tmp_path / "train" / name).mkdir()
    assert build_dataset({"name": "image_folder", "root": str(tmp_path / "train")}).classes == train.classes
