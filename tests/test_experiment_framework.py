"""The experiment framework (experiments/framework.py, claims.py, charts.py, seedblocks.py, replication.py): seeding,
plan and progress, runs.csv, aggregation, pairing by seed, claims from YAML, verdict words, replication, charts.

A toy experiment without training checks each duty exactly; the ported experiments' quick presets check the same
duties on real runs (slow)."""
import csv
import dataclasses
import json
import random

import numpy as np
import paddle
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments
from ppnorm.experiments import framework
from ppnorm.experiments.charts import Chart, draw
from ppnorm.experiments.claims import Claim, estimate, resolve_claims
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.context import Context
from ppnorm.experiments.framework import Experiment, Stat, Table
from ppnorm.experiments.replication import replicate, replicated
from ppnorm.experiments.runner import run_experiment
from ppnorm.experiments.seedblocks import SeedBlock, next_start, read_ledger
from ppnorm.experiments.stats import mean_interval, paired_difference

from experiment_runs import read_runs, run_quick

# every experiment declared on the framework (a module-level EXPERIMENT), found in the registry, not listed by hand
PORTED = tuple(name for name in experiments()
               if isinstance(getattr(experiments()[name], "EXPERIMENT", None), Experiment))


def _cell(ctx, setting, seed):
    """No training: the first draw of each generator after the framework seeded them, and metrics made of it."""
    u, r, t = float(np.random.rand()), random.random(), float(paddle.rand([1]).item())
    return {"numpy": u, "stdlib": r, "paddle": t, "score": setting["shift"] + setting["scale"] * u,
            "tiny": 1e-3 * np.sin(1e3 * setting["scale"] * u), "curve": [setting["shift"] + k * u for k in range(3)]}


def _claims(params):
    text = dict(en="a beats b by more than {margin:g}", zh="a 比 b 高出 {margin:g} 以上")
    return {"gap": Claim(text["en"], text["zh"], "score", {"arm": "a"}, {"arm": "b"}),
            "opposite": Claim("b beats a", "b 胜过 a", "score", {"arm": "a"}, {"arm": "b"}, side="less"),
            "tiny": Claim("the tiny metric does not differ", "tiny 无差别", "tiny", {"arm": "a"}, {"arm": "b"},
                          sesoi=0.1),
            "unclear": Claim("a's score exceeds 1.25", "a 的分数超过 1.25", "score", {"arm": "a"}, margin=1.25)}


class Toy:
    """A stand-in experiment module declared on the framework: two arms, a per-seed effect of 1 + 0.5 u."""
    QUESTION, QUESTION_ZH, DEFAULTS, QUICK = "Does a beat b?", "a 胜过 b 吗？", {"seeds": 6}, {}
    EXPERIMENT = Experiment(
        grid=lambda params: [{"arm": "a", "shift": 1.0, "scale": 1.0}, {"arm": "b", "shift": 0.0, "scale": 0.5}],
        cell=_cell, metrics=("numpy", "stdlib", "paddle", "score", "tiny", "curve"), claims=_claims,
        table=Table("arms", ("arms over {seeds} seeds", "{seeds} 个种子"), ("arm", Stat("score", "score", 3))),
        charts=(Chart("curves", "toy_curves", ("curve",), ("curves", "曲线"), by="arm"),
                Chart("sweep", "toy_sweep", ("score",), ("sweep", "扫描"), x="shift", bounds=(0.0, 2.0)),
                Chart("heatmap", "toy_heatmap", ("score",), ("heat map", "热图"), x="shift", y="scale")),
        summary=lambda ctx, results: "done")
    run = EXPERIMENT.run


def _run_toy(tmp_path, seed=100, claims=None, lang="en", log=None):
    settings = {"seed": seed, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False, "lang": lang,
                "claims": claims or {}}
    return run_experiment("toy", Toy, settings, dict(Toy.DEFAULTS), log=log or (lambda *a: None))


def _draws(seed):
    """What each generator gives first after being seeded with ``seed``."""
    paddle.seed(seed)
    return np.random.RandomState(seed).rand(), random.Random(seed).random(), paddle.rand([1]).item()


def _seeds_are_the_ones_used(runs, start, count):
    """Every run's recorded seed is ``start + i`` and its draws are those of that seed."""
    seeds = [int(r["seed"]) for r in runs]
    if sorted(set(seeds)) != list(range(start, start + count)):
        return False
    return all(np.allclose([float(r["numpy"]), float(r["stdlib"]), float(r["paddle"])], _draws(int(r["seed"])),
                           atol=1e-7) for r in runs)


