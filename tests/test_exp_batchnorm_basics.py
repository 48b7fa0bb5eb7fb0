"""batchnorm_basics: Paddle's BatchNorm numbers against hand-computed values, and the claims decided by ctx.check."""
import csv

import numpy as np
import pytest

from experiment_runs import run_quick
from ppnorm.experiments.bn_identity import train_gradient, undo_batch


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
    assert len(claims) == 9 and {c["verdict"] for c in claims[:5]} == {"passed"}
    # gamma, beta undo the normalization: forward in train mode and everything in eval mode, not the train gradient
    assert [c["verdict"] for c in claims[5:]] == ["passed", "passed", "failed", "passed"]
    assert all(c["claim_zh"] != c["claim_en"] for c in claims)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**Question.**" in report and "2.091667" in report and "running_statistics.png" in report


def test_batchnorm_basics_in_chinese(tmp_path):
    ctx = run_quick("batchnorm_basics", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 例子 | 模式 | 统计量 | 与 numpy 的最大绝对差 | 第一行 |" in report
    assert ctx.claims[1]["claim"].startswith("running = 0.9") and "| 通过 |" in report


def test_gamma_beta_undo_the_normalization(tmp_path):
    """The undo table against numpy: BN(x) = x, the eval gradient is w, the train gradient is the projection."""
    ctx = run_quick("batchnorm_basics", tmp_path)
    train, ones, frozen = ctx.tables["undo"]["rows"]
    assert max(train["max |BN(x) - x|"], ones["max |BN(x) - x|"], frozen["max |BN(x) - x|"]) < 1e-5
    assert frozen["|dx - w| / |w|"] < 1e-6 and frozen["max |dx - expected|"] < 1e-6
    assert ones["|dx - w| / |w|"] == pytest.approx(1.0, abs=1e-6)  # d sum(BN(x)) / dx = 0 in train mode
    x = undo_batch().astype("float64")
    w = np.random.default_rng(3).standard_normal(x.shape).astype("float32").astype("float64")
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    by_hand = np.linalg.norm(train_gradient(x, w, mean, var, 1e-5) - w) / np.linalg.norm(w)
    assert train["|dx - w| / |w|"] == pytest.approx(by_hand, abs=1e-5)
    assert 0.05 < train["|dx - w| / |w|"] < 0.2  # two directions removed per channel of 128 values: ~sqrt(2/128)
    assert max(train["max |dx - expected|"], ones["max |dx - expected|"]) < 1e-5


def test_train_gradient_formula_against_finite_differences():
    """train_gradient is d sum(w * BN(x)) / dx with gamma, beta held at sqrt(var_B + eps), mu_B (float64 numpy)."""
    rng = np.random.default_rng(5)
    x, w, eps = rng.standard_normal((3, 2, 2, 2)) * 2 + 1, rng.standard_normal((3, 2, 2, 2)), 1e-5
    gamma, beta = np.sqrt(x.var(axis=(0, 2, 3)) + eps), x.mean(axis=(0, 2, 3))

    def loss(z):
        mean, var = z.mean(axis=(0, 2, 3), keepdims=True), z.var(axis=(0, 2, 3), keepdims=True)
        y = (z - mean) / np.sqrt(var + eps) * gamma[None, :, None, None] + beta[None, :, None, None]
        return float((w * y).sum())

    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = (loss(x + step) - loss(x - step)) / 2e-6
    analytic = train_gradient(x, w, x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)), eps)
    assert np.abs(analytic - numeric).max() < 1e-6
    assert np.abs(analytic - w).max() > 0.1  # and it is not the identity's gradient
