"""Output folders: a run refused at its config or data check creates no folder (and removes none it did not make),
and a folder that no run may take over (/, the home directory, ppnorm's own folders, the data root) is refused in
one line naming the key. Through the real tools, in subprocesses."""
import os

import pytest
from helpers import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 180
DIGITS = ["-c", "digits/resnet20", "-o", "Global.epochs=1", "Global.use_visualdl=false"]
POOLING = ["-c", "configs/experiments/pooling_shift.yaml", "-o", "quick=true", "use_visualdl=false"]


def _tool(tool, *args, cwd=ROOT):
    result = run_tool(tool, *args, cwd=cwd, timeout=TIMEOUT)
    return result.returncode, result.stderr.splitlines()


def _tree(path):
    return sorted(os.path.relpath(os.path.join(d, n), path) for d, dirs, files in os.walk(path) for n in dirs + files)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_training_refused_at_its_data_check_creates_no_folder(tmp_path):
    out = tmp_path / "new" / "run"
    code, lines = _tool("train", "-c", "configs/custom/image_folder.yaml", "-o",
                        f"DataLoader.Train.dataset.root={tmp_path / 'missing'}", "--output_dir", out)
    assert code == 2 and len(lines) == 1 and "missing" in lines[0], lines
    assert _tree(tmp_path) == []


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("existing", [False, True], ids=["new", "the user's"])
def test_an_experiment_refused_at_its_data_check_leaves_no_folder_and_keeps_the_users(tmp_path, existing):
    (tmp_path / "empty_data").mkdir()
    out = tmp_path / "new" / "exp"
    if existing:
        out.mkdir(parents=True)
    code, lines = _tool("experiment", *POOLING, f"data={{name: image_folder, root: {tmp_path / 'empty_data'}}}",
                        "--output_dir", out)
    assert code == 2 and len(lines) == 1 and "empty_data" in lines[0], lines
    assert _tree(tmp_path) == (["empty_data", "new", "new/exp"] if existing else ["empty_data"])


@pytest.mark.slow
@pytest.mark.e2e
def test_an_accepted_run_still_creates_its_folder(tmp_path):
    code, lines = _tool("train", *DIGITS, "Global.epochs=1", "--output_dir", tmp_path / "a" / "run")
    assert code == 0, lines
    assert (tmp_path / "a" / "run" / "latest.pdparams").is_file()


DANGEROUS = {"root": "/", "home": os.path.expanduser("~"), "home/": os.path.expanduser("~") + "/", "tilde": "~/",
             "checkout": ROOT, "package": os.path.join(ROOT, "ppnorm")}


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("where", list(DANGEROUS))
def test_train_refuses_a_folder_no_run_may_take_over(where):
    target = DANGEROUS[where]
    before = sorted(os.listdir(os.path.expanduser(target)))
    code, lines = _tool("train", *DIGITS, f"Global.output_dir={target}")
    shown = os.path.expanduser(target)  # the config expands ~
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: Global.output_dir={shown} "), lines
    assert sorted(os.listdir(shown)) == before


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("tool, args, key", [("experiment", POOLING, "output_dir"),
                                             ("benchmark", ["--models", "resnet20", "--no_memory"], "--output_dir")])
def test_experiment_and_benchmark_refuse_the_root_and_home(tool, args, key):
    for target in ("/", os.path.expanduser("~")):
        before = sorted(os.listdir(target))
        code, lines = _tool(tool, *args, "--output_dir", target)
        assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {key}={target} "), lines
        assert sorted(os.listdir(target)) == before


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("name", ["file_list", "image_folder"])
def test_train_refuses_the_data_root_as_output_dir(tmp_path, name):
    from PIL import Image
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / label / f"{i}.png")
    (tmp_path / "list.txt").write_text("a/0.png 0\na/1.png 0\nb/0.png 1\nb/1.png 1\n")
    dataset = (f"{{name: file_list, list_file: {tmp_path / 'list.txt'}, root: {tmp_path}}}" if name == "file_list"
               else f"{{name: image_folder, root: {tmp_path}}}")
    before = _tree(tmp_path)
    code, lines = _tool("train", "-c", "configs/custom/image_folder.yaml", "-o", f"DataLoader.Train.dataset={dataset}",
                        f"DataLoader.Eval.dataset={dataset}", "--output_dir", tmp_path)
    assert code == 2 and len(lines) == 1 and f"Global.output_dir={tmp_path}" in lines[0], lines
    assert "dataset.root" in lines[0] and _tree(tmp_path) == before
