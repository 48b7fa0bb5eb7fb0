"""tools/benchmark.py --norms gn:G sets GroupNorm's groups (as --norm_cost's MODEL:SIZE:BATCH, colon-separated); a
group count that does not divide a model's channels is one line naming the flag value and the model, before any
timing and before any output folder."""
import csv
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--models", "resnet20", "--image_size", "32", "--repeats", "1", "--warmup", "0", "--no_memory",
        "--modes", "eval", "--loader_config", "none"]


def _benchmark(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "tools/benchmark.py", *FAST, *map(str, args)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout, result.stderr.splitlines()


@pytest.mark.slow
def test_gn_with_groups_is_timed_against_bn(tmp_path):
    code, out, err = _benchmark("--norms", "bn", "gn:8", "--output_dir", tmp_path / "bench")
    assert code == 0, err
    with open(tmp_path / "bench" / "benchmark.csv", newline="") as handle:
        norms = [row["norm"] for row in csv.DictReader(handle)]
    assert "gn:8" in norms and "bn" in norms


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["gn:7", "gn"])  # resnet20's 16 channels: neither 7 nor the default 32 divides them
def test_groups_that_do_not_divide_the_channels_are_one_line(tmp_path, norm):
    code, out, err = _benchmark("--norms", "bn", norm, "--output_dir", tmp_path / "bench")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: --norms {norm} ") and "resnet20" in err[0] and "groups=" in err[0]
    assert "[Bench] resnet20" not in out and not (tmp_path / "bench").exists()


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["gn:0", "bn:4", "gn:x", "gx"])
def test_a_malformed_norm_is_a_usage_error_naming_it(norm):
    code, _, err = _benchmark("--norms", norm)
    assert code == 2 and err[-1].startswith("benchmark.py: error: argument --norms: invalid choice") and norm in err[-1]
