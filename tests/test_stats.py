"""The verdict protocol of the experiments: intervals and p-values against values worked out by hand (t table:
t_.975(4) = 2.7764, t_.975(2) = 4.3027) and against scipy.stats; the four verdict words on constructed samples;
TOST; Holm and Benjamini-Hochberg; the constant-sample rule; failed runs counted; claims.csv reading."""
import csv
import math

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is the reference the p-values are checked against "
                                  "(and ppnorm.experiments.stats needs its t distribution)")

from ppnorm.experiments.context import Context  # noqa: E402
from ppnorm.experiments.stats import (ALPHA, Estimate, adjusted_verdict, benjamini_hochberg, decide,  # noqa: E402
                                      decision, holm, mean_interval, one_sided_p, paired_difference, t_quantile,
                                      tost_p, welch_difference)
from ppnorm.experiments.summary import read_claims_file, verdict_table  # noqa: E402

RNG = np.random.default_rng(20261207)
TIGHT = [0.05, -0.1, 0.02, 0.08, -0.04, 0.0, 0.03, -0.06]  # mean -0.0025, 95% interval about ±0.05


def test_alpha_is_the_tail_of_the_shown_interval():
    assert ALPHA == pytest.approx(0.025)


def test_t_quantiles_match_the_printed_table():
    assert t_quantile(5) == pytest.approx(2.7764, abs=1e-4)
    assert t_quantile(3) == pytest.approx(4.3027, abs=1e-4)
    assert t_quantile(31) == pytest.approx(2.0423, abs=1e-4)


def test_mean_interval_by_hand():
    # mean 3, sample sd sqrt(2.5), standard error sqrt(2.5 / 5) = 0.70711, half-width 2.7764 * 0.70711
    estimate = mean_interval([1, 2, 3, 4, 5])
    assert estimate.mean == 3 and estimate.n == 5
    assert estimate.half_width == pytest.approx(2.7764 * math.sqrt(0.5), rel=1e-4)
    assert (estimate.low, estimate.high) == pytest.approx((3 - 1.96323, 3 + 1.96323), abs=1e-4)
    assert estimate.format(2, "%") == "3.00 ± 1.96%"


def test_paired_difference_uses_the_per_seed_differences():
    # differences 2, 3, 4: mean 3, sd 1, half-width 4.3027 / sqrt(3) = 2.48417; unpaired it would be far wider
    estimate = paired_difference([3, 5, 7], [1, 2, 3])
    assert estimate.mean == 3 and estimate.half_width == pytest.approx(2.48417, abs=1e-4)
    assert welch_difference([3, 5, 7], [1, 2, 3]).half_width > estimate.half_width
    with pytest.raises(ValueError, match="equal counts"):
        paired_difference([1, 2], [1, 2, 3])


def test_one_sided_p_by_hand():
    # [1..5] against 1.5: t = 1.5 / 0.70711 = 2.1213 with 4 dof; P(T > 2.1213) = 0.05064 (t table)
    assert one_sided_p(mean_interval([1, 2, 3, 4, 5]), "greater", 1.5) == pytest.approx(0.05064, abs=1e-4)
    assert one_sided_p(mean_interval([1, 2, 3, 4, 5]), "less", 1.5) == pytest.approx(1 - 0.05064, abs=1e-4)


@pytest.mark.parametrize("side", ["greater", "less"])
@pytest.mark.parametrize("margin", [0.0, 0.4, -1.0])
def test_one_sided_p_and_intervals_match_scipy(side, margin):
    a, b = RNG.normal(0.3, 1.0, 6), RNG.normal(0.0, 1.0, 6)
    paired = scipy_stats.ttest_rel(a, b + margin, alternative=side)  # a - b against margin
    assert one_sided_p(paired_difference(a, b), side, margin) == pytest.approx(paired.pvalue, rel=1e-9)
    low, high = scipy_stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (paired_difference(a, b).low, paired_difference(a, b).high) == pytest.approx((low, high), abs=1e-12)
    single = scipy_stats.ttest_1samp(a, margin, alternative=side)
    assert one_sided_p(mean_interval(a), side, margin) == pytest.approx(single.pvalue, rel=1e-9)
    c = RNG.normal(0.0, 2.0, 9)  # unequal counts and variances: Welch's degrees of freedom
    welch = scipy_stats.ttest_ind(a, c + margin, equal_var=False, alternative=side)
    assert one_sided_p(welch_difference(a, c), side, margin) == pytest.approx(welch.pvalue, rel=1e-9)
    assert one_sided_p(welch_difference(a, c).scaled(100), side, 100 * margin) == pytest.approx(welch.pvalue, rel=1e-9)


