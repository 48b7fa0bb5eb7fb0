"""activation_with_bn in its quick setting: verdicts recomputed by hand from the per-seed runs."""
import csv

import numpy as np
import pytest

from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


def _interval(values):
    mean = np.mean(values)
    half = t_quantile(len(values)) * np.std(values, ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def _verdict(low, high, side):
    if low == high:  # 2 identical runs: the sign rule's p = 1/4 (stats.one_sided_p) decides nothing
        return "inconclusive"
    if side == "greater":
        return "confirmed" if low > 0 else ("refuted" if high <= 0 else "inconclusive")
    return "confirmed" if high < 0 else ("refuted" if low >= 0 else "inconclusive")


@pytest.mark.slow
def test_claims_are_computed_from_the_runs(tmp_path):
    ctx = run_quick("activation_with_bn", tmp_path)
    with open(tmp_path / "runs.csv", newline="") as handle:
        runs = {(r["activation"], r["norm"], int(r["seed"])): r for r in csv.DictReader(handle)}
    assert sorted(runs) == [(a, n, s) for a in ("relu", "sigmoid") for n in ("bn", "none") for s in (0, 1)]
    budget = 2 * (1437 // 32)  # quick: 2 epochs of batch 32 on the 1437 training digits
    for r in runs.values():  # an unreached target counts as the budget
        assert int(r["steps_to_target"]) == budget or r["reached"] == "True"
    claims = {c["claim_en"]: c for c in ctx.claims}
    for act in ("sigmoid", "relu"):
        steps = [int(runs[(act, "none", s)]["steps_to_target"]) - int(runs[(act, "bn", s)]["steps_to_target"])
                 for s in (0, 1)]
        claim = next(c for k, c in claims.items() if k.startswith(f"BN always speeds training ({act})"))
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx(_interval(steps))
        assert claim["raw_verdict"] == _verdict(claim["low"], claim["high"], "greater")
        hurt = [float(runs[(act, "bn", s)]["top1_pct"]) - float(runs[(act, "none", s)]["top1_pct"]) for s in (0, 1)]
        claim = claims[f"BN hurts {act} networks: lower final top-1 with BN"]
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx(_interval(hurt))
        assert claim["raw_verdict"] == _verdict(claim["low"], claim["high"], "less")
    chance = claims["Without BN the sigmoid MLP stays at chance: final held-out top-1 within 5 points of 10%"]
    plain = [float(runs[("sigmoid", "none", s)]["top1_pct"]) - 10 for s in (0, 1)]
    assert (chance["mean"], chance["low"], chance["high"]) == pytest.approx(_interval(plain))
    inside = -5 < chance["low"] and chance["high"] < 5
    outside = chance["low"] >= 5 or chance["high"] <= -5
    constant = chance["low"] == chance["high"]  # 2 identical runs decide nothing (sign rule)
    assert chance["raw_verdict"] == ("inconclusive" if constant else "confirmed" if inside else "refuted" if outside
                                     else "inconclusive")


@pytest.mark.slow
def test_table_means_and_chinese_report(tmp_path):
    ctx = run_quick("activation_with_bn", tmp_path, "lang=zh", "params.acts=[tanh]")
    runs = read_runs(tmp_path)
    rows = {r["BN"]: r for r in ctx.tables["activations"]["rows"]}
    with_bn = [float(r["top1_pct"]) for r in runs if r["norm"] == "bn"]
    assert rows[True]["top1 mean"] == pytest.approx(np.mean(with_bn))
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 激活函数 | BN | 最终 top-1 % |" in report
    assert ctx.claims[0]["claim"].startswith("BN 总能加速训练（tanh）")
