"""Tuning (experiments/tuning.py, data.validation): hyperparameters chosen on a validation split carved from the
training data, on a seed block that no verdict may use."""
import csv

import numpy as np
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import data as experiment_data
from ppnorm.experiments.config import resolve_experiment_config
from ppnorm.experiments.framework import Experiment, Stat, Table
from ppnorm.experiments.runner import run_experiment
from ppnorm.experiments.seedblocks import PILOT_BASE, read_ledger
from ppnorm.experiments.tune_report import tuning_lines
from ppnorm.experiments.tuning import VALIDATION, chosen_index, run_tuning, score

QUIET = {"log": lambda *a: None}
SEEN = []


def _cell(ctx, setting, seed):
    """A loss with its minimum at lr 0.03 plus seed noise; records the split sizes the cell was given."""
    train, test = ctx.data("train"), ctx.data("test")
    SEEN.append((len(train[1]), len(test[1])))
    noise = float(np.random.default_rng(seed).normal(0, 1e-4))
    return {"loss": (ctx.params["lr"] - 0.03) ** 2 + noise + (0.5 if setting["arm"] == "b" else 0.0)}


class Tunable:
    """A stand-in experiment module that takes its data through ctx.data and has one param worth tuning."""
    QUESTION, QUESTION_ZH, QUICK, DATA = "Which lr?", "哪个学习率？", {}, True
    DEFAULTS = {"seeds": 3, "lr": 0.1, "arms": ["a"]}
    EXPERIMENT = Experiment(
        grid=lambda params: [{"arm": arm} for arm in params["arms"]], cell=_cell, metrics=("loss",),
        claims=lambda params: {}, table=Table("arms", ("arms", "arms"), ("arm", Stat("loss", "loss", 4))),
        summary=lambda ctx, results: "done")
    run = EXPERIMENT.run


def _settings(tmp_path, tuning):
    return {"seed": 0, "quick": False, "output_dir": str(tmp_path), "use_visualdl": False, "lang": "en",
            "claims": {}, "data": None, "tuning": tuning}


TUNING = {"lr": {"values": [0.01, 0.03, 0.1], "metric": "loss", "where": {"arm": "a"}, "goal": "min",
                 "params": {"arms": ["a", "b"]}}}


def test_the_validation_split_is_a_per_class_share_of_the_training_images_and_never_the_test_images():
    spec = {"name": "digits", "validation": 0.25}
    (train, train_labels), (held, held_labels) = (experiment_data.load(spec, s, False) for s in ("train", "test"))
    (full, full_labels), (test, _) = (experiment_data.load(None, s, False) for s in ("train", "test"))
    assert len(train_labels) + len(held_labels) == len(full_labels)
    rows = {r.tobytes() for r in full.numpy()}
    assert all(r.tobytes() in rows for r in held.numpy()) and all(r.tobytes() in rows for r in train.numpy())
    assert not {r.tobytes() for r in held.numpy()} & {r.tobytes() for r in train.numpy()}
    for label in range(10):  # a quarter of each class, rounded
        count = int((full_labels.numpy() == label).sum())
        assert int((held_labels.numpy() == label).sum()) == round(0.25 * count)
    assert experiment_data.info(spec).test_size == len(held_labels) and len(test) == 360


