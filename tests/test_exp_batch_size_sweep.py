"""batch_size_sweep in its quick setting: ghost batches are BN over groups, GN ignores the batch, and the
verdicts follow from the per-seed runs."""
import csv

import numpy as np
import paddle
import pytest

from ppnorm.experiments.batch_size_sweep import GhostBatchNorm, error_pct, ghost_batches
from ppnorm.experiments.stats import t_quantile
from ppnorm.models import build_model

from experiment_runs import run_quick


def test_ghost_batch_norm_normalizes_each_group_and_updates_running_stats_per_group():
    paddle.seed(0)
    x = paddle.randn([8, 3, 2, 2]) * 2 + 1
    ghost = GhostBatchNorm(paddle.nn.BatchNorm2D(3), 2)
    out = ghost(x).numpy()
    data, running = x.numpy(), np.zeros(3)
    for part in range(4):
        group = data[2 * part:2 * part + 2]
        mean, var = group.mean(axis=(0, 2, 3)), group.var(axis=(0, 2, 3))
        expected = (group - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
        np.testing.assert_allclose(out[2 * part:2 * part + 2], expected, atol=1e-5)
        running = 0.9 * running + 0.1 * mean  # Paddle's momentum convention, once per group
    np.testing.assert_allclose(ghost.bn._mean.numpy(), running, atol=1e-6)
    model = build_model("resnet20", in_channels=1, num_classes=10)
    assert ghost_batches(model, 2) == 21  # stem + 9 blocks x 2 + 2 downsample shortcuts


def test_batch_statistics_error_leaves_the_running_statistics_alone():
    paddle.seed(0)
    model = build_model("resnet20", in_channels=1, num_classes=10)
    images, labels = paddle.randn([64, 1, 8, 8]), paddle.randint(0, 10, [64])
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    error_pct(model, images, labels, batch_statistics=True, size=32)
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_claims_are_computed_from_the_runs(tmp_path):
    ctx = run_quick("batch_size_sweep", tmp_path)
    with open(tmp_path / "runs.csv", newline="") as handle:
        runs = {(r["norm"], int(r["batch"]), int(r["seed"])): r for r in csv.DictReader(handle)}
    assert sorted(runs) == [("bn", 4, 0), ("bn", 4, 1), ("bn", 32, 0), ("bn", 32, 1), ("gn", 32, 0), ("gn", 32, 1)]
    error = {key: float(r["error_pct"]) for key, r in runs.items()}
    for r in runs.values():  # GN has no batch statistics: both evaluations agree exactly
        assert r["norm"] == "bn" or float(r["error_pct"]) == float(r["batch_stats_error_pct"])
    claims = {c["claim_en"].split(":")[0]: c for c in ctx.claims}
    assert claims["GN's error does not depend on the batch size (its statistics are per sample)"]["verdict"] == "passed"
    for name, a, b in (("BN's error grows as its batch shrinks", ("bn", 4), ("bn", 32)),
                       ("BN hurts at batch 4", ("bn", 4), ("gn", 32))):
        differences = [error[(*a, s)] - error[(*b, s)] for s in (0, 1)]
        mean = np.mean(differences)
        half = t_quantile(2) * np.std(differences, ddof=1) / np.sqrt(2)
        claim = claims[name]
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx((mean, mean - half, mean + half))
        assert claim["raw_verdict"] == ("confirmed" if mean - half > 0 else "refuted" if mean + half <= 0 else "inconclusive")
    rows = {(r["norm"], r["batch"]): r for r in ctx.tables["errors"]["rows"]}
    assert rows[("gn", 4)]["mean"] == rows[("gn", 32)]["mean"] == pytest.approx(np.mean([error[("gn", 32, s)] for s in (0, 1)]))
    assert rows[("bn", 4)]["paper %"] == 27.3


@pytest.mark.slow
def test_chinese_report(tmp_path):
    ctx = run_quick("batch_size_sweep", tmp_path, "lang=zh", "params.norms=[bn]", "params.seeds=2")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 归一化 | batch 大小 | 错误率 % | batch 统计量错误率 % |" in report
    assert ctx.claims[0]["claim"].startswith("BN 的错误率随 batch 变小而上升")
