"""Every shell command the user docs show (the ```bash blocks of docs/zh_CN, README_cn.md and README.md) is either run
here, as written, or its block is marked on the line right above it with ``<!-- not-run: reason -->``, the reason
naming what it needs (a GPU, the network, your own files) or how long it takes on which CPU. The numbers those
commands print in the docs are regions rendered from docs/results and re-run by tests/test_docs_numbers.py."""
import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs" / "zh_CN").rglob("*.md")) + [ROOT / "README_cn.md", ROOT / "README.md"]
MARKER = re.compile(r"^\s*<!-- not-run: (.+) -->$")
NEEDS = re.compile(r"GPU|网络|network|自己|AI Studio|需要|needs|\.ci/run")
TIMED = re.compile(r"\d(?:[\d.]*) ?(?:秒|分钟|小时|s\b|min)")
CPU = re.compile(r"AMD EPYC|Intel Xeon")
TIMEOUT = 300


def _blocks(path):
    """``(line number, marker reason or None, commands)`` for each ```bash block of ``path``; commands have their
    continuation lines joined and trailing comments removed."""
    lines, found = path.read_text(encoding="utf-8").split("\n"), []
    for start, line in enumerate(lines):
        if line.strip() != "```bash":
            continue
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```")
        above = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.match(above)
        text = "\n".join(lines[start + 1:end]).replace("\\\n", " ")
        commands = [re.sub(r"\s+#\s.*$", "", c).strip() for c in text.split("\n")]
        found.append((start + 1, marker and marker.group(1), [c for c in commands if c and not c.startswith("#")]))
    return found


def _same_claims(output, name):
    """The experiment wrote the committed verdicts: every check of ``name`` passes again on this machine."""
    def verdicts(path):
        with open(path, newline="", encoding="utf-8") as handle:
            return {row["claim_en"]: row["verdict"] for row in csv.DictReader(handle)}
    written = verdicts(output / "output" / "experiments" / name / "claims.csv")
    assert written == verdicts(ROOT / "docs" / "experiments" / name / "claims.csv")


# command as the docs write it -> (run in an empty folder rather than one that links the checkout, check(out, cwd))
RUN = {
    "python tools/train.py --list-configs": (False, lambda out, cwd: "digits/resnet20" in out.split()),
    "ppnorm train --list-configs": (False, lambda out, cwd: "experiments/precise_bn" in out.split()),
    "python tools/train.py --help-config": (False, lambda out, cwd: "Global.epochs" in out),
    "python tools/experiment.py --list --lang zh": (False, lambda out, cwd: len(out.strip().split("\n")) == 22),
    "python -m ppnorm.data.example_images data/my_images": (
        True, lambda out, cwd: len(list((cwd / "data" / "my_images" / "train").glob("*/*.png"))) == 90
        and len((cwd / "data" / "my_images" / "val_list.txt").read_text().split("\n")) == 31),
    "python tools/train.py -c configs/custom/my_extensions.yaml -o Global.epochs=1": (  # Global.custom_imports
        False, lambda out, cwd: "[Done]" in out
        and (cwd / "output" / "my_extensions" / "loss.csv").read_text().split("\n")[1].startswith("1,")),
    "python tools/experiment.py --verdicts docs/experiments --against docs/reruns/intel_xeon --lang zh": (
        False, lambda out, cwd: "claims have the same verdict" in out),
    "python tools/experiment.py -c configs/experiments/norm_axes.yaml -o lang=zh --cpu_threads 1": (
        False, lambda out, cwd: _same_claims(cwd, "norm_axes") is None),
    "OMP_NUM_THREADS=1 python tools/experiment.py -c configs/experiments/batchnorm_basics.yaml -o lang=zh "
    "--cpu_threads 1": (False, lambda out, cwd: _same_claims(cwd, "batchnorm_basics") is None),
}


def _all_blocks():
    return [(path.relative_to(ROOT).as_posix(), *block) for path in DOCS for block in _blocks(path)]


def test_every_command_block_is_run_here_or_says_why_not():
    unmarked, vague = [], []
    for path, line, reason, commands in _all_blocks():
        if reason is None:
            unmarked += [f"{path}:{line}: {c}" for c in commands if c not in RUN]
        elif not (NEEDS.search(reason) or (TIMED.search(reason) and CPU.search(reason))):
            vague.append(f"{path}:{line}: {reason}")
    assert not unmarked, "unmarked commands this test does not run:\n" + "\n".join(unmarked)
    assert not vague, "not-run reasons that name no need and no time on a CPU:\n" + "\n".join(vague)


def test_every_command_run_here_is_shown_unmarked_in_the_docs():
    shown = {c for _, _, reason, commands in _all_blocks() if reason is None for c in commands}
    assert set(RUN) <= shown, set(RUN) - shown


def _argv(command):
    """The command's environment assignments and argv, with ``python`` this interpreter and ``ppnorm`` its module."""
    words = shlex.split(command)
    env = dict(w.split("=", 1) for w in words if re.match(r"[A-Z_]+=", w))
    words = words[len(env):]
    program = {"python": [sys.executable], "ppnorm": [sys.executable, "-m", "ppnorm"]}[words[0]]
    return env, program + words[1:]


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(RUN), ids=sorted(RUN))
def test_a_documented_command_runs_as_written(command, tmp_path):
    """Run in a fresh folder: one that links configs/, tools/ and docs/ of the checkout (so nothing is written into
    it), or an empty one for the commands that must work without a checkout."""
    empty, check = RUN[command]
    if not empty:
        for name in ("configs", "tools", "docs"):
            (tmp_path / name).symlink_to(ROOT / name)
    env, argv = _argv(command)
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert check(result.stdout, tmp_path), result.stdout[-2000:]
