"""dropout_with_bn in its quick setting: gains recomputed from the per-seed runs, and a chart that hides no cell."""

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.context import Context
from ppnorm.experiments.dropout_with_bn import ink_for
from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


@pytest.mark.slow
def test_dropout_with_bn_claims_are_paired_gains_from_the_runs(tmp_path, monkeypatch):
    figures = []
    save = Context.save_figure
    monkeypatch.setattr(Context, "save_figure", lambda self, fig, *a: (figures.append(fig), save(self, fig, *a))[1])
    ctx = run_quick("dropout_with_bn", tmp_path)
    runs = read_runs(tmp_path)
    assert len(runs) == 2 * 2 * 2 * 2  # norms x dropouts x weight decays x seeds
    top1 = {(r["norm"], float(r["dropout"]), float(r["weight_decay"]), int(r["seed"])): float(r["top1_pct"])
            for r in runs}
    claims = {c["claim_en"].split(" from ")[1].split(" than")[0]: c for c in ctx.claims}
    for name, cell in (("dropout 0.5", (0.5, 0.0)), ("weight decay 0.005", (0.0, 0.005))):
        gain = {norm: [top1[(norm, *cell, s)] - top1[(norm, 0.0, 0.0, s)] for s in (0, 1)] for norm in ("none", "bn")}
        differences = np.subtract(gain["none"], gain["bn"])
        mean, half = differences.mean(), t_quantile(2) * differences.std(ddof=1) / np.sqrt(2)
        claim = claims[name]
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx((mean, mean - half, mean + half))
        expected = "confirmed" if mean - half > 0 else ("refuted" if mean + half < 0 else "inconclusive")
        expected = "inconclusive" if half == 0 else expected  # 2 identical runs: sign rule p = 1/4
        assert claim["raw_verdict"] == expected
    row = {(r["norm"], r["dropout"], r["weight decay"]): r for r in ctx.tables["grid"]["rows"]}[("bn", 0.5, 0.0)]
    assert row["mean"] == pytest.approx(np.mean([top1[("bn", 0.5, 0.0, s)] for s in (0, 1)]))
    heat_none, heat_bn, gains, bar = figures[0].axes  # the colour bar sits right of the BN map, over no cell
    FigureCanvasAgg(figures[0]).draw()  # the saved figure, drawn again to place the colour bar's axes
    renderer = figures[0].canvas.get_renderer()
    assert bar.get_window_extent(renderer).x0 >= heat_bn.get_window_extent(renderer).x1
    assert heat_bn.get_window_extent(renderer).x0 >= heat_none.get_window_extent(renderer).x1


def test_cell_text_is_dark_on_light_cells():
    viridis = matplotlib.colormaps["viridis"]
    assert ink_for(viridis(1.0)) == "black" and ink_for(viridis(0.0)) == "white"  # yellow top, purple bottom
    assert ink_for((1.0, 1.0, 1.0, 1.0)) == "black" and ink_for((0.2, 0.2, 0.2, 1.0)) == "white"


def test_dropout_with_bn_needs_the_unregularized_cell(tmp_path):
    with pytest.raises(ConfigError, match=r"params.dropouts needs 0.0"):
        run_quick("dropout_with_bn", tmp_path, "params.dropouts=[0.25, 0.5]")


@pytest.mark.slow
def test_dropout_with_bn_in_chinese(tmp_path):
    ctx = run_quick("dropout_with_bn", tmp_path, "lang=zh", "params.train_subset=64", "params.seeds=2")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 归一化 | dropout | weight decay | top-1 % |" in report and "| 正则化 | 归一化 | 提升（百分点） |" in report
    assert ctx.claims[0]["claim"] == "有 BN 时网络从 dropout 0.5 得到的提升比没有 BN 时少"


def test_full_preset_is_a_3_by_3_grid_with_more_seeds():
    _, settings, params = load_experiment_config("configs/experiments/dropout_with_bn_full.yaml", [], experiments())
    assert (params["dropouts"], params["weight_decays"]) == ([0.0, 0.25, 0.5], [0.0, 0.0005, 0.005])
    assert (params["epochs"], params["seeds"], params["train_subset"]) == (30, 10, 500)
    assert settings["output_dir"].endswith("dropout_with_bn_full")
