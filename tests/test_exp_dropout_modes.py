"""dropout_modes' science: the formulas, the Monte Carlo expectation, channel dropout, the cell against numpy, the
exact (1 - p) correspondence. (The framework's seeding, runs, aggregation and verdicts:
tests/test_experiment_framework.py.)"""
import math

import numpy as np
import pytest

from ppnorm.experiments import dropout_formulas, dropout_modes
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, read_runs, run_quick


def _context(tmp_path, **params):
    return quick_context(dropout_modes, tmp_path, **params)


def test_paddle_follows_both_formulas_and_channel_dropout_zeroes_whole_channels(tmp_path):
    ctx = _context(tmp_path)
    assert dropout_formulas.formulas(ctx, 0.5, 200, {}) < 1e-6
    rows = {r["mode"]: r for r in ctx.tables["example"]["rows"]}
    assert rows["downscale_in_infer"]["eval output"] == "[[0.5, 1.0, 1.5], [2.0, 2.5, 3.0]]"  # x * (1 - p)
    assert rows["upscale_in_train"]["eval output"] == "[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]"
    element, channel = dropout_formulas.axis_table(ctx, 0.5)
    assert channel["values inside a kept channel all equal"] and channel["fully zeroed channels"] > 0.3
    assert element["fully zeroed channels"] < 0.01 and 0.4 < element["zeroed elements"] < 0.6


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_the_mean_train_output_is_the_eval_output_within_its_monte_carlo_error(tmp_path, p):
    """Over N masks the relative deviation per draw has sd sqrt(p / (1 - p)) (100 % at p = 0.5): the 95 % interval's
    half-width is 1.96 of that over sqrt(5 N) (5 nonzero x), and it holds 0."""
    ctx, deviations = _context(tmp_path), {}
    dropout_formulas.formulas(ctx, p, 4000, deviations)
    assert sorted(deviations) == ["expectation_downscale_in_infer", "expectation_upscale_in_train"]
    for estimate in deviations.values():
        assert estimate.n == 5 * 4000
        assert estimate.half_width == pytest.approx(196 * math.sqrt(p / (1 - p) / (5 * 4000)), rel=0.03)
        assert abs(estimate.mean) < estimate.half_width
    assert all(len(eval(row["mean train output per x"])) == 6 for row in ctx.tables["monte_carlo"]["rows"])


@pytest.mark.slow
def test_the_cell_trains_both_modes_alike_and_measures_them_by_numpy(tmp_path, monkeypatch):
    built = capture_models(monkeypatch, dropout_modes)
    ctx = _context(tmp_path, epochs=1)
    m = dropout_modes.cell(ctx, {}, 0)
    up, down = built
    images, labels = digits("test")
    for model, mode in ((up, "upscale_in_train"), (down, "downscale_in_infer")):
        model.eval()
        top1 = 100 * (model(images).numpy().argmax(axis=1) == labels.numpy()).mean()
        assert m[f"top1 % {mode}"] == pytest.approx(top1) and m[f"error % {mode}"] == pytest.approx([100 - top1])
    assert m["difference (points)"] == m["top1 % downscale_in_infer"] - m["top1 % upscale_in_train"]
    weights = [(up.layers[1].linear.weight, down.layers[1].linear.weight), (up.fc.weight, down.fc.weight)]
    ratio = np.mean([np.linalg.norm(b.numpy()) / np.linalg.norm(a.numpy()) for a, b in weights])
    assert m["norm ratio W_down/W_up after dropout"] == pytest.approx(ratio, rel=1e-6)


@pytest.mark.slow
def test_scaled_downscale_training_ends_at_the_upscale_weights_over_one_minus_p(tmp_path):
    ctx = run_quick("dropout_modes", tmp_path)  # quick: p 0.5, 2000 masks, seeds 0 and 1, 2 epochs
    exact = ctx.tables["equivalence"]["rows"][0]
    assert exact["max rel diff W_down*(1-p) vs W_up"] < 1e-5 and exact["max abs logit difference"] < 1e-4
    assert exact["top1 % upscale"] == exact["top1 % downscale (scaled start, lr/(1-p)^2)"]
    assert exact["top1 % upscale"] == float(read_runs(tmp_path)[0]["top1 % upscale_in_train"])  # the same training
    assert [c["verdict"] for c in ctx.claims if c["kind"] == "check"] == ["passed", "passed"]


@pytest.mark.slow
def test_dropout_modes_in_chinese(tmp_path):
    run_quick("dropout_modes", tmp_path, "lang=zh", "params.epochs=1", "params.mc_samples=200")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "两种模式训练得一样好" in report and "![两种模式同样训练：每轮的留出集错误率](training.png)" in report
