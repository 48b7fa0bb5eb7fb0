"""residual_vs_plain: the networks' depth, and its claims recomputed from the per-seed runs of the quick setting."""

import numpy as np
import paddle
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.residual_vs_plain import RESIDUAL_MARGIN, _model
from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


@pytest.mark.parametrize("depth", [8, 26])
def test_depth_counts_the_weighted_layers_and_plain_nets_have_no_shortcut(depth):
    for residual in (False, True):
        model = _model(depth, residual, [4, 8, 8])
        layers = [l for name, l in model.named_sublayers() if isinstance(l, (paddle.nn.Conv2D, paddle.nn.Linear))
                  and "downsample" not in name]
        assert len(layers) == depth  # 6n + 1 convolutions and the classifier
        shortcuts = [name for name, _ in model.named_sublayers() if name.endswith("downsample")]
        assert len(shortcuts) == (2 if residual else 0)  # the two stage transitions


def _interval(values):
    values = np.asarray(values, dtype="float64")
    half = t_quantile(len(values)) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


@pytest.mark.slow
def test_residual_vs_plain_claims_are_paired_differences_of_the_runs(tmp_path):
    ctx = run_quick("residual_vs_plain", tmp_path)
    runs = read_runs(tmp_path)
    error = {(r["network"], int(r["depth"]), int(r["seed"])): float(r["train_error_pct"]) for r in runs}
    assert sorted(error) == [(k, d, s) for k in ("plain", "resnet") for d in (8, 14) for s in (0, 1)]
    degradation, residual = ctx.claims
    mean, low, high = _interval([error[("plain", 14, s)] - error[("plain", 8, s)] for s in (0, 1)])
    assert (degradation["mean"], degradation["low"], degradation["high"]) == pytest.approx((mean, low, high))
    assert degradation["raw_verdict"] == ("confirmed" if low > 0 else "refuted" if high <= 0 else "inconclusive")
    mean, low, high = _interval([error[("resnet", 14, s)] - error[("resnet", 8, s)] for s in (0, 1)])
    assert (residual["mean"], residual["high"]) == pytest.approx((mean, high))
    margin = RESIDUAL_MARGIN
    assert residual["raw_verdict"] == ("confirmed" if high < margin else "refuted" if low >= margin else "inconclusive")
    row = {r["network"]: r for r in ctx.tables["depth"]["rows"]}["plain14"]
    assert row["mean"] == pytest.approx(np.mean([error[("plain", 14, s)] for s in (0, 1)]))


def test_depths_must_be_6n_plus_2(tmp_path):
    with pytest.raises(ConfigError, match=r"params.depths must hold >= 2 depths of the form 6n\+2.*\[8, 10\]"):
        run_quick("residual_vs_plain", tmp_path, "params.depths=[8, 10]")


def test_full_preset_is_he_et_al_s_depths_with_more_seeds():
    _, settings, params = load_experiment_config("configs/experiments/residual_vs_plain_full.yaml", [], experiments())
    assert (params["depths"], params["widths"], params["seeds"]) == ([20, 56], [16, 32, 64], 10)
    assert settings["output_dir"].endswith("residual_vs_plain_full") and params["lr"] == 0.1  # the rest inherited
