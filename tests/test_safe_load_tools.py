"""A weights file that would run code, given to the real tools: exit code 2, one line naming the file and the
global, and the payload's marker file never appears (the unit cases: test_safe_load.py)."""
import hashlib
import shutil

import paddle
import pytest
from helpers import start_tool

from malicious_pickles import payloads

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # each test starts tools (a paddle import each: seconds)

DIGITS = ["-c", "configs/digits/resnet20.yaml", "-o", "Global.use_visualdl=false", "Global.cpu_threads=1"]
REFUSED = ("which a Paddle {what} file never needs (they hold only arrays, numbers, strings and containers) and "
           "which could run code; nothing of it was run: use a file from a source you trust")


def _start(tool, *args):
    return start_tool(tool, *DIGITS, *args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real checkpoint ``latest`` (with EMA: .pdparams, .pdtrain, .pdopt, .pdstates) from one epoch of train.py."""
    run = tmp_path_factory.mktemp("trained") / "run"
    process = _start("train", "-o", "Global.epochs=1", "DataLoader.Train.batch_size=360", "--output_dir", str(run))
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return run


def _plant(trained, folder, suffix, data):
    """A copy of the real checkpoint with ``latest<suffix>`` replaced by ``data`` and, as an attacker would do,
    its hash updated in ``latest.pdstates`` (so the payload is what the resume reads next)."""
    shutil.copytree(trained, folder)
    (folder / ("latest" + suffix)).write_bytes(data)
    if suffix != ".pdstates":
        states = paddle.load(str(folder / "latest.pdstates"))
        states["files"][suffix] = hashlib.sha256(data).hexdigest()
        paddle.save(states, str(folder / "latest.pdstates"))
    return str(folder / "latest")


def test_payloads_through_eval_train_export_and_resume_exit_2_with_one_line(trained, tmp_path):
    marker = tmp_path / "marker"
    cases = payloads(marker)
    weights = {}
    for name in ("os.system protocol 4", "os.system protocol 0", "STACK_GLOBAL through the memo"):
        weights[name] = tmp_path / (name.replace(" ", "_") + ".pdparams")
        weights[name].write_bytes(cases[name][0])
    opt = _plant(trained, tmp_path / "bad_opt", ".pdopt", cases["in a state_dict protocol 2"][0])
    states = _plant(trained, tmp_path / "bad_states", ".pdstates", cases["STACK_GLOBAL in a protocol 5 frame"][0])
    raw = _plant(trained, tmp_path / "bad_train", ".pdtrain", cases["in a state_dict protocol 4"][0])
    out = str(tmp_path / "out")
    runs = {  # tool run: (process, file named, global named, what)
        "eval -o Global.pretrained_model (STACK_GLOBAL)": (
            _start("eval", "-o", f"Global.pretrained_model={weights['os.system protocol 4']}"),
            weights["os.system protocol 4"], "posix.system", "weights"),
        "train -o Global.pretrained_model (GLOBAL, protocol 0)": (
            _start("train", "-o", f"Global.pretrained_model={weights['os.system protocol 0']}", "--output_dir", out),
            weights["os.system protocol 0"], "posix.system", "weights"),
        "export -o Global.pretrained_model (names through the memo)": (
            _start("export", "-o", f"Global.pretrained_model={weights['STACK_GLOBAL through the memo']}",
                   "--output_dir", out + "_export"),
            weights["STACK_GLOBAL through the memo"], "os.system", "weights"),
        "train -o Global.checkpoints, bad .pdopt": (
            _start("train", "-o", f"Global.checkpoints={opt}", "Global.epochs=2", "--output_dir", out + "_opt"),
            opt + ".pdopt", "posix.system", "optimizer state"),
        "train -o Global.checkpoints, bad .pdstates": (
            _start("train", "-o", f"Global.checkpoints={states}", "Global.epochs=2", "--output_dir", out + "_st"),
            states + ".pdstates", "builtins.exec", "training states"),
        "train -o Global.checkpoints, bad .pdtrain": (
            _start("train", "-o", f"Global.checkpoints={raw}", "Global.epochs=2", "--output_dir", out + "_raw"),
            raw + ".pdtrain", "builtins.eval", "weights"),
    }
    for case, (process, path, name, what) in runs.items():
        _, err = process.communicate(timeout=300)
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert process.returncode == 2, (case, err)
        assert lines == [f"error: {path}: refused to load: it asks for {name}, " + REFUSED.format(what=what)], case
        assert err.rstrip().endswith(lines[0]) and "Traceback" not in err, (case, err)
    assert not marker.exists()


def test_the_real_checkpoint_still_evaluates_through_the_tool(trained):
    """The control for the refusals above: the same tool path reads the untouched checkpoint."""
    process = _start("eval", "-o", f"Global.pretrained_model={trained / 'latest'}")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert f"[Pretrained] loaded 107 tensors from {trained / 'latest.pdparams'}" in out