def test_welch_difference_matches_scipy():
    a, b = [1.0, 2.0, 3.0, 2.5], [4.0, 6.0, 8.0, 5.0, 7.5]
    estimate = welch_difference(a, b)
    low, high = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (estimate.low, estimate.high) == pytest.approx((low, high), abs=1e-9)


def test_tost_is_the_larger_of_two_scipy_one_sided_tests():
    x = RNG.normal(0.1, 0.5, 10)
    lower = scipy_stats.ttest_1samp(x, -0.8, alternative="greater").pvalue
    upper = scipy_stats.ttest_1samp(x, 0.8, alternative="less").pvalue
    assert tost_p(mean_interval(x), 0.8) == pytest.approx(max(lower, upper), rel=1e-9)
    with pytest.raises(ValueError, match="smallest effect of interest"):
        tost_p(mean_interval(x), 0.0)


def test_tost_at_alpha_is_the_95_interval_inside_the_sesoi():
    estimate = mean_interval(TIGHT)
    edge = max(abs(estimate.low), abs(estimate.high))
    assert tost_p(estimate, edge * 1.001) < ALPHA < tost_p(estimate, edge * 0.999)
    assert tost_p(estimate, edge) == pytest.approx(ALPHA, rel=1e-9)


SAMPLES = {"positive": [2.1, 2.9, 3.4, 2.6, 3.0], "negative": [-2.1, -2.9, -3.4, -2.6, -3.0],
           "straddling": [-1.0, 2.0, 0.5, -0.3, 1.5], "tight zero": TIGHT, "wide": [-9.0, 8.0, 3.0, -4.0, 1.0]}


@pytest.mark.parametrize("sample, side, margin, sesoi, verdict", [
    ("positive", "greater", 0.0, None, "confirmed"),
    ("positive", "greater", 0.0, 1.0, "confirmed"),  # the claim holds: confirmed comes before no effect
    ("positive", "greater", 2.5, None, "inconclusive"),  # above 0 but not surely above the margin 2.5
    ("positive", "less", 0.0, None, "refuted"),
    ("negative", "greater", 0.0, None, "refuted"),
    ("negative", "less", -1.0, None, "confirmed"),
    ("straddling", "greater", 0.0, None, "inconclusive"),
    ("straddling", "greater", 0.0, 1.0, "inconclusive"),  # no effect needs the interval inside ±sesoi
    ("straddling", "greater", 0.0, 10.0, "no effect"),  # ... and with a sesoi of 10 it is
    ("tight zero", "greater", 0.0, None, "inconclusive"),  # a precise zero, but no sesoi declared
    ("tight zero", "greater", 0.0, 0.5, "no effect"),
    ("tight zero", "less", 0.0, 0.5, "no effect"),
    ("tight zero", "greater", 0.0, 0.04, "inconclusive"),  # interval wider than ±0.04
    ("tight zero", "within", 0.5, None, "confirmed"),  # a 'within' claim is an equivalence claim
    ("positive", "within", 1.0, None, "refuted"),  # wholly beyond +1
    ("negative", "within", 1.0, None, "refuted"),
    ("wide", "within", 1.0, None, "inconclusive"),
])
def test_verdict_words_on_constructed_samples(sample, side, margin, sesoi, verdict):
    estimate = mean_interval(SAMPLES[sample])
    found, p = decision(estimate, side, margin, sesoi)
    assert found == verdict and decide(estimate, side, margin, sesoi) == verdict
    assert (p <= ALPHA) == (verdict != "inconclusive")


@pytest.mark.parametrize("mean, half, side, margin, verdict", [
    (2.0, 1.0, "greater", 0.0, "confirmed"),  # [1, 3] above 0
    (2.0, 2.5, "greater", 0.0, "inconclusive"),  # [-0.5, 4.5] straddles 0
    (-2.0, 1.0, "greater", 0.0, "refuted"),  # [-3, -1] below 0
    (1.0, 1.0, "greater", 0.0, "inconclusive"),  # [0, 2]: p exactly ALPHA only at the edge; float puts it either side
    (2.0, 1.0, "greater", 1.5, "inconclusive"),  # [1, 3] straddles the margin 1.5
    (-2.0, 1.0, "less", 0.0, "confirmed"),
    (2.0, 1.0, "less", 0.0, "refuted"),
    (0.1, 0.3, "within", 0.5, "confirmed"),  # [-0.2, 0.4] inside ±0.5
    (0.4, 0.3, "within", 0.5, "inconclusive"),  # [0.1, 0.7] crosses 0.5
    (1.0, 0.3, "within", 0.5, "refuted"),  # [0.7, 1.3] wholly outside
    (-1.0, 0.3, "within", 0.5, "refuted"),
])
def test_decide_reads_the_95_interval(mean, half, side, margin, verdict):
    if (mean, half) == (1.0, 1.0):
        half = 1.0 + 1e-9  # just touching 0 from the inconclusive side
    assert decide(Estimate(mean, half, 5), side, margin) == verdict


