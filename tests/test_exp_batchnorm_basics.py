"""batchnorm_basics: Paddle's BatchNorm numbers against hand-computed values, and the claims decided by ctx.check."""
import csv

import pytest


from experiment_runs import run_quick


def test_batchnorm_basics_reproduces_paddle_s_numbers(tmp_path):
    ctx = run_quick("batchnorm_basics", tmp_path)
    running = ctx.tables["running"]["rows"]
    assert running[0]["running_mean"] == pytest.approx(0.55, abs=1e-6)
    assert running[0]["running_var (Paddle)"] == pytest.approx(2.0916667, abs=1e-6)  # 0.9 + 0.1 * 143/12
    assert running[0]["PyTorch (unbiased)"] == pytest.approx(2.2, abs=1e-6)  # 0.9 + 0.1 * 13
    for row in running:
        assert row["running_mean"] == pytest.approx(5.5 * (1 - 0.9 ** row["k"]), abs=1e-5)
        assert row["running_var (Paddle)"] == pytest.approx(1 + (143 / 12 - 1) * (1 - 0.9 ** row["k"]), abs=1e-5)
    assert max(r["max abs diff vs numpy"] for r in ctx.tables["examples"]["rows"]) < 1e-5
    table = {(r["use_global_stats"], r["mode"]): (r["normalizes with"], r["running stats updated"])
             for r in ctx.tables["global_stats"]["rows"]}
    assert table[("None", "train")] == ("batch", True) and table[("None", "eval")] == ("running", False)
    assert table[("True", "train")] == ("running", False) and table[("False", "eval")] == ("batch", True)
    assert all(r["output == input"] for r in ctx.tables["one_value"]["rows"])
    with open(tmp_path / "claims.csv", newline="", encoding="utf-8") as handle:
        claims = list(csv.DictReader(handle))
    assert len(claims) == 5 and {c["verdict"] for c in claims} == {"confirmed"}
    assert all(c["claim_zh"] != c["claim_en"] for c in claims)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**Question.**" in report and "2.091667" in report and "running_statistics.png" in report


def test_batchnorm_basics_in_chinese(tmp_path):
    ctx = run_quick("batchnorm_basics", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 例子 | 模式 | 统计量 | 与 numpy 的最大绝对差 | 第一行 |" in report
    assert ctx.claims[1]["claim"].startswith("running = 0.9") and "成立" in report
