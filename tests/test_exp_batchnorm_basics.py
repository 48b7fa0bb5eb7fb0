"""batchnorm_basics: Paddle's BatchNorm numbers against numpy (train and eval outputs, running statistics with
Paddle's momentum convention and the biased variance, use_global_stats, gamma and beta undoing the normalization),
and the identities reported as checks."""
import csv
from types import SimpleNamespace

import numpy as np
import paddle
import pytest

from experiment_runs import quick_context, read_runs, run_quick
from ppnorm.experiments import batchnorm_basics as basics
from ppnorm.experiments.bn_identity import train_gradient, undo_batch, undo_normalization

GOLDEN = np.arange(12, dtype="float32").reshape(2, 1, 2, 3)


def _context(tmp_path):
    return quick_context(basics, tmp_path, quick=False)


def _recursion(batches, torch_momentum, ddof=0):
    """PyTorch's running statistics by hand: r <- (1 - m) r + m * batch statistic, from (0, 1), after each batch."""
    mean, var, found = 0.0, 1.0, []
    for x in batches:
        x = x.astype("float64")
        mean = (1 - torch_momentum) * mean + torch_momentum * x.mean()
        var = (1 - torch_momentum) * var + torch_momentum * x.var(ddof=ddof)
        found.append((mean, var))
    return np.array(found)


def test_numpy_bn_is_batchnorm_in_train_mode():
    x = (np.random.default_rng(0).standard_normal((5, 3, 2, 2)) * 3 + 1).astype("float32")
    by_hand = np.empty_like(x)
    for c in range(3):
        by_hand[:, c] = (x[:, c] - x[:, c].mean()) / np.sqrt(x[:, c].var() + 1e-5)
    assert np.abs(basics.numpy_bn(x, basics.AXES, 1e-5) - by_hand).max() < 1e-6
    paddle_out = paddle.nn.BatchNorm2D(3, epsilon=1e-5)(paddle.to_tensor(x)).numpy()
    assert np.abs(paddle_out - by_hand).max() < 1e-5


def test_golden_case_running_statistics():
    """arange(12): mu 5.5, biased variance 143/12; one step from (0, 1) with momentum 0.9 gives 0.55 and 2.0916667
    (PyTorch's unbiased convention: 2.2); every step follows the recursion with the biased variance."""
    rows = basics.running_rows(GOLDEN, 0.1, 10, 1e-5)
    assert rows[0]["running_mean"] == pytest.approx(0.55, abs=1e-6)
    assert rows[0]["running_var (Paddle)"] == pytest.approx(0.9 + 0.1 * 143 / 12, abs=1e-6)
    assert rows[0]["PyTorch (unbiased)"] == pytest.approx(2.2, abs=1e-6)
    by_hand, unbiased = _recursion([GOLDEN] * 10, 0.1), _recursion([GOLDEN] * 10, 0.1, ddof=1)
    assert np.abs([(r["running_mean"], r["running_var (Paddle)"]) for r in rows] - by_hand).max() < 1e-5
    assert [r["PyTorch (unbiased)"] for r in rows] == pytest.approx(unbiased[:, 1].tolist(), abs=1e-6)
    assert min(r["PyTorch (unbiased)"] - r["running_var (Paddle)"] for r in rows) > 0.1  # the check tells them apart
    assert max(r["mean err"] + r["var err"] + r["output err"] for r in rows) < 1e-5


@pytest.mark.parametrize("torch_momentum", [0.1, 0.01, 0.5])
def test_paddle_momentum_is_one_minus_pytorch_s(torch_momentum):
    """The cell's layer (Paddle momentum 1 - m) against PyTorch's recursion with m, on the cell's batch of seed 3."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 1, 3, 3)) * rng.uniform(0.5, 3) + rng.normal(0, 2)).astype("float32")
    rows = basics.running_rows(x, torch_momentum, 6, 1e-5)
    found = [(r["running_mean"], r["running_var (Paddle)"]) for r in rows]
    assert np.abs(np.array(found) - _recursion([x] * 6, torch_momentum)).max() < 1e-5
    ctx = SimpleNamespace(params={"steps": 6, "epsilon": 1e-5})
    errors = basics.cell(ctx, {"PyTorch momentum": torch_momentum}, 3)
    assert errors["mean_eps"] == pytest.approx(max(r["mean err"] for r in rows) / np.finfo("float32").eps)
    assert all(0 <= value < 100 for value in errors.values())


def test_use_global_stats_table_and_check(tmp_path):
    ctx = _context(tmp_path)
    assert basics._global_stats(ctx, 1e-5) == "passed"
    table = {(r["use_global_stats"], r["mode"]): (r["normalizes with"], r["running stats updated"])
             for r in ctx.tables["global_stats"]["rows"]}
    assert table == {("None", "train"): ("batch", True), ("None", "eval"): ("running", False),
                     ("True", "train"): ("running", False), ("True", "eval"): ("running", False),
                     ("False", "train"): ("batch", True), ("False", "eval"): ("batch", True)}


def test_gamma_beta_undo_the_normalization(tmp_path):
    """The undo table against numpy: BN(x) = x, the eval gradient is w, the train gradient is the projection."""
    ctx = _context(tmp_path)
    train, ones, frozen = undo_normalization(ctx, 1e-5)
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
    assert [c["verdict"] for c in ctx.claims] == ["passed", "passed", "failed", "passed"]  # the notes' train gradient


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


@pytest.mark.slow
def test_quick_preset_reports_every_identity_as_a_check(tmp_path):
    ctx = run_quick("batchnorm_basics", tmp_path)
    examples = ctx.tables["examples"]["rows"]
    assert max(r["max abs diff vs numpy"] for r in examples) < 1e-5
    assert examples[0]["first row"] == "[-1.2247, -1.2247, -1.2247]"  # (1 - 4) / sqrt(6 + 1e-5)
    runs = read_runs(tmp_path)
    assert sorted((float(r["PyTorch momentum"]), int(r["seed"])) for r in runs) == [
        (m, s) for m in (0.01, 0.1, 0.5) for s in (0, 1)]
    with open(tmp_path / "claims.csv", newline="", encoding="utf-8") as handle:
        claims = list(csv.DictReader(handle))
    assert {c["kind"] for c in claims} == {"check"} and len(claims) == 9
    assert [c["verdict"] for c in claims] == ["passed"] * 7 + ["failed", "passed"]  # the notes' train gradient
    assert all(c["claim_zh"] != c["claim_en"] for c in claims)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "2.091667" in report and (tmp_path / "running_statistics.png").is_file()


@pytest.mark.slow
def test_batchnorm_basics_in_chinese(tmp_path):
    run_quick("batchnorm_basics", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 例子 | 模式 | 统计量 | 与 numpy 的最大绝对差 | 第一行 |" in report and "| 通过 |" in report