@pytest.mark.parametrize("fault", [None, "dropped", "doubled"])
def test_each_cell_is_seeded_with_the_seed_runs_csv_records(tmp_path, monkeypatch, fault):
    """Seeds 100..105 of the block; a framework that dropped the offset (always 100) or seeded Paddle with the start
    added twice (200 + i while runs.csv says 100 + i: the old seed bug) is caught by the same check."""
    if fault == "dropped":
        monkeypatch.setattr(SeedBlock, "seeds", property(lambda self: [self.start] * self.count))
    if fault == "doubled":
        seed_everything = Context.seed_everything
        monkeypatch.setattr(Context, "seed_everything",
                            lambda self, seed=None: seed_everything(self, None if seed is None else self.seed + seed))
    _run_toy(tmp_path)
    assert _seeds_are_the_ones_used(read_runs(tmp_path), 100, 6) is (fault is None)


def test_plan_and_progress_lines(tmp_path):
    lines = []
    _run_toy(tmp_path, log=lines.append)
    progress = [line for line in lines if line.startswith("[toy] run ")]
    assert [line.split(":")[0] for line in progress[:2]] == ["[toy] run 1/12 arm=a shift=1.0 scale=1.0 seed=100",
                                                             "[toy] run 2/12 arm=a shift=1.0 scale=1.0 seed=101"]
    assert len(progress) == 12 and progress[-1].startswith("[toy] run 12/12 arm=b shift=0.0 scale=0.5 seed=105:")


