"""norm_cost: the case builder, the alternating timer, the per-round ratios pooled over sessions and the claims
decided from them, the cell; no speed is asserted. (The framework's duties: tests/test_experiment_framework.py.)"""
import csv
import math
from math import nan

import numpy as np
import paddle
import pytest
from experiment_runs import quick_context

from ppnorm.benchmark.cli import benchmark_main
from ppnorm.benchmark.norm_cost import NORMS, Case, case_models, cost_rows, gn_groups, parse_case, time_ratios
from ppnorm.benchmark.timing import timed_repeats
from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments, norm_cost
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.framework import Results, aggregate
from ppnorm.nn import is_batch_norm, is_norm


def test_time_ratios_pair_rounds_and_refuse_unequal_counts():
    seconds = {"bn": [1.2, 1.5, 1.1], "none": [1.0, 1.25, 1.0], "gn": [2.0, 2.5, 2.2]}
    assert time_ratios(seconds, "bn") == pytest.approx([1.2, 1.2, 1.1])
    assert time_ratios(seconds, "gn", "bn") == pytest.approx([2.0 / 1.2, 2.5 / 1.5, 2.0])
    with pytest.raises(ValueError, match="rounds"):
        time_ratios({"bn": [1.0], "none": [1.0, 2.0]}, "bn")


def test_cost_rows_are_median_images_per_second_and_their_ratio_to_no_norm():
    case = Case("resnet20", 8, 4)
    rows = cost_rows(case, {"train": {"bn": [0.4, 0.2, 0.3], "none": [0.1, 0.2, 0.2]}})
    bn, none = rows
    assert bn["images_per_s"] == pytest.approx(4 / 0.3, abs=0.01) and none["images_per_s"] == pytest.approx(20.0)
    assert bn["ratio"] == pytest.approx(0.2 / 0.3, abs=1e-3) and bn["ratio_against"] == "ppnorm none"
    assert none["ratio"] is None and bn["model"] == "resnet20 8x8"


def test_timed_repeats_alternate_and_repeat_short_calls():
    now, order = [0.0], []
    cost = {"a": 0.01, "b": 0.03}

    def call(name):
        def run():
            order.append(name)
            now[0] += cost[name]
        return run

    seconds = timed_repeats({"a": call("a"), "b": call("b")}, 1, 3, min_seconds=0.05, clock=lambda: now[0])
    assert seconds["a"] == pytest.approx([0.01] * 3) and seconds["b"] == pytest.approx([0.03] * 3)
    # warm-up a, b; then 5 interleaved calls each per round (0.05 / 0.01, from the fastest), who goes first rotating
    assert order == ["a", "b"] + ["a", "b"] * 5 + ["b", "a"] * 5 + ["a", "b"] * 5


@pytest.mark.slow
def test_cases_parse_and_build_the_right_models():
    assert parse_case("resnet20:32:16") == Case("resnet20", 32, 16)
    assert parse_case("resnet50:224:8").num_classes == 1000 and Case("resnet20", 8, 2).num_classes == 10
    for bad in ("resnet20:32", "resnet20:0:8", "nonet:32:8", "resnet20:x:8"):
        with pytest.raises(ValueError):
            parse_case(bad)
    assert gn_groups("resnet20") == 8 and gn_groups("resnet50") == 32
    models = case_models(Case("resnet20", 8, 2), ["bn", "none", "gn", "ln", "in"])
    layers = {norm: [type(layer).__name__ for layer in model.sublayers() if is_norm(layer)]
              for norm, model in models.items()}
    assert len(layers["bn"]) == 21 and all(is_batch_norm(l) for l in models["bn"].sublayers() if is_norm(l))
    assert layers["none"] == [] and set(layers["gn"]) == {"GroupNorm"}
    assert {l._num_groups for l in models["gn"].sublayers() if type(l).__name__ == "GroupNorm"} == {8}
    assert len(layers["ln"]) == len(layers["in"]) == 21  # stem + 18 block convs + 2 shortcut convs
    models["none"].eval()
    assert models["none"](paddle.zeros([2, 3, 8, 8])).shape == [2, 10]


def _context(tmp_path, **params):
    return quick_context(norm_cost, tmp_path, quick=False, **params)


def test_claims_bn_against_no_norm_per_case_and_mode_and_unfolded_norms_against_folded_bn_in_the_last_case():
    claims = norm_cost._claims({**norm_cost.DEFAULTS, "cases": ["resnet20:8:32", "resnet50:224:8"]})
    assert list(claims) == [f"{c}_case{i}" for i in (1, 2) for c in ("bn_slows_train", "bn_slows_eval",
                                                                     "folded_bn_infer_free")] + \
        [f"{n}_infer_slower_than_folded_bn" for n in ("gn", "ln", "in")]
    assert all(c.a is None and "decided over rounds, not seeds" in c.evidence for c in claims.values())
    assert [(c.side, c.margin) for c in list(claims.values())[:3]] == [("greater", 0.0), ("greater", 0.0), ("within", 5.0)]
    assert "resnet50 224x224, batch 8" in claims["gn_infer_slower_than_folded_bn"].en
    assert list(norm_cost._claims({**norm_cost.DEFAULTS, "modes": ["eval"]})) == ["bn_slows_eval_case1",
                                                                                   "bn_slows_eval_case2"]


