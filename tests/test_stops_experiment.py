"""A stopped framework experiment resumes: tools/experiment.py stopped by a signal after some cells, then run again
with the same config, reuses the finished cells (one "resumed K of N runs" line) and writes the same runs.csv,
results.csv and claims.csv, byte for byte, as a run that was never stopped; a changed param reuses nothing."""
import re
import signal
import subprocess
import time

import pytest
from helpers import run_tool, start_tool

from ppnorm.experiments import cell_store

TIMEOUT = 300
CONFIG = ["-c", "configs/experiments/pooling_shift.yaml", "-o", "quick=true", "use_visualdl=false", "params.seeds=3"]
CELLS = 18  # 6 settings x 3 seeds
SAME = ("runs.csv", "results.csv", "claims.csv")


def _run(output_dir, *extra):
    return run_tool("experiment", *CONFIG, *extra, "--output_dir", output_dir, timeout=TIMEOUT)


def _stop_after(output_dir, runs, signum, tmp_path):
    """Start the experiment, send ``signum`` once ``runs`` runs are reported; returns (exit code, stderr)."""
    out, err = tmp_path / "stopped.out", tmp_path / "stopped.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = start_tool("experiment", *CONFIG, "--output_dir", output_dir, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + TIMEOUT
    while not re.search(rf"\] run {runs}/{CELLS} ", out.read_text()):
        assert process.poll() is None and time.monotonic() < deadline, err.read_text()
        time.sleep(0.01)
    process.send_signal(signum)
    try:
        return process.wait(timeout=TIMEOUT), err.read_text()
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the experiment did not end after the signal (a hang)")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("full")
    result = _run(output_dir)
    assert result.returncode == 0, result.stderr
    assert not (output_dir / cell_store.FILE).exists()
    return output_dir


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_experiment_resumes_and_writes_what_an_uninterrupted_run_writes(uninterrupted, tmp_path, signum):
    output_dir = tmp_path / "exp"
    code, err = _stop_after(output_dir, 4, signum, tmp_path)
    assert code == 128 + signum, err
    assert len(err.splitlines()) == 1 and "reuses them" in err, err
    kept = (output_dir / cell_store.FILE).read_text().splitlines()
    assert 4 <= len(kept) < CELLS
    with open(output_dir / cell_store.FILE, "a") as handle:  # a line torn by a stop during its write
        handle.write('{"key": "abc", "metr')

    resumed = _run(output_dir)
    assert resumed.returncode == 0, resumed.stderr
    lines = [line for line in resumed.stdout.splitlines() if "resumed" in line]
    assert len(lines) == 1 and f"resumed {len(kept)} of {CELLS} runs from " in lines[0], lines
    for name in SAME:
        assert (output_dir / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert not (output_dir / cell_store.FILE).exists() and not (output_dir / "runs.partial.csv").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_a_changed_param_reuses_no_cell(tmp_path):
    output_dir = tmp_path / "exp"
    code, err = _stop_after(output_dir, 3, signal.SIGTERM, tmp_path)
    assert code == 143, err
    changed = _run(output_dir, "params.epochs=2")
    assert changed.returncode == 0, changed.stderr
    assert "resumed" not in changed.stdout
    assert not (output_dir / cell_store.FILE).exists()
