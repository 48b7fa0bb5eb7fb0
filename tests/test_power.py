"""Seed counts from power (experiments/power.py) and the pilot that measures the spread (experiments/pilot.py):
power against simulated t-tests, the smallest sufficient seed count, the spread's upper bound, and pilot blocks that
no verdict may use."""
import csv
import math

import numpy as np
import pytest

from ppnorm.experiments import power
from ppnorm.experiments.pilot import run_pilot, size_from
from ppnorm.experiments.replication import replicate
from ppnorm.experiments.runner import run_experiment
from ppnorm.experiments.seedblocks import PILOT_BASE, read_ledger
from ppnorm.experiments.stats import mean_interval, one_sided_p, tost_p

from experiment_runs import read_runs
from test_experiment_framework import Toy, _run_toy

QUIET = {"log": lambda *a: None}


def _simulated(test, true_mean, sd, n, alpha, trials=4000, seed=0):
    """How often the real decision rule (stats.py) rejects, over simulated samples."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        found = mean_interval(rng.normal(true_mean, sd, n))
        hits += test(found) <= alpha
    return hits / trials


@pytest.mark.parametrize("effect,sd,n,alpha", [(1.0, 1.0, 5, 0.025), (0.5, 2.0, 30, 0.0125), (3.0, 1.0, 3, 0.025)])
def test_one_sided_power_is_the_rejection_rate_of_the_t_test(effect, sd, n, alpha):
    expected = _simulated(lambda e: one_sided_p(e, "greater", 0.0), effect, sd, n, alpha)
    assert power.one_sided_power(effect, sd, n, alpha) == pytest.approx(expected, abs=0.025)


@pytest.mark.parametrize("expected,bound,n", [(0.0, 0.8, 20), (0.2, 1.0, 12), (0.0, 0.3, 10)])
def test_equivalence_power_is_a_lower_bound_of_tost_rejection(expected, bound, n):
    simulated = _simulated(lambda e: tost_p(e, bound), expected, 1.0, n, 0.025)
    found = power.equivalence_power(expected, bound, 1.0, n, 0.025)
    assert found <= simulated + 0.02 and found >= simulated - 0.06


@pytest.mark.parametrize("goal,sd,alpha", [(power.Target("one-sided", effect=1.0), 1.0, 0.025),
                                           (power.Target("one-sided", effect=0.4), 1.3, 0.025 / 3),
                                           (power.Target("equivalence", bound=1.0, expected=0.1), 0.9, 0.025)])
def test_seeds_needed_is_the_smallest_count_with_80_percent_power(goal, sd, alpha):
    n = power.seeds_needed(goal, sd, alpha)
    assert power.power_at(goal, sd, n, alpha) >= 0.8 > power.power_at(goal, sd, n - 1, alpha)


def test_a_one_sd_effect_needs_more_seeds_after_holm():
    goal = power.target("greater", 0.0, None, 1.0)
    alone, among_three = power.seeds_needed(goal, 1.0, power.claim_alpha(1)), power.seeds_needed(goal, 1.0,
                                                                                                 power.claim_alpha(3))
    assert alone < among_three and power.power_at(goal, 1.0, 5, 0.025) < 0.5  # n = 5 misses a 1-SD effect


def test_zero_spread_needs_the_sign_tests_count():
    goal = power.target("greater", 0.0, None, 2.0)
    for alpha in (0.025, 0.025 / 4):
        n = power.seeds_needed(goal, 0.0, alpha)
        assert 0.5 ** n <= alpha < 0.5 ** (n - 1)


def test_what_a_claim_is_powered_for():
    assert power.target("greater", 1.0, None, 3.0) == power.Target("one-sided", effect=2.0, expected=3.0)
    assert power.target("less", 0.0, None, -0.5).effect == 0.5
    assert power.target("within", 2.0, None, 0.5) == power.Target("equivalence", bound=2.0, expected=0.5)
    assert power.target("greater", 0.0, 1.0, 0.2).test == "equivalence"  # the notes expect no effect
    assert power.target("greater", 0.0, None, -1.0) == power.Target("opposite", effect=1.0, expected=-1.0)
    assert power.target("within", 5.0, None, 78.5) == power.Target("opposite", effect=73.5, expected=78.5)
    assert power.target("less", 2.0, None, 2.0).reason == power.WRONG_SIDE
    assert power.target("greater", 0.0, None, None).reason == power.NO_EXPECTED
    assert power.seeds_needed(power.target("greater", 0.0, None, None), 1.0, 0.025) is None


def test_the_pilot_spread_is_an_upper_bound_four_times_in_five():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(3000):
        found = mean_interval(rng.normal(0.0, 2.0, 5))
        covered += power.pilot_spread(found.half_width, 5) >= 2.0
    assert covered / 3000 == pytest.approx(0.8, abs=0.025)
    assert math.isnan(power.pilot_spread(1.0, 1))


def _settings(tmp_path, **more):
    return dict({"seed": 100, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False,
                 "claims": {"gap": {"expected": 1.5}, "tiny": {"expected": 0.0}}}, **more)


def test_the_pilot_runs_on_its_own_block_and_sizes_each_claim(tmp_path):
    rows = run_pilot("toy", Toy, _settings(tmp_path), dict(Toy.DEFAULTS), count=4, **QUIET)
    assert sorted({int(r["seed"]) for r in read_runs(tmp_path / f"pilot_{PILOT_BASE}")}) == list(
        range(PILOT_BASE, PILOT_BASE + 4))
    assert [(b.start, b.count, p) for b, p in read_ledger(tmp_path)] == [(PILOT_BASE, 4, f"pilot in pilot_{PILOT_BASE}")]
    with open(tmp_path / "power.csv", newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [{k: str(v) for k, v in row.items()} for row in rows]
    by_claim = {row["claim_en"]: row for row in rows}
    gap = by_claim["a beats b by more than 0"]
    assert gap["test"] == "one-sided" and gap["seeds_needed"] >= 2 and gap["seeds_configured"] == 6
    goal = power.Target("one-sided", effect=1.5)
    assert gap["seeds_needed"] == power.seeds_needed(goal, gap["spread"], power.claim_alpha(4))
    assert by_claim["the tiny metric does not differ"]["test"] == "equivalence"
    assert by_claim["b beats a"]["note"] == power.NO_EXPECTED


def test_seeds_of_a_pilot_never_decide_a_verdict(tmp_path):
    run_pilot("toy", Toy, _settings(tmp_path), dict(Toy.DEFAULTS), count=3, **QUIET)
    with pytest.raises(ValueError, match="overlap the pilot's seeds"):
        run_experiment("toy", Toy, _settings(tmp_path, seed=PILOT_BASE - 2), dict(Toy.DEFAULTS), **QUIET)
    _run_toy(tmp_path, seed=100)
    replicate("toy", Toy, _settings(tmp_path, claims={}), dict(Toy.DEFAULTS), **QUIET)
    run_pilot("toy", Toy, _settings(tmp_path), dict(Toy.DEFAULTS), count=3, **QUIET)
    blocks = [(b.start, b.count) for b, _ in read_ledger(tmp_path)]
    assert blocks == [(PILOT_BASE, 3), (100, 6), (106, 6), (PILOT_BASE + 3, 3)]  # replication 106: not after a pilot
    assert "## Seed counts from the pilot" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_pilot_from_the_command_line(tmp_path, capsys):
    from ppnorm.experiments.cli import experiment_main
    with pytest.raises(SystemExit):
        experiment_main(["--pilot", "3"])
    assert "-c CONFIG" in capsys.readouterr().err
    command = ["-c", "configs/experiments/group_sweep.yaml", "-o", f"output_dir={tmp_path}", "quick=true",
               "use_visualdl=false"]
    assert experiment_main(command + ["--pilot", "1"]) == 2
    assert "at least 2 seeds" in capsys.readouterr().err


def test_seed_counts_sized_from_earlier_runs_reserve_their_seeds(tmp_path):
    design, home = tmp_path / "design", tmp_path / "home"
    _run_toy(design, seed=100)
    rows = size_from("toy", Toy, _settings(home), dict(Toy.DEFAULTS), str(design), **QUIET)
    assert [(b.start, b.count) for b, _ in read_ledger(home)] == [(100, 6)]
    gap = {row["claim_en"]: row for row in rows}["a beats b by more than 0"]
    with open(design / "claims.csv", newline="", encoding="utf-8") as handle:
        measured = {r["claim_en"]: r for r in csv.DictReader(handle)}["a beats b by more than 0"]
    half = (float(measured["high"]) - float(measured["low"])) / 2
    assert gap["spread"] == pytest.approx(power.pilot_spread(half, 6), abs=1e-4) and gap["pilot_n"] == 6
    with pytest.raises(ValueError, match="overlap the pilot's seeds 100..105"):
        run_experiment("toy", Toy, _settings(home), dict(Toy.DEFAULTS), **QUIET)
    run_experiment("toy", Toy, _settings(home, seed=1000), dict(Toy.DEFAULTS), **QUIET)  # a fresh block runs


def test_sizing_from_committed_runs_from_the_command_line(tmp_path, capsys):
    from ppnorm.experiments.cli import experiment_main
    command = ["-c", "configs/experiments/group_sweep.yaml", "-o", f"output_dir={tmp_path}"]
    assert experiment_main(command + ["--size_from", "docs/experiments/group_sweep"]) == 0
    with open(tmp_path / "power.csv", newline="", encoding="utf-8") as handle:
        rows = {row["claim_en"][:2]: row for row in csv.DictReader(handle)}
    seeds = {int(r["seed"]) for r in read_runs("docs/experiments/group_sweep")}
    assert rows["IN"]["test"] == "one-sided" and int(rows["IN"]["pilot_n"]) == len(seeds)
    assert int(rows["IN"]["seeds_needed"]) >= 2
    assert [(b.start, b.end) for b, _ in read_ledger(tmp_path)] == [(min(seeds), max(seeds) + 1)]  # now a pilot block
    with pytest.raises(SystemExit):
        experiment_main(command + ["--size_from", str(tmp_path), "--replicate"])
    assert "--replicate and --size_from are different runs" in capsys.readouterr().err


def test_a_claim_whose_pilot_runs_all_failed_is_not_sized():
    from ppnorm.experiments.claims import Claim
    from ppnorm.experiments.pilot import power_rows
    claims = {"c": Claim("c", "c", "m", {"arm": "a"}, expected=1.0)}
    measured = [{"claim_en": "c", "claim_zh": "c", "kind": "interval", "n": "0", "failed": "5", "mean": "nan",
                 "low": "nan", "high": "nan"}]
    (row,) = power_rows(claims, {}, measured, configured=5, pilot_seeds=5)
    assert row["note"] == power.ALL_FAILED and row["seeds_needed"] == "" and row["pilot_failed"] == "5"


def test_a_claim_with_no_finite_run_says_so_instead_of_nan(tmp_path):
    from ppnorm.experiments.context import Context
    from ppnorm.experiments.stats import Estimate
    settings = {"seed": 0, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False, "lang": "zh"}
    ctx = Context("toy", Toy, settings, dict(Toy.DEFAULTS), log=lambda *a: None)
    ctx.compare(("c", "说法"), Estimate(math.nan, math.nan, 0), "greater", failed=5)
    assert ctx.claims[-1]["deciding"] == "无有效值（说法：> 0，n=0，另有 5 次失败）"
