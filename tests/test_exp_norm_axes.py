"""norm_axes: statistics counts of each norm, from-scratch vs paddle.nn, and claims decided by ctx.check."""
import csv

import numpy as np
import paddle
import pytest

from experiment_runs import run_quick


@pytest.mark.slow
def test_norm_axes_matches_paddle_nn(tmp_path):
    ctx = run_quick("norm_axes", tmp_path)
    rows = {r["norm"]: r for r in ctx.tables["axes"]["rows"]}
    n, c, h, w = ctx.params["shape"]  # quick: [2, 4, 3, 3], 2 groups
    expected = {"BatchNorm2D": (n * h * w, c), "LayerNorm": (c * h * w, n), "InstanceNorm2D": (h * w, n * c),
                "GroupNorm": (c // 2 * h * w, n * 2)}
    assert {k: (r["values per statistic"], r["number of statistics"]) for k, r in rows.items()} == expected
    for row in rows.values():
        assert max(row["paddle.nn vs numpy over these axes"], row["output err"], row["dx err"],
                   row["dgamma err"], row["dbeta err"]) < 1e-4
    with open(tmp_path / "claims.csv", newline="", encoding="utf-8") as handle:
        claims = list(csv.DictReader(handle))
    assert [c["verdict"] for c in claims] == ["passed", "passed"]
    worst = max(max(r["output err"], r["dx err"], r["dgamma err"], r["dbeta err"]) for r in rows.values())
    assert claims[1]["deciding"].startswith(f"{worst:.2g} ")


def test_the_axes_check_would_catch_the_wrong_axes():
    """The yardstick: BatchNorm2D's output differs by ~1 from a per-sample (LayerNorm axes) numpy version."""
    x = (np.random.default_rng(0).standard_normal([2, 4, 3, 3]) * 3 + 2).astype("float32")
    y = paddle.nn.BatchNorm2D(4)(paddle.to_tensor(x)).numpy()
    per_sample = (x - x.mean(axis=(1, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(1, 2, 3), keepdims=True) + 1e-5)
    assert np.abs(y - per_sample).max() > 0.1


def test_norm_axes_in_chinese(tmp_path):
    run_quick("norm_axes", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 归一化 | 求统计量的轴 | 每个统计量用到的值数 | 统计量个数 |" in report and "N, H, W（每个通道）" in report