def test_decide_refuses_nonsense():
    with pytest.raises(ValueError, match="side"):
        decide(Estimate(1.0, 0.1, 5), "bigger")
    with pytest.raises(ValueError, match="margin"):
        decide(Estimate(1.0, 0.1, 5), "within", 0.0)
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="give no sesoi"):
        decide(Estimate(1.0, 0.1, 5), "within", 0.5, sesoi=0.5)


def test_one_run_has_no_interval_and_decides_nothing():
    estimate = mean_interval([0.7])
    assert estimate.mean == 0.7 and math.isnan(estimate.half_width)
    assert estimate.format() == "0.70 (1 run)"
    assert decision(estimate, "greater") == ("inconclusive", pytest.approx(float("nan"), nan_ok=True))


@pytest.mark.parametrize("values, side, margin, verdict, p", [
    ([198.0] * 5, "greater", 0.0, "inconclusive", 0.5 ** 5),  # 5 identical runs: 1/32 > 2.5 %
    ([198.0] * 6, "greater", 0.0, "confirmed", 0.5 ** 6),  # 6 identical runs: 1/64
    ([198.0] * 6, "less", 0.0, "refuted", 0.5 ** 6),
    ([-3.0] * 5, "greater", 0.0, "inconclusive", 0.5 ** 5),
    ([0.0] * 8, "greater", 0.0, "inconclusive", 1.0),  # exactly on the margin: no side at all
    ([0.1] * 7, "greater", 0.0, "confirmed", 0.5 ** 7),  # the float mean of 0.1s is not exactly 0.1
])
def test_a_constant_sample_is_decided_by_the_sign_rule_not_by_zero_variance(values, side, margin, verdict, p):
    estimate = mean_interval(values)
    assert estimate.half_width == 0 and estimate.mean == values[0]
    assert decision(estimate, side, margin) == (verdict, pytest.approx(p))
    assert decision(paired_difference(values, [0.0] * len(values)), side, margin)[0] == verdict


def test_a_constant_sample_inside_the_sesoi_follows_the_same_rule():
    assert decision(mean_interval([0.0] * 5), "greater", 0.0, 1.0) == ("inconclusive", pytest.approx(0.5 ** 5))
    assert decision(mean_interval([0.0] * 6), "greater", 0.0, 1.0) == ("no effect", pytest.approx(0.5 ** 6))


def _holm_by_definition(p, alpha):
    """Holm's step-down rejections: walk up the sorted p-values while p_(k) <= alpha / (m - k)."""
    order, rejected = np.argsort(p, kind="stable"), set()
    for k, i in enumerate(order):
        if p[i] > alpha / (len(p) - k):
            break
        rejected.add(int(i))
    return rejected


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04, 0.2 times 5, 4, 3, 2, 1 -> 0.025, 0.04, 0.09, 0.08 (raised to 0.09), 0.2
    adjusted = holm([0.01, 0.04, 0.03, 0.005, 0.2])
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1


@pytest.mark.parametrize("trial", range(5))
@pytest.mark.parametrize("alpha", [0.025, 0.05, 0.2])
def test_holm_rejects_what_the_step_down_procedure_rejects(trial, alpha):
    p = np.random.default_rng(trial).uniform(0, 0.1, 12) ** (1 + trial)
    assert set(np.flatnonzero(holm(p) <= alpha)) == _holm_by_definition(p, alpha)


@pytest.mark.parametrize("trial", range(5))
def test_benjamini_hochberg_matches_scipy(trial):
    p = np.random.default_rng(100 + trial).uniform(0, 0.2, 15) ** (1 + trial)
    assert benjamini_hochberg(p) == pytest.approx(scipy_stats.false_discovery_control(p, method="bh"), rel=1e-12)