@pytest.mark.parametrize("override, message", [
    ("params.modes=[train, fly]", "params.modes: ['train', 'fly'] is not a choice of train, eval, infer"),
    ("params.clock=sundial", "params.clock: ['sundial'] is not a choice of cpu, wall"),
    ("params.repeats=1", "params.repeats must be at least 2"),
    ("params.cases=[resnet20:32]", "params.cases: a norm-cost case is MODEL:SIZE:BATCH"),
    ("claims.bn_slows_train_case9.side=less", "claims.bn_slows_train_case9 is not a claim these params declare"),
])
def test_bad_params_are_one_line_errors_when_the_config_loads(override, message):
    with pytest.raises(ConfigError) as error:
        load_experiment_config("configs/experiments/norm_cost.yaml", [override], experiments())
    assert message in str(error.value) and "\n" not in str(error.value)


def test_rounds_pair_within_a_session_and_pool_over_sessions(tmp_path, monkeypatch):
    """Session 1 takes 1 s for no norm, session 2 twice as long: each round's ratio is the same in both, so BN's cost
    is exactly +10 % over 6 rounds, GN's +50 % over BN; the table's ratio and rounds.csv hold the same seconds."""
    charted = []
    monkeypatch.setattr(norm_cost, "_chart", lambda ctx, rows, cases, modes: charted.append(rows))
    ctx = _context(tmp_path, cases=["resnet20:8:2"], modes=["train", "infer"], repeats=3)
    factor = {"bn": 1.1, "none": 1.0, "gn": 1.65, "ln": 1.2, "in": 1.3}
    runs = [{"case": "resnet20:8:2", "mode": mode, "seed": seed, "export_rel_diff": 1e-7 if mode == "infer" else nan,
             **{f"seconds_{n}": [f * (seed + 1) * (1 + r / 10) for r in range(3)] for n, f in factor.items()},
             **{f"ms_{n}": 1000.0 for n in factor}} for mode in ("train", "infer") for seed in (0, 1)]
    results = Results(ctx.params, {}, runs=runs, store={"load": (0.0, 0.0, 0.0)})
    grid = norm_cost.EXPERIMENT.grid(ctx.params)
    results.rows = aggregate(norm_cost.EXPERIMENT.table, grid, runs, ctx.params)
    norm_cost.EXPERIMENT.after(ctx, results)
    for cid in ("bn_slows_train_case1", "folded_bn_infer_free_case1"):
        assert (results.estimates[cid].mean, results.estimates[cid].half_width, results.estimates[cid].n) == \
            pytest.approx((10.0, 0.0, 6))
    assert results.estimates["gn_infer_slower_than_folded_bn"].mean == pytest.approx(50.0)
    assert (results.rows[0]["gn / none mean"], results.rows[0]["gn / none half-width"]) == pytest.approx((1.65, 0.0))
    rows = list(csv.DictReader(open(tmp_path / "rounds.csv", encoding="utf-8")))
    assert len(rows) == 2 * 2 * 3 * 5 and float(rows[-1]["seconds"]) == pytest.approx(1.3 * 2 * 1.2)
    assert [c["verdict"] for c in ctx.claims] == ["passed"] and charted[0]["resnet20:8:2", "infer"] is results.rows[1]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_a_cell_is_one_alternating_session_of_every_norm(tmp_path, mode):
    ctx = _context(tmp_path, warmup=0, repeats=2, min_sample_seconds=0.0)
    ctx.seed_everything(0)
    m = norm_cost.cell(ctx, {"case": "resnet20:8:2", "mode": mode}, 0)
    for norm in NORMS:
        assert len(m[f"seconds_{norm}"]) == 2 and m[f"ms_{norm}"] == pytest.approx(1000 * np.median(m[f"seconds_{norm}"]))
    assert m["export_rel_diff"] < 1e-4 if mode == "infer" else math.isnan(m["export_rel_diff"])


def test_benchmark_norm_cost_rows(tmp_path, capsys):
    out = tmp_path / "bench"
    code = benchmark_main(["--norm_cost", "resnet20:8:2", "--norms", "bn", "none", "--modes", "train", "eval",
                           "--warmup", "0", "--repeats", "2", "--min_sample_seconds", "0", "--output_dir", str(out)])
    assert code == 0
    with open(out / "benchmark.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["norm"], r["mode"]) for r in rows] == [("bn", "train"), ("none", "train"), ("bn", "eval"),
                                                       ("none", "eval")]
    for bn, none in ((rows[0], rows[1]), (rows[2], rows[3])):
        assert float(bn["ratio"]) == pytest.approx(float(bn["images_per_s"]) / float(none["images_per_s"]), rel=0.01)
        assert bn["ratio_against"] == "ppnorm none" and none["ratio"] == ""
    assert "load average before" in capsys.readouterr().out
    assert benchmark_main(["--norm_cost", "--norms", "bn", "gn", "--output_dir", str(tmp_path / "x")]) == 2
    assert "needs 'none'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmark_main(["--norm_cost", "resnet20:32"])
    assert "MODEL:SIZE:BATCH" in capsys.readouterr().err
