"""A config path starting with ~user/ for a user that does not exist is one line naming the file and the key (also
in a list, in a _base_ and in an experiment config), through the real tools; nothing is created."""
import os

import pytest
from helpers import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool(tool, *args, cwd):
    result = run_tool(tool, *args, cwd=cwd, timeout=180)
    return result.returncode, result.stderr.splitlines()


CASES = {
    "override": ("train", ["-c", "digits/resnet20", "-o", "Global.pretrained_model=~nosuchuser9/w"],
                 "resnet20.yaml with -o overrides: Global.pretrained_model=~nosuchuser9/w"),
    "in a file": ("train", ["-c", "mine.yaml"], "mine.yaml: DataLoader.Train.dataset.root=~nosuchuser9/images"),
    "in a list": ("train", ["-c", "digits/resnet20", "-o", "Global.class_names=[a, ~nosuchuser9/b]"],
                  "Global.class_names[1]=~nosuchuser9/b"),
    "_base_": ("train", ["-c", "based.yaml"], "based.yaml: _base_=~nosuchuser9/base.yaml"),
    "experiment": ("experiment", ["-c", "configs/experiments/pooling_shift.yaml", "-o", "output_dir=~nosuchuser9/e"],
                   "pooling_shift.yaml: output_dir=~nosuchuser9/e"),
}


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("case", list(CASES))
def test_an_unknown_user_names_the_file_and_the_key(tmp_path, case):
    (tmp_path / "mine.yaml").write_text("_base_: digits/resnet20\nDataLoader:\n  Train:\n"
                                        "    dataset: {name: image_folder, root: ~nosuchuser9/images}\n")
    (tmp_path / "based.yaml").write_text("_base_: ~nosuchuser9/base.yaml\n")
    tool, args, expected = CASES[case]
    before = sorted(os.listdir(tmp_path))
    code, lines = _tool(tool, *args, cwd=tmp_path)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert "there is no user 'nosuchuser9'" in lines[0]
    assert sorted(os.listdir(tmp_path)) == before