def test_adjustment_skips_claims_without_a_test():
    p = [0.01, float("nan"), 0.02]
    assert holm(p)[[0, 2]] == pytest.approx([0.02, 0.02]) and math.isnan(holm(p)[1])
    assert benjamini_hochberg(p)[[0, 2]] == pytest.approx(scipy_stats.false_discovery_control([0.01, 0.02]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


@pytest.mark.parametrize("raw, adjusted, verdict", [
    ("confirmed", 0.02, "confirmed"), ("confirmed", 0.03, "inconclusive"), ("refuted", 0.03, "inconclusive"),
    ("no effect", 0.03, "inconclusive"), ("no effect", 0.01, "no effect"), ("inconclusive", 0.001, "inconclusive"),
    ("confirmed", float("nan"), "inconclusive"),
])
def test_adjusted_verdict(raw, adjusted, verdict):
    assert adjusted_verdict(raw, adjusted) == verdict


def _context(tmp_path):
    settings = {"seed": 0, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}
    return Context("demo", None, settings, {}, log=lambda *a: None)


def test_holm_within_an_experiment_demotes_a_claim_confirmed_only_before_adjustment(tmp_path):
    ctx = _context(tmp_path)
    strong = [5.1, 4.9, 5.3, 5.0, 4.8]  # p about 1e-6
    weak = [0.9, 0.1, 1.4, 0.3, 1.1]  # p 0.018: confirmed alone; Holm over 3 claims gives 2 x 0.018 to both weak ones
    assert ctx.compare("strong", mean_interval(strong), "greater") == "confirmed"
    assert ctx.compare("weak", mean_interval(weak), "greater") == "confirmed"  # before adjustment
    assert ctx.compare("weak again", mean_interval(weak), "greater") == "confirmed"
    ctx.check("identity", 1e-7, 1e-6)
    strong_claim, weak_claim, again, check = ctx.finish_claims()
    raw = scipy_stats.ttest_1samp(weak, 0.0, alternative="greater").pvalue
    assert weak_claim["p"] == pytest.approx(raw, rel=1e-9) and ALPHA / 2 < raw < ALPHA
    for claim in (weak_claim, again):
        assert claim["p_holm"] == pytest.approx(2 * raw) and claim["verdict"] == "inconclusive"
        assert claim["raw_verdict"] == "confirmed"
    assert strong_claim["verdict"] == "confirmed" and strong_claim["p_holm"] == pytest.approx(3 * strong_claim["p"])
    assert (check["kind"], check["verdict"], check["p"]) == ("check", "passed", "")  # not in the Holm family


def test_failed_runs_are_counted_next_to_n(tmp_path):
    ctx = _context(tmp_path)
    ctx.compare(("ELU fixes it", "ELU 修好了"), Estimate(float("nan"), float("nan"), 0), "less", failed=5)
    ctx.compare("other", mean_interval([0.9, 0.2, 1.4, 0.5, 1.1]), "greater")
    failed, other = ctx.finish_claims()
    assert failed["failed"] == 5 and failed["n"] == 0 and "n=0, 5 failed" in failed["deciding"]
    assert failed["verdict"] == "inconclusive" and math.isnan(failed["p"])
    assert other["p_holm"] == pytest.approx(other["p"])  # a claim without a test is not in the family
    rows = [dict(c, experiment="demo") for c in ctx.claims]
    assert "| 0 (+5 failed) |" in verdict_table(rows)
    assert "| 0（另有 5 次失败） |" in verdict_table([dict(r) for r in rows], "zh")


def test_a_check_is_passed_or_failed_and_listed_apart(tmp_path):
    ctx = _context(tmp_path)
    assert ctx.check("formula", 2e-6, 1e-6) == "failed"
    ctx.compare("effect", mean_interval([5.1, 4.9, 5.3, 5.0, 4.8]), "greater")
    table = verdict_table([dict(c, experiment="demo") for c in ctx.finish_claims()])
    claims, checks = table.split("\n\nNumerical checks")
    assert "| effect | confirmed |" in claims and "formula" not in claims
    assert "| claim | result | error (tolerance) | experiment |" in checks
    assert "| formula | failed | 2e-06 (tolerance 1e-06) | `demo` |" in checks


OLD_COLUMNS = ["experiment", "claim_en", "claim_zh", "verdict", "deciding", "mean", "low", "high", "n", "side",
               "margin", "evidence"]


def test_a_claims_file_from_before_the_protocol_gets_its_p_values_from_the_stored_interval(tmp_path):
    a, b = RNG.normal(1.0, 1.0, 5), RNG.normal(0.0, 1.0, 5)
    estimate = paired_difference(a, b)
    path = tmp_path / "claims.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OLD_COLUMNS)
        writer.writeheader()
        writer.writerow({"experiment": "x", "claim_en": "a > b", "claim_zh": "a > b", "verdict": "confirmed",
                         "deciding": "", "mean": estimate.mean, "low": estimate.low, "high": estimate.high, "n": 5,
                         "side": "greater", "margin": 0.0})
        writer.writerow({"experiment": "x", "claim_en": "steps", "claim_zh": "steps", "verdict": "confirmed",
                         "deciding": "198 ± 0", "mean": 198.0, "low": 198.0, "high": 198.0, "n": 5,
                         "side": "greater", "margin": 0.0})
        writer.writerow({"experiment": "x", "claim_en": "identity", "claim_zh": "identity", "verdict": "refuted",
                         "deciding": "1 (tolerance 1e-05)", "mean": "nan", "low": "nan", "high": "nan", "n": 0})
    claim, steps, check = read_claims_file(str(path))
    p = scipy_stats.ttest_rel(a, b, alternative="greater").pvalue
    assert claim["kind"] == "interval" and claim["p"] == pytest.approx(p, rel=1e-9)
    assert steps["p"] == pytest.approx(0.5 ** 5) and steps["verdict"] == "inconclusive"  # was "confirmed"
    assert claim["p_holm"] == pytest.approx(2 * p if p < 0.5 ** 5 else max(p, 2 * 0.5 ** 5))  # Holm over 2 claims
    assert (check["kind"], check["verdict"]) == ("check", "failed")


@pytest.mark.parametrize("columns, message", [
    (["experiment", "claim_en", "claim_zh", "deciding"], "missing column 'verdict'"),
    (["a", "b"], "missing column 'experiment'"),
    (OLD_COLUMNS[:-3], "missing column 'side'"),
])
def test_a_foreign_claims_file_is_one_line_naming_the_file_and_column(tmp_path, capsys, columns, message):
    from ppnorm.experiments.cli import experiment_main
    (tmp_path / "norm_axes").mkdir()
    path = tmp_path / "norm_axes" / "claims.csv"
    path.write_text(",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n", encoding="utf-8")
    assert experiment_main(["--verdicts", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and message in err, err


def test_a_broken_row_or_verdict_is_one_line_too(tmp_path, capsys):
    from ppnorm.experiments.cli import experiment_main
    from ppnorm.experiments.runner import CLAIM_COLUMNS
    (tmp_path / "norm_axes").mkdir()
    path = tmp_path / "norm_axes" / "claims.csv"
    row = {c: "" for c in CLAIM_COLUMNS} | {"experiment": "norm_axes", "kind": "interval", "verdict": "proven"}
    for text, message in ((",".join(CLAIM_COLUMNS) + "\nnorm_axes,only two\n", "line 2: 2 fields where the header has"),
                          (",".join(CLAIM_COLUMNS) + "\n" + ",".join(row.values()) + "\n", "verdict 'proven'")):
        path.write_text(text, encoding="utf-8")
        assert experiment_main(["--verdicts", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(path) in err and message in err, err


def test_upgrade_tool_rewrites_an_old_claims_file_and_its_report(tmp_path):
    import importlib.util
    import os
    spec = importlib.util.spec_from_file_location(
        "upgrade_claims", os.path.join(os.path.dirname(__file__), "..", "tools", "upgrade_claims.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    from ppnorm.experiments.runner import CLAIM_COLUMNS
    folder = tmp_path / "x"
    folder.mkdir()
    with open(folder / "claims.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OLD_COLUMNS)
        writer.writeheader()
        writer.writerow({"experiment": "x", "claim_en": "a > b", "claim_zh": "甲大于乙", "verdict": "confirmed",
                         "deciding": "3 ± 1", "mean": 3.0, "low": 2.0, "high": 4.0, "n": 5, "side": "greater",
                         "margin": 0.0})
        writer.writerow({"experiment": "x", "claim_en": "formula", "claim_zh": "公式", "verdict": "confirmed",
                         "deciding": "0（容差 0）", "mean": "nan", "low": "nan", "high": "nan", "n": 0})
    (folder / "report.md").write_text("# x\n\n## 说法的判定\n\n| 说法 | 判定 |\n|---|---|\n| 甲大于乙 | 成立 |\n\n"
                                      "![chart](x.png)\n", encoding="utf-8")
    assert tool.main([str(tmp_path)]) == 0
    with open(folder / "claims.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == CLAIM_COLUMNS and [r["kind"] for r in rows] == ["interval", "check"]
    # half-width 1 = t_.975(4) * se: t = 3 / (1 / 2.7764) = 8.33 with 4 dof
    assert float(rows[0]["p"]) == pytest.approx(scipy_stats.t.sf(3 * t_quantile(5), 4), rel=1e-9)
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "| 甲大于乙 | 成立 | 3 ± 1 |" in report and "| 公式 | 通过 | 0（容差 0） |" in report
    assert "## 数值核对" in report and report.rstrip().endswith("![chart](x.png)") and report.count("甲大于乙") == 1
