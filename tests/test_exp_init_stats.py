"""init_stats in its quick setting: per-seed numbers against theory, and verdicts recomputed from runs.csv."""
import csv
import math

import numpy as np
import pytest

from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


def _interval(values):
    mean, half = np.mean(values), t_quantile(len(values)) * np.std(values, ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def test_init_stats_claims_follow_from_the_per_seed_runs(tmp_path):
    ctx = run_quick("init_stats", tmp_path)  # quick: 4 layers of width 64, seeds 0 and 1
    runs = read_runs(tmp_path)
    assert len(runs) == 12 * 2
    ratio = {}
    for r in runs:
        ratio.setdefault(r["case"], []).append(math.log2(float(r["last_std"]) / float(r["first_std"])))
    first = [float(r["first_std"]) for r in runs if r["case"] == "tanh normal 0.01"]
    assert np.mean(first) == pytest.approx(0.01 * math.sqrt(64), rel=0.2)  # tanh(z) ~ z, std(z) = 0.01 sqrt(64)
    claims = {c["claim_en"].split(" (")[0]: c for c in ctx.claims}
    collapse = claims["tanh with std 0.01 collapses activations to 0"]
    assert (collapse["mean"], collapse["low"], collapse["high"]) == pytest.approx(_interval(ratio["tanh normal 0.01"]))
    assert collapse["raw_verdict"] == ("confirmed" if collapse["high"] < -10 else "inconclusive"
                                   if collapse["low"] < -10 else "refuted")
    kaiming = claims["Kaiming keeps ReLU's scale"]
    assert kaiming["mean"] == pytest.approx(np.mean(ratio["relu kaiming"]))
    worst = np.max([np.abs(v) for k, v in ratio.items() if k.endswith("+ BN")], axis=0)
    bn = next(c for c in ctx.claims if c["claim_en"].startswith("With BN"))
    assert (bn["mean"], bn["low"], bn["high"]) == pytest.approx(_interval(worst))
    assert bn["raw_verdict"] == "confirmed" and bn["high"] < 1
    saturated = [float(r["last_saturated_pct"]) for r in runs if r["case"] == "tanh normal 1.0"]
    assert claims["tanh with std 1.0 saturates at ±1"]["mean"] == pytest.approx(np.mean(saturated))
    row = {r["case"]: r for r in ctx.tables["activations"]["rows"]}["tanh normal 0.01"]
    assert row["L4 std"] == pytest.approx(np.mean([float(r["last_std"]) for r in runs
                                                   if r["case"] == "tanh normal 0.01"]))


def test_init_stats_in_chinese(tmp_path):
    run_quick("init_stats", tmp_path, "lang=zh", "params.cases=[[\"relu\", \"kaiming\", 0.0]]")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 情形 | 第一层 std |" in report and "插入 BN 后" in report
