"""norm_cost: the case builder, the alternating timer, the per-round ratios and the claims decided from them
(recomputed by hand from runs.csv); no speed is asserted."""
import csv
import math

import numpy as np
import paddle
import pytest
from scipy import stats as scipy_stats

from experiment_runs import read_runs, run_quick
from ppnorm.benchmark.cli import benchmark_main
from ppnorm.benchmark.norm_cost import Case, case_models, cost_rows, gn_groups, parse_case, time_ratios
from ppnorm.benchmark.timing import timed_repeats
from ppnorm.nn import is_batch_norm, is_norm


def _by_hand(values):
    """Mean and 95% t half-width, computed here without ppnorm.experiments.stats."""
    values = np.asarray(values, dtype="float64")
    half = scipy_stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean(), half


def _verdict_by_hand(low, high, side, margin):
    if side == "greater":
        return "confirmed" if low > margin else "refuted" if high <= margin else "inconclusive"
    inside, outside = -margin < low and high < margin, low >= margin or high <= -margin
    return "confirmed" if inside else "refuted" if outside else "inconclusive"


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


@pytest.mark.slow
def test_quick_run_claims_recomputed_from_runs_csv(tmp_path):
    ctx = run_quick("norm_cost", tmp_path)
    runs = read_runs(tmp_path)
    seconds = {}
    for row in runs:
        seconds.setdefault(row["mode"], {}).setdefault(row["norm"], []).append(float(row["seconds"]))
    assert set(seconds) == {"train", "eval", "infer"} and all(len(v) == 3 for s in seconds.values() for v in s.values())
    with open(tmp_path / "claims.csv", newline="", encoding="utf-8") as handle:
        claims = list(csv.DictReader(handle))
    expected = [("train", "bn", "none", "greater", 0.0), ("eval", "bn", "none", "greater", 0.0),
                ("infer", "bn", "none", "within", 5.0), ("infer", "gn", "bn", "greater", 0.0)]
    assert len(claims) == len(expected)
    for claim, (mode, norm, reference, side, margin) in zip(claims, expected):
        percent = [(a / b - 1) * 100 for a, b in zip(seconds[mode][norm], seconds[mode][reference])]
        mean, half = _by_hand(percent)
        assert float(claim["mean"]) == pytest.approx(mean) and float(claim["high"]) == pytest.approx(mean + half)
        assert claim["side"] == side and float(claim["margin"]) == margin
        assert claim["raw_verdict"] == _verdict_by_hand(mean - half, mean + half, side, margin)
    table = {(r["mode"], r["norm"]): r for r in ctx.tables["cost"]["rows"]}
    ratio_mean, _ = _by_hand([a / b for a, b in zip(seconds["train"]["gn"], seconds["train"]["none"])])
    assert table[("train", "gn")]["ratio mean"] == pytest.approx(ratio_mean)
    assert table[("train", "none")]["time / none"] == "1 (reference)"
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "norm_cost.png" in report and "Load average" in report


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