def test_tuning_runs_every_value_on_one_pilot_block_scored_on_validation_and_picks_the_best(tmp_path):
    SEEN.clear()
    rows = run_tuning("tunable", Tunable, _settings(tmp_path, TUNING), dict(Tunable.DEFAULTS), count=3, **QUIET)
    assert [r["value"] for r in rows] == [0.01, 0.03, 0.1] and [r["chosen"] for r in rows] == [False, True, False]
    assert rows[1]["mean"] == pytest.approx(0.0, abs=1e-3) and rows[2]["mean"] == pytest.approx(0.0049, abs=1e-3)
    assert all(r["n"] == 3 and r["seeds"] == f"{PILOT_BASE}..{PILOT_BASE + 2}" for r in rows)
    labels = experiment_data.load(None, "train", normalize=False)[1].numpy()
    held = sum(round(VALIDATION * int((labels == c).sum())) for c in range(10))  # per class, as _holdout rounds
    assert set(SEEN) == {(len(labels) - held, held)}  # every cell scored on the validation split
    assert len(SEEN) == 3 * 2 * 3  # values x arms (tuning's params) x seeds
    ledger = [(b.start, b.count, p) for b, p in read_ledger(tmp_path)]
    assert ledger == [(PILOT_BASE, 3, f"pilot: tuning in tune_{PILOT_BASE}")]
    with open(tmp_path / "tune.csv", newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [(w["value"], w["chosen"], w["where"]) for w in written] == [
        ("0.01", "False", "arm=a"), ("0.03", "True", "arm=a"), ("0.1", "False", "arm=a")]
    with pytest.raises(ValueError, match="pilot"):  # the confirmatory run may not reuse the tuning seeds
        run_experiment("tunable", Tunable, dict(_settings(tmp_path, {}), seed=PILOT_BASE + 1), dict(Tunable.DEFAULTS),
                       **QUIET)
    ctx = run_experiment("tunable", Tunable, _settings(tmp_path, {}), dict(Tunable.DEFAULTS, lr=0.03), **QUIET)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert ctx.runs and "| lr | 0.03 | loss |" in report and "| lr | 0.1 | loss |" in report


def test_score_averages_the_matching_runs_per_seed_and_skips_failed_ones():
    runs = [{"seed": 2, "arm": "a", "loss": 1.0}, {"seed": 2, "arm": "a", "loss": 3.0},
            {"seed": 1, "arm": "a", "loss": 5.0}, {"seed": 1, "arm": "b", "loss": 100.0},
            {"seed": 3, "arm": "a", "loss": float("nan")}]
    assert score(runs, "loss", {"arm": "a"}) == [5.0, 2.0]
    assert score(runs, "loss", {}) == [52.5, 2.0]


@pytest.mark.parametrize("means,goal,best", [([3.0, 1.0, 2.0], "min", 1), ([3.0, 1.0, 3.0], "max", 0),
                                             ([float("nan"), 2.0], "min", 1), ([float("nan")], "min", None)])
def test_the_chosen_value_is_the_best_finite_mean(means, goal, best):
    assert chosen_index(means, goal) == best


def test_tuning_needs_ctx_data_a_section_and_two_seeds(tmp_path):
    class DigitsOnly(Tunable):
        DATA = None
    with pytest.raises(ValueError, match="validation split"):
        run_tuning("d", DigitsOnly, _settings(tmp_path, TUNING), dict(Tunable.DEFAULTS), **QUIET)
    with pytest.raises(ValueError, match="no 'tuning' section"):
        run_tuning("t", Tunable, _settings(tmp_path, {}), dict(Tunable.DEFAULTS), **QUIET)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        run_tuning("t", Tunable, _settings(tmp_path, TUNING), dict(Tunable.DEFAULTS), count=1, **QUIET)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("tuning,message", [
    ({"rate": {"values": [0.1], "metric": "loss"}}, "tuning.rate: not a param"),
    ({"lr": {"values": [], "metric": "loss"}}, "tuning.lr: give"),
    ({"lr": {"values": ["fast"], "metric": "loss"}}, "params.lr must be like its default"),
    ({"lr": {"values": [0.1], "metric": "loss", "goal": "best"}}, "goal must be min or max"),
    ({"lr": {"values": [0.1], "metric": "loss", "bogus": 1}}, "unknown key 'bogus'"),
    ({"lr": {"values": [0.1], "metric": "loss", "params": {"arm": ["a"]}}}, "unknown key 'tuning.lr.params.arm'"),
])
def test_a_bad_tuning_section_fails_at_load_time_in_one_line(tuning, message):
    raw = {"experiment": "tunable", "tuning": tuning}
    with pytest.raises(ConfigError, match=message) as error:
        resolve_experiment_config(raw, {"tunable": Tunable}, "my.yaml")
    assert "\n" not in str(error.value) and str(error.value).startswith("my.yaml")


def test_the_data_validation_share_is_checked():
    with pytest.raises(ConfigError, match="data.validation must be a number between 0 and 1"):
        experiment_data.check_data({"name": "digits", "validation": 1.5}, "my.yaml")


def test_no_tune_csv_no_section(tmp_path):
    assert tuning_lines(tmp_path, "Tuned") == []


def test_the_tool_refuses_tune_without_a_tuning_section_in_one_line_and_creates_nothing(tmp_path, capsys):
    from ppnorm.experiments.cli import experiment_main
    out = tmp_path / "out"
    code = experiment_main(["-c", "configs/experiments/residual_vs_plain.yaml", "--tune", "-o", f"output_dir={out}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no 'tuning' section" in err and err.count("\n") == 0 and not out.exists()
    with pytest.raises(SystemExit) as stop:
        experiment_main(["-c", "configs/experiments/batch_size_sweep.yaml", "--tune", "--pilot"])
    assert stop.value.code == 2 and "are different runs" in capsys.readouterr().err


def test_tuning_refuses_an_output_dir_whose_runs_reach_the_tuning_seeds(tmp_path):
    run_experiment("tunable", Tunable, dict(_settings(tmp_path, {}), seed=PILOT_BASE), dict(Tunable.DEFAULTS), **QUIET)
    with pytest.raises(ValueError, match="tuning seeds must be disjoint"):
        run_tuning("tunable", Tunable, _settings(tmp_path, TUNING), dict(Tunable.DEFAULTS), count=2, **QUIET)
    assert not (tmp_path / f"tune_{PILOT_BASE}").exists()
