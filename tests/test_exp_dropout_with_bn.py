"""dropout_with_bn's science: the cell against numpy, the gains and claims it measures from the runs, its config.
(The framework's seeding, runs, aggregation and heat map: tests/test_experiment_framework.py.)"""
import matplotlib
import numpy as np
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import dropout_with_bn, experiments
from ppnorm.experiments.charts import ink_for
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.framework import Results
from ppnorm.experiments.dropout_with_bn import DEFAULTS
from ppnorm.experiments.training import digits

from experiment_runs import quick_context, run_quick


def _context(tmp_path, **params):
    return quick_context(dropout_with_bn, tmp_path, **params)


@pytest.mark.slow
def test_the_cell_trains_the_regularized_net_on_the_subset_and_measures_it_by_numpy(tmp_path, monkeypatch):
    built, fitted = [], []
    build, fit = dropout_with_bn.build_model, dropout_with_bn.fit
    monkeypatch.setattr(dropout_with_bn, "build_model", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    monkeypatch.setattr(dropout_with_bn, "fit", lambda m, train, *a, **k: fitted.append((train, k)) or fit(m, train, *a, **k))
    ctx = _context(tmp_path, train_subset=64)
    ctx.seed_everything(0)
    m = dropout_with_bn.cell(ctx, {"norm": "bn", "dropout": 0.5, "weight_decay": 0.005}, 0)
    (model,), ((train, options),) = built, fitted
    assert len(train[1]) == 64 and options["optimizer"]["weight_decay"] == 0.005
    assert [l.p for l in model.sublayers() if type(l).__name__ == "Dropout"] == [0.5]
    assert any(type(l).__name__ == "BatchNorm2D" for l in model.sublayers())
    model.eval()
    images, labels = digits("test")
    top1 = 100 * (model(images).numpy().argmax(axis=1) == labels.numpy()).mean()
    assert m == {"top1_pct": pytest.approx(top1), "top1_curve": [pytest.approx(top1)]}


def test_each_claim_is_the_gain_without_bn_minus_the_gain_with_bn_per_seed(tmp_path):
    """Made-up top-1 per cell and seed: the claim is (reg - base) without BN minus (reg - base) with BN."""
    rng = np.random.default_rng(0)
    top1 = {(n, d, w, s): float(rng.uniform(50, 90)) for n in ("none", "bn") for d in (0.0, 0.5)
            for w in (0.0, 0.005) for s in range(4)}
    runs = [{"norm": n, "dropout": d, "weight_decay": w, "seed": s, "top1_pct": v} for (n, d, w, s), v in top1.items()]
    ctx = _context(tmp_path, seeds=4)
    results = Results(ctx.params, dropout_with_bn.EXPERIMENT.resolve(ctx.params), runs=runs)
    dropout_with_bn._after(ctx, results)
    for cid, cell in (("dropout_gain_smaller_with_bn", (0.5, 0.0)), ("weight_decay_gain_smaller_with_bn", (0.0, 0.005))):
        gain = {n: np.array([top1[(n, *cell, s)] - top1[(n, 0.0, 0.0, s)] for s in range(4)]) for n in ("none", "bn")}
        estimate = results.estimates[cid]
        assert (estimate.mean, estimate.n) == (pytest.approx(np.mean(gain["none"] - gain["bn"])), 4)
    row = next(r for r in ctx.tables["gains"]["rows"] if (r["regularizer"], r["norm"]) == ("dropout 0.5", "bn"))
    assert row["mean"] == pytest.approx(np.mean([top1[("bn", 0.5, 0.0, s)] - top1[("bn", 0.0, 0.0, s)] for s in range(4)]))
    assert (tmp_path / "dropout_with_bn_gains.png").is_file()


def test_the_claims_are_registered_in_the_config():
    _, settings, params = load_experiment_config("configs/experiments/dropout_with_bn.yaml", [], experiments())
    claims = dropout_with_bn.EXPERIMENT.resolve(params, settings["claims"])
    assert list(claims) == ["dropout_gain_smaller_with_bn", "weight_decay_gain_smaller_with_bn"]
    assert {(c.a, c.side, c.margin, c.sesoi) for c in claims.values()} == {(None, "greater", 0.0, 1.0)}
    assert claims["dropout_gain_smaller_with_bn"].en == "With BN the network gains less from dropout 0.5 than without BN"


def test_cell_text_is_dark_on_light_cells():
    viridis = matplotlib.colormaps["viridis"]
    assert ink_for(viridis(1.0)) == "black" and ink_for(viridis(0.0)) == "white"  # yellow top, purple bottom
    assert ink_for((1.0, 1.0, 1.0, 1.0)) == "black" and ink_for((0.2, 0.2, 0.2, 1.0)) == "white"
    assert not hasattr(dropout_with_bn, "ink_for")  # one copy: the heat map chart's


def test_dropout_with_bn_needs_the_unregularized_cell(tmp_path):
    with pytest.raises(ConfigError, match=r"params.dropouts needs 0.0"):
        run_quick("dropout_with_bn", tmp_path, "params.dropouts=[0.25, 0.5]")


@pytest.mark.slow
def test_dropout_with_bn_in_chinese(tmp_path):
    ctx = run_quick("dropout_with_bn", tmp_path, "lang=zh", "params.train_subset=64", "params.seeds=2")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 归一化 | dropout | weight decay | top-1 % |" in report and "| 正则化 | 归一化 | 提升（百分点） |" in report
    assert ctx.claims[0]["claim"] == "有 BN 时网络从 dropout 0.5 得到的提升比没有 BN 时少"
    assert (tmp_path / "dropout_with_bn.png").is_file() and (tmp_path / "dropout_with_bn_gains.png").is_file()


def test_full_preset_is_a_3_by_3_grid_with_more_seeds():
    _, settings, params = load_experiment_config("configs/experiments/dropout_with_bn_full.yaml", [], experiments())
    assert (params["dropouts"], params["weight_decays"]) == ([0.0, 0.25, 0.5], [0.0, 0.0005, 0.005])
    assert (params["epochs"], params["train_subset"]) == (30, 500) and params["seeds"] > DEFAULTS["seeds"]
    assert settings["output_dir"].endswith("dropout_with_bn_full")
