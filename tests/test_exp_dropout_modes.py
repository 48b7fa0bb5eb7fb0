"""dropout_modes, quick setting: formulas, Monte Carlo expectation, verdicts recomputed from the per-seed runs."""
import csv
import math

import numpy as np
import pytest

from experiment_runs import run_quick, seed_interval


def _verdict_within(low, high, margin):
    return "confirmed" if -margin < low and high < margin else (
        "refuted" if low >= margin or high <= -margin else "inconclusive")


@pytest.mark.slow
def test_dropout_modes_claims_follow_from_the_runs(tmp_path):
    ctx = run_quick("dropout_modes", tmp_path)  # quick: p 0.5, 2000 masks, seeds 0 and 1, 2 epochs
    with open(tmp_path / "runs.csv", newline="") as handle:
        runs = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    assert [r["seed"] for r in runs] == [0, 1]
    claims = ctx.claims
    assert [c["verdict"] for c in claims[:1] + claims[4:5]] == ["passed", "passed"]  # formulas, exact scaling
    differences = [r["top1 % downscale_in_infer"] - r["top1 % upscale_in_train"] for r in runs]
    mean, half = seed_interval(differences)
    same = claims[3]
    assert same["claim_en"].startswith("The two modes train equally well")
    assert (same["mean"], same["low"], same["high"]) == pytest.approx((mean, mean - half, mean + half))
    assert same["raw_verdict"] == _verdict_within(mean - half, mean + half, 1.0)
    ratios = [r["norm ratio W_down/W_up after dropout"] - 2.0 for r in runs]
    weights = claims[5]
    assert weights["mean"] == pytest.approx(np.mean(ratios))
    assert weights["raw_verdict"] == _verdict_within(weights["low"], weights["high"], 0.2)
    for claim in claims[1:3]:  # relative deviation of train from eval outputs: values ±100% per draw (p = 0.5)
        assert claim["high"] - claim["mean"] == pytest.approx(196 / math.sqrt(2000 * 5), rel=0.02)
        assert abs(claim["mean"]) < claim["high"] - claim["mean"]
    exact = ctx.tables["equivalence"]["rows"][0]
    assert exact["max rel diff W_down*(1-p) vs W_up"] < 1e-5 and exact["max abs logit difference"] < 1e-4
    assert exact["top1 % upscale"] == exact["top1 % downscale (scaled start, lr/(1-p)^2)"]
    assert exact["top1 % upscale"] == runs[0]["top1 % upscale_in_train"]
    axis = {r["dropout"]: r for r in ctx.tables["axis"]["rows"]}
    assert axis["channel (axis=[0, 1])"]["values inside a kept channel all equal"]
    assert axis["element (axis=None)"]["fully zeroed channels"] < 0.01
    assert {"monte_carlo.png", "training.png"} <= {path.name for path in tmp_path.iterdir()}


@pytest.mark.slow
def test_dropout_modes_in_chinese(tmp_path):
    run_quick("dropout_modes", tmp_path, "lang=zh", "params.epochs=1", "params.mc_samples=200")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "两种模式训练得一样好" in report and "| 种子 |" in report
