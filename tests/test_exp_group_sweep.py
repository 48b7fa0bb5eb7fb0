"""group_sweep in its quick setting: the identity of its ends, and verdicts that follow from the per-seed runs."""
import csv

import numpy as np
import pytest

from ppnorm.experiments.stats import t_quantile

from experiment_runs import run_quick


@pytest.mark.slow
def test_group_sweep_claims_are_computed_from_the_runs(tmp_path):
    ctx = run_quick("group_sweep", tmp_path)
    with open(tmp_path / "runs.csv", newline="") as handle:
        runs = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    assert sorted({(r["groups"], r["seed"]) for r in runs}) == [(g, s) for g in (1, 4, 32) for s in (0, 1)]
    error = {(int(r["groups"]), int(r["seed"])): r["error_pct"] for r in runs}
    claims = {c["claim_en"].split(" ")[0]: c for c in ctx.claims}
    assert claims["GroupNorm"]["verdict"] == "passed"  # an identity, to 1e-4
    for end, key in ((1, "LN"), (32, "IN")):
        differences = [error[(end, s)] - error[(4, s)] for s in (0, 1)]  # the only middle grouping: 4
        mean = np.mean(differences)
        half = t_quantile(2) * np.std(differences, ddof=1) / np.sqrt(2)
        claim = claims[key]
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx((mean, mean - half, mean + half))
        expected = "confirmed" if mean - half > 0 else ("refuted" if mean + half <= 0 else "inconclusive")
        assert claim["raw_verdict"] == expected
    row = {r["groups"]: r for r in ctx.tables["groups"]["rows"]}[32]
    assert row["same as"] == "= IN" and row["mean"] == pytest.approx(np.mean([error[(32, 0)], error[(32, 1)]]))
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**Question.**" in report and "| passed |" in report and "±" in report


@pytest.mark.slow
def test_group_sweep_in_chinese(tmp_path):
    ctx = run_quick("group_sweep", tmp_path, "lang=zh", "params.groups=[1, 32]", "params.seeds=2")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 组数 | 每组通道数 | 等价于 | 错误率 % |" in report and "| 通过 |" in report
    assert ctx.claims[0]["claim"].startswith("1 组的 GroupNorm")


class _ChartContext:
    """What group_sweep's _chart asks of its context; keeps the figure instead of saving it."""
    def figure(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 1, squeeze=False)
        return fig, axes

    def chart_text(self, en, zh):
        return en

    tr = chart_text

    def save_figure(self, fig, name, caption=""):
        self.fig = fig


def test_group_sweep_error_bars_stay_between_0_and_100_percent():
    """Two seeds give a 95% interval of ±35 points around a 5 % error: the bars stop at 0 % (and 100 %)."""
    from ppnorm.experiments.group_sweep import _chart

    rows = [{"groups": 1, "mean": 5.0, "half-width": 35.3}, {"groups": 4, "mean": 3.0, "half-width": 1.0},
            {"groups": 32, "mean": 90.0, "half-width": 20.0}]
    ctx = _ChartContext()
    _chart(ctx, rows)
    (bars,) = [c for c in ctx.fig.axes[0].collections if len(c.get_segments()) == len(rows)]
    ends = sorted((float(s[0][0]), float(min(s[:, 1])), float(max(s[:, 1]))) for s in bars.get_segments())
    assert [x for end in ends for x in end] == pytest.approx([1, 0.0, 40.3, 4, 2.0, 4.0, 32, 70.0, 100.0])
