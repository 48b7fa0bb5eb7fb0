"""norm_position in its quick setting: the runs use the order they name, verdicts recomputed by hand from runs.csv."""
import csv

import numpy as np
import pytest

from ppnorm.experiments import norm_position
from ppnorm.experiments.stats import t_quantile

from experiment_runs import run_quick


def _interval(values):
    mean = np.mean(values)
    half = t_quantile(len(values)) * np.std(values, ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def _runs(path):
    with open(path / "runs.csv", newline="") as handle:
        return {(r["model"], r["activation"], r["position"], int(r["seed"])): float(r["top1_pct"])
                for r in csv.DictReader(handle)}


@pytest.mark.slow
def test_claims_are_computed_from_the_runs(tmp_path):
    ctx = run_quick("norm_position", tmp_path)
    runs = _runs(tmp_path)
    assert sorted(runs) == sorted((m, a, p, s) for m in ("mlp",) for a in ("relu", "sigmoid")
                                  for p in ("before_act", "after_act") for s in (0, 1))
    assert all(50 < top1 <= 100 for top1 in runs.values())  # two epochs of digits: far above chance
    claims = {c["claim_en"]: c for c in ctx.claims}
    assert len(claims) == 2
    for act in ("relu", "sigmoid"):
        diff = [runs[("mlp", act, "before_act", s)] - runs[("mlp", act, "after_act", s)] for s in (0, 1)]
        claim = claims[f"BN before the activation beats BN after it ({act}, mlp): higher final held-out top-1"]
        assert (claim["mean"], claim["low"], claim["high"]) == pytest.approx(_interval(diff))
        low, high = claim["low"], claim["high"]
        assert claim["raw_verdict"] == ("confirmed" if low > 0 else "refuted" if high <= 0 else "inconclusive")
        assert "47.4%" in claim["evidence"] and "49.9%" in claim["evidence"]
        row = next(r for r in ctx.tables["norm_position"]["rows"] if r["activation"] == act)
        assert row["before mean"] == pytest.approx(np.mean([runs[("mlp", act, "before_act", s)] for s in (0, 1)]))
        assert row["difference mean"] == pytest.approx(np.mean(diff))


def test_each_run_trains_the_order_it_names(monkeypatch, tmp_path):
    """The experiment builds the model with norm_position set: catch every build and look at its layers."""
    built = []
    original = norm_position.build_model

    def spy(name, **options):
        model = original(name, **options)
        built.append((options["norm_position"], [n for n, _ in model.layers[0].named_children()]))
        return model

    monkeypatch.setattr(norm_position, "build_model", spy)
    run_quick("norm_position", tmp_path, "params.acts=[sigmoid]", "params.seeds=2", "params.epochs_mlp=1")
    assert built == [("before_act", ["linear", "norm", "act", "dropout"])] * 2 + \
        [("after_act", ["linear", "act", "norm", "dropout"])] * 2


def test_chinese_report(tmp_path):
    ctx = run_quick("norm_position", tmp_path, "lang=zh", "params.acts=[relu]", "params.epochs_mlp=1")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 模型 | 激活函数 | 轮数 | BN 在激活之前 top-1 % | BN 在激活之后 top-1 % |" in report
    assert ctx.claims[0]["claim"].startswith("BN 放在激活之前优于放在激活之后（relu，mlp）")
    assert (tmp_path / "norm_position.png").stat().st_size > 10_000
