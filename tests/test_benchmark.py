"""tools/benchmark.py's pieces: the rows, ratios and tables it writes (no speed is asserted here)."""
import csv

import numpy as np
import pytest

from ppnorm.benchmark.cli import benchmark_main
from ppnorm.benchmark.memory import peak_memory_mib
from ppnorm.benchmark.suite import Suite
from ppnorm.benchmark.timing import side_by_side


def test_side_by_side_times_every_candidate_in_turn():
    calls = []
    rates = side_by_side({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 4, 1, 3)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up a, b; then the order rotates
    assert set(rates) == {"a", "b"} and all(rate > 0 for rate in rates.values())


@pytest.mark.slow
def test_suite_rows_name_what_each_ratio_is_against():
    rows = Suite(image_size=32, num_classes=10, warmup=1, repeats=1, memory=False, log=lambda line: None).run(
        ["resnet18"], ["bn", "gn"], [2], ["eval", "infer"])
    by_key = {(r["implementation"], r["norm"], r["mode"]): r for r in rows}
    assert set(by_key) == {("ppnorm", "bn", "eval"), ("ppnorm", "gn", "eval"), ("paddle.vision", "bn", "eval"),
                           ("ppnorm exported (oneDNN fp32)", "bn", "infer"), ("ppnorm exported (oneDNN fp32)", "gn", "infer")}
    assert by_key[("ppnorm", "bn", "eval")]["ratio_against"] == "paddle.vision"
    assert by_key[("ppnorm", "gn", "eval")]["ratio_against"] == "ppnorm bn"
    assert by_key[("paddle.vision", "bn", "eval")]["ratio"] is None
    infer = by_key[("ppnorm exported (oneDNN fp32)", "bn", "infer")]
    assert infer["ratio_against"] == "ppnorm dygraph eval" and infer["relative_diff"] < 1e-4
    for row in rows:
        assert row["images_per_s"] > 0 and (row["ratio"] is None or row["ratio"] > 0)


@pytest.mark.slow
def test_peak_memory_is_measured_in_a_fresh_process():
    peak = peak_memory_mib(model="resnet20", implementation="ppnorm", norm="bn", batch=2, mode="train",
                           image_size=16, num_classes=10, warmup=1, threads=1)
    assert peak is not None and 0 < peak < 2048


@pytest.mark.slow
def test_benchmark_tool_writes_csv_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    code = benchmark_main(["--models", "resnet18", "--modes", "train", "--batch_sizes", "2", "--image_size", "32",
                           "--warmup", "1", "--repeats", "1", "--no_memory", "--loader_epochs", "1",
                           "--output", str(out)])
    assert code == 0
    with open(out / "benchmark.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["implementation"], r["mode"]) for r in rows[:2]] == [("ppnorm", "train"), ("paddle.vision", "train")]
    assert [r["implementation"] for r in rows[2:]] == ["pre-built tensors", "real DataLoader"]
    assert np.isfinite(float(rows[3]["ratio"]))
    table = (out / "benchmark.md").read_text()
    assert table.startswith("`python tools/benchmark.py --models resnet18") and "| resnet18 | ppnorm | bn |" in table


def test_bad_benchmark_arguments_fail_in_one_line_before_any_timing(tmp_path, capsys):
    assert benchmark_main(["--loader_config", str(tmp_path / "missing.yaml"), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: config file not found: {tmp_path / 'missing.yaml'}; give a YAML file or the name of a "
                   f"shipped config such as digits/resnet20 (ppnorm train --list-configs)")
    with pytest.raises(SystemExit):
        benchmark_main(["--norms", "sync_bn"])  # argparse: invalid choice (no CPU kernel)
    assert "invalid choice: 'sync_bn'" in capsys.readouterr().err