def test_runs_csv_has_one_row_per_setting_and_seed_with_its_scalar_metrics(tmp_path):
    ctx = _run_toy(tmp_path)
    with open(tmp_path / "runs.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["arm", "shift", "scale", "seed", "numpy", "stdlib", "paddle", "score", "tiny", "seed_block"]
    runs = read_runs(tmp_path)
    assert [(r["arm"], int(r["seed"])) for r in runs] == [(a, s) for a in "ab" for s in range(100, 106)]
    assert {r["seed_block"] for r in runs} == {"100"}
    for run in runs:
        assert float(run["score"]) == float(run["shift"]) + float(run["scale"]) * float(run["numpy"])
    assert ctx.runs[0]["seed"] == 100


def test_the_table_aggregates_with_mean_interval(tmp_path):
    ctx = _run_toy(tmp_path)
    runs = read_runs(tmp_path)
    for row in ctx.tables["arms"]["rows"]:
        expected = mean_interval([float(r["score"]) for r in runs if r["arm"] == row["arm"]])
        assert (row["score mean"], row["score half-width"]) == pytest.approx((expected.mean, expected.half_width))
        assert row["score"] == expected.format(3)
    assert ctx.tables["arms"]["title"] == "arms over 6 seeds"


def test_a_table_over_epochs_aggregates_each_index_of_a_curve():
    runs = [{"arm": arm, "seed": seed, "curve": [seed * k + (arm == "a") for k in range(3)]}
            for arm in "ab" for seed in range(4)]
    table = Table("t", ("", ""), ("arm", "epoch", Stat("curve", "curve")), index="epoch")
    rows = framework.aggregate(table, [{"arm": "a"}, {"arm": "b"}], runs, {})
    assert [(r["arm"], r["epoch"]) for r in rows] == [(a, e) for a in "ab" for e in (1, 2, 3)]
    for row in rows:
        expected = mean_interval([s * (row["epoch"] - 1) + (row["arm"] == "a") for s in range(4)])
        assert (row["curve mean"], row["curve half-width"]) == (expected.mean, expected.half_width)


def test_pairing_is_by_seed_whatever_order_the_runs_came_in():
    rng = np.random.default_rng(1)
    runs = [{"arm": arm, "seed": seed, "score": float(rng.normal())} for arm in "ab" for seed in range(8)]
    by_seed = {(r["arm"], r["seed"]): r["score"] for r in runs}
    expected = paired_difference([by_seed[("a", s)] for s in range(8)], [by_seed[("b", s)] for s in range(8)])
    claim = Claim("", "", "score", {"arm": "a"}, {"arm": "b"})
    shuffled = [runs[i] for i in rng.permutation(len(runs))]
    found, failed = estimate(claim, shuffled)
    assert (found.mean, found.half_width, found.n, failed) == pytest.approx((expected.mean, expected.half_width, 8, 0))
    positional = paired_difference([r["score"] for r in shuffled if r["arm"] == "a"],
                                   [r["score"] for r in shuffled if r["arm"] == "b"])
    assert positional.half_width != pytest.approx(expected.half_width)  # the shuffle did break positional pairing
    runs[3]["score"] = float("nan")  # a diverged run: its pair is counted as failed, not dropped silently
    assert estimate(claim, runs)[0].n == 7 and estimate(claim, runs)[1] == 1


def test_a_claim_with_a_scale_is_the_same_estimate_in_other_units():
    runs = [{"arm": arm, "seed": seed, "acc": 0.5 + 0.01 * seed * (arm == "a")} for arm in "ab" for seed in range(5)]
    plain, in_points = (estimate(Claim("", "", "acc", {"arm": "a"}, {"arm": "b"}, scale=s), runs)[0] for s in (1, 100))
    assert (in_points.mean, in_points.half_width, in_points.n) == pytest.approx(
        (100 * plain.mean, 100 * plain.half_width, 5)) and plain.mean == pytest.approx(0.02)


def test_claims_in_the_yaml_override_the_module_declaration(tmp_path):
    path = tmp_path / "precise_bn.yaml"
    path.write_text("experiment: precise_bn\nquick: true\nclaims:\n  gain_lr_0p4:\n    side: less\n    margin: 1.5\n"
                    "    sesoi: 0.5\n  gain_grows_with_lr:\n    a: {lr: 0.05}\n    b: {lr: 0.4}\n", encoding="utf-8")
    module, settings, params = load_experiment_config(str(path), [], experiments())
    claims = module.EXPERIMENT.resolve(params, settings["claims"])
    assert (claims["gain_lr_0p4"].side, claims["gain_lr_0p4"].margin, claims["gain_lr_0p4"].sesoi) == ("less", 1.5, 0.5)
    assert claims["gain_lr_0p05"].side == "greater" and claims["gain_lr_0p05"].sesoi is None  # the module default
    assert claims["gain_grows_with_lr"].text(claims["gain_grows_with_lr"].en, params).endswith(
        "the gain at lr 0.05 exceeds the gain at lr 0.4")


@pytest.mark.parametrize("override, message", [
    ("claims.gain_lr_9p.side=less", "claims.gain_lr_9p is not a claim these params declare (claims: gain_lr_0p05, "),
    ("claims.gain_lr_0p4.side=up", "claims.gain_lr_0p4.side must be one of ('greater', 'less', 'within')"),
    ("claims.gain_lr_0p4.sesoi=-1", "claims.gain_lr_0p4.sesoi must be a number > 0"),
    ("claims.gain_lr_0p4.margin=yes", "claims.gain_lr_0p4.margin must be a number, got True"),
    ("claims.gain_grows_with_lr.paired=1", "claims.gain_grows_with_lr.paired must be true or false, got 1"),
    ("claims.gain_lr_0p4.metric=top1", "claims.gain_lr_0p4.metric must be one of the cell's metrics"),
    ("claims.gain_lr_0p4.a={lr: 0.3}", "claims.gain_lr_0p4.a: lr=0.3 is not in the grid (values: [0.05, 0.4])"),
    ("claims.gain_lr_0p4.colour=red", "claims.gain_lr_0p4 takes the fields metric, a, b, side, margin, sesoi"),
])
def test_a_bad_claim_in_the_config_fails_at_load_time(override, message):
    with pytest.raises(ConfigError, match=None) as error:
        load_experiment_config("configs/experiments/precise_bn.yaml", ["quick=true", override], experiments())
    assert message in str(error.value)


def test_a_pre_registered_claim_the_grid_cannot_test_is_an_error():
    """group_sweep.yaml registers the two ends against the middle; with no middle grouping there is no such claim."""
    with pytest.raises(ConfigError, match=r"claims.ln_end_worse is not a claim these params declare \(claims: none\)"):
        load_experiment_config("configs/experiments/group_sweep.yaml", ["params.groups=[1, 32]"], experiments())
    load_experiment_config("configs/experiments/group_sweep.yaml", ["params.groups=[1, 32]", "claims={}"], experiments())


def test_claims_on_an_experiment_not_on_the_framework_are_refused(tmp_path):
    """A module that writes run(ctx) by hand (no EXPERIMENT) has no declared claims for the YAML to register."""
    by_hand = type("ByHand", (), {"DEFAULTS": {}, "QUICK": {}, "run": staticmethod(lambda ctx: "")})
    path = tmp_path / "by_hand.yaml"
    path.write_text("experiment: by_hand\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="by_hand does not declare its claims as data"):
        load_experiment_config(str(path), ["claims.x.side=less"], {"by_hand": by_hand})


@pytest.mark.parametrize("lang, words", [("en", ["confirmed", "refuted", "no effect", "inconclusive"]),
                                         ("zh", ["成立", "不成立", "无效应", "不确定"])])
def test_verdict_words(tmp_path, lang, words):
    """gap: a - b = 1 + 0.5 u > 0 (confirmed); opposite: the same data against a 'less' claim (refuted); tiny: a
    difference of 1e-3 (sin(1000 u) - sin(500 u)), centred near 0, within ±0.1 (no effect); unclear: a's score
    1 + u against 1.25, near its expected value 1.5 with 6 seeds (inconclusive)."""
    ctx = _run_toy(tmp_path, lang=lang)
    assert [c["raw_verdict"] for c in ctx.claims] == ["confirmed", "refuted", "no effect", "inconclusive"]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    for claim, word in zip(ctx.claims, words):
        assert f"| {claim['claim']} | {word} |" in report


def test_the_summary_sees_each_claims_verdict_after_holm_as_claims_csv_states_it(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(Toy, "EXPERIMENT", dataclasses.replace(
        Toy.EXPERIMENT, summary=lambda ctx, results: seen.update(results.verdicts) or "done"))
    monkeypatch.setattr(Toy, "run", Toy.EXPERIMENT.run)
    ctx = _run_toy(tmp_path)
    assert seen == dict(zip(["gap", "opposite", "tiny", "unclear"], [c["verdict"] for c in ctx.claims]))
    rows = {"a": {"kind": "interval", "raw_verdict": "confirmed", "p": 0.02},  # Holm over 3 tests: 0.04
            "b": {"kind": "interval", "raw_verdict": "confirmed", "p": 0.001}}  # 0.003
    recorded = [rows["a"], {"kind": "check", "p": ""}, rows["b"], {"kind": "interval", "p": 0.5}]
    assert framework.final_verdicts(recorded, rows) == {"a": "inconclusive", "b": "confirmed"}


def test_a_claim_changed_in_the_config_changes_the_verdict_and_its_text(tmp_path):
    ctx = _run_toy(tmp_path, claims={"gap": {"margin": 2.0}})
    assert ctx.claims[0]["claim_en"] == "a beats b by more than 2" and ctx.claims[0]["raw_verdict"] == "refuted"
    assert ctx.claims[0]["margin"] == 2.0


def test_replication_uses_disjoint_seed_blocks_and_records_them(tmp_path):
    _run_toy(tmp_path, seed=100)
    settings = {"seed": 100, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False, "claims": {}}
    rows = replicate("toy", Toy, settings, dict(Toy.DEFAULTS), log=lambda *a: None)
    replicate("toy", Toy, settings, dict(Toy.DEFAULTS), log=lambda *a: None)
    blocks = [(block.start, block.count, purpose) for block, purpose in read_ledger(tmp_path)]
    assert blocks == [(100, 6, "run"), (106, 6, "replication in replication_106"),
                      (112, 6, "replication in replication_112")]
    for start in (106, 112):
        runs = read_runs(tmp_path / f"replication_{start}")
        assert sorted({int(r["seed"]) for r in runs}) == list(range(start, start + 6))
        assert {r["seed_block"] for r in runs} == {str(start)}
    assert [(r["committed"], r["fresh"], r["replicated"]) for r in rows][:3] == [
        ("confirmed", "confirmed", "confirmed"), ("refuted", "refuted", "refuted"), ("no effect", "no effect", "no effect")]
    with open(tmp_path / "replication_106" / "replication.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 4


def test_a_verdict_that_changes_on_fresh_seeds_is_inconclusive():
    assert replicated("confirmed", "inconclusive") == "inconclusive" == replicated("confirmed", "refuted")
    assert replicated("no effect", "no effect") == "no effect"


def test_next_block_starts_after_seeds_of_a_run_made_before_the_ledger(tmp_path):
    (tmp_path / "runs.csv").write_text("norm,seed\nbn,0\nbn,4\ngn,2\n", encoding="utf-8")
    assert next_start(tmp_path) == 5 and next_start(tmp_path, at_least=7) == 7
    (tmp_path / "seed_blocks.json").write_text(json.dumps([{"start": 20, "count": 5, "purpose": "run"}]))
    assert next_start(tmp_path) == 25
    assert SeedBlock(0, 5).overlaps(SeedBlock(4, 2)) and not SeedBlock(0, 5).overlaps(SeedBlock(5, 2))


def test_charts_of_each_kind_are_written(tmp_path):
    ctx = _run_toy(tmp_path)
    assert [name for name, _ in ctx.charts] == ["toy_curves.png", "toy_sweep.png", "toy_heatmap.png"]
    for name, _ in ctx.charts:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _KeepFigure:
    """What charts.draw asks of a context; keeps the figure instead of saving it."""
    def figure(self, ncols=1, nrows=1, width=5.0, height=3.6):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt.subplots(nrows, ncols, squeeze=False)

    def chart_text(self, en, zh):
        return en

    tr = chart_text

    def save_figure(self, fig, name, caption=""):
        self.fig = fig


def test_sweep_bars_stop_at_the_bounds():
    """Two seeds of errors 0 and 10 % give 5 ± 63.5: the bar stops at 0 % (and the one of 85 and 95 % at 100 %)."""
    runs = [{"groups": g, "seed": s, "error": e} for g, values in ((1, (0.0, 10.0)), (4, (2.0, 4.0)), (32, (85.0, 95.0)))
            for s, e in enumerate(values)]
    ctx = _KeepFigure()
    draw(ctx, Chart("sweep", "x", ("error",), ("", ""), x="groups", bounds=(0.0, 100.0), log2=True), runs)
    (bars,) = [c for c in ctx.fig.axes[0].collections if len(c.get_segments()) == 3]
    ends = sorted((float(s[0][0]), float(min(s[:, 1])), float(max(s[:, 1]))) for s in bars.get_segments())
    wide, narrow = mean_interval([0.0, 10.0]).half_width, mean_interval([2.0, 4.0]).half_width  # 63.53, 12.71
    assert [x for end in ends for x in end] == pytest.approx([1, 0.0, 5 + wide, 4, 0.0, 3 + narrow, 32, 90 - wide, 100.0])


def test_where_keeps_only_the_runs_it_selects_and_a_heatmap_leaves_non_finite_values_out():
    """Part "b" is not drawn; the diverged (nan) run of x=2 is left out of its cell's mean, not made nan."""
    runs = [{"part": part, "x": x, "y": 1, "seed": s, "v": v} for part, x, values in (
        ("a", 1, (1.0, 3.0)), ("a", 2, (5.0, float("nan"), 7.0)), ("b", 3, (9.0, 9.0))) for s, v in enumerate(values)]
    ctx = _KeepFigure()
    draw(ctx, Chart("heatmap", "x", ("v",), ("", ""), x="x", y="y", where={"part": "a"}), runs)
    texts = [t.get_text().split("\n")[0] for t in ctx.fig.axes[0].texts]
    assert texts == ["2.00", "6.00"] and [t.get_text() for t in ctx.fig.axes[0].get_xticklabels()] == ["1", "2"]


def test_curves_leave_a_diverged_run_out():
    runs = [{"arm": "a", "seed": 0, "c": [1.0, 2.0]}, {"arm": "a", "seed": 1, "c": [3.0, float("nan")]},
            {"arm": "a", "seed": 2, "c": [3.0, 4.0]}]
    ctx = _KeepFigure()
    draw(ctx, Chart("curves", "x", ("c",), ("", ""), by="arm"), runs)
    assert ctx.fig.axes[0].lines[0].get_ydata().tolist() == [2.0, 3.0]


def test_resolve_claims_checks_selectors_against_the_grid():
    grid = [{"lr": 0.05}, {"lr": 0.4}]
    declared = {"x": Claim("", "", "gain", {"lr": 0.05})}
    with pytest.raises(ConfigError, match="'momentum' is not a setting of the grid"):
        resolve_claims(declared, {"x": {"a": {"momentum": 0.9}}}, grid, ("gain",))
    with pytest.raises(ConfigError, match="a 'within' claim needs margin > 0"):
        resolve_claims(declared, {"x": {"side": "within"}}, grid, ("gain",))
    assert resolve_claims(declared, {}, grid, ("gain",))["x"].a == {"lr": 0.05}


def test_a_cell_that_returns_other_metrics_than_declared_is_a_bug(tmp_path):
    broken = Experiment(grid=lambda p: [{}], cell=lambda ctx, s, seed: {"x": 1.0}, metrics=("y",))
    with pytest.raises(RuntimeError, match=r"the cell returned \['x'\], declared metrics \['y'\]"):
        run_experiment("broken", type("M", (), {"run": broken.run}), {"seed": 0, "quick": True, "output_dir": str(tmp_path),
                                                                      "use_visualdl": False}, {"seeds": 1})


def _same(text, value):
    """A runs.csv cell equals a setting value: as numbers when both are, else as text."""
    try:
        return float(text) == float(value)
    except (TypeError, ValueError):
        return str(text) == str(value)


def _by_seed(runs, metric, selector):
    """``{seed: value}`` by hand (the mean over several matching settings)."""
    found = {}
    for run in runs:
        if all(any(_same(run[k], x) for x in (v if isinstance(v, list) else [v])) for k, v in selector.items()):
            found.setdefault(int(run["seed"]), []).append(float(run[metric]))
    return {seed: float(np.mean(values)) for seed, values in found.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", PORTED)
def test_ported_quick_presets_follow_the_framework(tmp_path, name):
    """runs.csv holds the grid x seed block; the table's intervals are mean_interval over runs.csv; every claim
    measured over seeds is the paired (or single) interval of runs.csv; the charts and the ledger are written."""
    ctx = run_quick(name, tmp_path, "seed=3")
    declared = ctx.module.EXPERIMENT
    grid, runs = declared.grid(ctx.params), read_runs(tmp_path)
    assert len(runs) == len(grid) * ctx.params["seeds"]
    assert sorted({int(r["seed"]) for r in runs}) == [3, 4] and {r["seed_block"] for r in runs} == {"3"}
    assert read_ledger(tmp_path)[0][0] == SeedBlock(3, 2)
    for claim in (c for c in declared.resolve(ctx.params).values() if c.a is not None):
        a = _by_seed(runs, claim.metric, claim.a)
        values = [a[s] - claim.center for s in sorted(a)]
        if claim.b is not None:
            b = _by_seed(runs, claim.metric, claim.b)
            values = [a[s] - b[s] for s in sorted(a)]
        row = next(c for c in ctx.claims if c["claim_en"] == claim.text(claim.en, ctx.params))
        kept = [v for v in values if np.isfinite(v)]  # a diverged or censored run: counted as failed, not in the interval
        assert row["failed"] == len(values) - len(kept)
        if not kept:
            assert row["n"] == 0
            continue
        expected = mean_interval(kept).scaled(claim.scale)
        assert (row["mean"], row["low"], row["high"]) == pytest.approx((expected.mean, expected.low, expected.high))
    table = ctx.tables[declared.table.name]["rows"]
    stat = next(c for c in declared.table.columns if isinstance(c, framework.Stat))
    if declared.table.index is None:
        for row, setting in zip(table, grid):
            values = _by_seed(runs, stat.metric, setting).values()
            assert row[f"{stat.header} mean"] == pytest.approx(np.mean(list(values)))
    for chart in declared.charts:
        assert (tmp_path / f"{chart.name}.png").is_file()


@pytest.mark.slow
def test_replicate_from_the_command_line(tmp_path, capsys):
    """The committed run uses the config's block (seeds 1000, 1001 in the quick setting); --replicate runs 1002, 1003
    into replication_1002 and prints both verdicts."""
    from ppnorm.experiments.cli import experiment_main
    command = ["-c", "configs/experiments/group_sweep.yaml", "-o", f"output_dir={tmp_path}", "quick=true",
               "use_visualdl=false"]
    assert experiment_main(command + ["--replicate"]) == 2
    assert "claims.csv does not exist: run the experiment first" in capsys.readouterr().err
    assert experiment_main(command) == 0 and experiment_main(command + ["--replicate"]) == 0
    out = capsys.readouterr().out
    assert "| claim | committed | fresh | replicated | committed interval | fresh interval |" in out
    assert sorted({int(r["seed"]) for r in read_runs(tmp_path / "replication_1002")}) == [1002, 1003]
    assert [(b.start, b.count) for b, _ in read_ledger(tmp_path)] == [(1000, 2), (1002, 2)]
    with pytest.raises(SystemExit):
        experiment_main(["--replicate"])
    assert "works on the experiment of -c CONFIG: give it" in capsys.readouterr().err
