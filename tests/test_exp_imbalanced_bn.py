"""imbalanced_bn in its quick setting: a 99:1 training set, and verdicts recomputed from the per-seed runs."""

import numpy as np
import pytest

from ppnorm.experiments.imbalanced_bn import _imbalanced
from ppnorm.experiments.stats import t_quantile
from ppnorm.experiments.training import digits

from experiment_runs import read_runs, run_quick


def test_training_set_is_99_to_1_and_seeded():
    images, labels = digits("train")
    _, first = _imbalanced(images, labels, 0, 99, seed=0)
    _, again = _imbalanced(images, labels, 0, 99, seed=0)
    counts = np.bincount(first.numpy(), minlength=2)
    assert counts[0] == int((labels.numpy() != 0).sum())  # every other digit is a negative
    assert counts[0] / counts[1] == pytest.approx(99, rel=0.05)
    assert np.array_equal(first.numpy(), again.numpy())


@pytest.mark.slow
def test_claims_are_paired_differences_of_the_runs(tmp_path):
    ctx = run_quick("imbalanced_bn", tmp_path)
    runs = read_runs(tmp_path)
    score = {(r["norm"], int(r["seed"])): float(r["balanced_accuracy"]) for r in runs}
    assert sorted(score) == [("bn", 0), ("bn", 1), ("none", 0), ("none", 1)]
    assert all(0.0 <= v <= 1.0 for v in score.values())
    differences = [score[("bn", s)] - score[("none", s)] for s in (0, 1)]
    mean = np.mean(differences)
    half = t_quantile(2) * np.std(differences, ddof=1) / np.sqrt(2)
    (claim,) = ctx.claims
    assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx((mean, mean - half, mean + half))
    expected = "confirmed" if mean + half < 0 else ("refuted" if mean - half > 0 else "inconclusive")
    expected = "inconclusive" if half == 0 else expected  # 2 identical runs (both at chance): sign rule p = 1/4
    assert claim["raw_verdict"] == expected and claim["side"] == "less"
    rows = {r["norm"]: r for r in ctx.tables["imbalanced"]["rows"]}
    assert rows["bn"]["mean"] == pytest.approx((score[("bn", 0)] + score[("bn", 1)]) / 2)
    assert rows["bn"]["negatives"] / rows["bn"]["positives in training"] == pytest.approx(99, rel=0.05)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "±" in report and "imbalanced_bn.png" in report


@pytest.mark.slow
def test_chinese_report(tmp_path):
    ctx = run_quick("imbalanced_bn", tmp_path, "lang=zh", "params.norms=[bn, gn]")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 归一化 | balanced accuracy | 少数类召回率 |" in report
    assert ctx.claims[0]["claim"].startswith("BN 在极不平衡")
