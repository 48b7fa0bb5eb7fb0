"""tools/benchmark.py --trainer: the main job through the Trainer vs a bare loop (rows and steps; no speed asserted)."""
import csv
import os
import tempfile

import pytest

from ppnorm.benchmark import trainer_cost as T
from ppnorm.benchmark.cli import benchmark_main, parse_args
from ppnorm.engine import load_config

CONFIG = load_config("configs/digits/resnet20.yaml")


def _fake_sides(monkeypatch, seconds, steps=None):
    """Replace both runs by ones that record (side, output_dir, epochs) and return the given seconds in turn."""
    calls, left = [], {name: list(values) for name, values in seconds.items()}

    def side(name):
        def run(config, output_dir, epochs=None):
            assert config is CONFIG and not os.path.exists(output_dir)
            calls.append((name, os.path.basename(output_dir), epochs, os.path.dirname(output_dir)))
            return (0.5, 1) if epochs == 1 and os.path.basename(output_dir).startswith("warmup") \
                else (left[name].pop(0), (steps or {}).get(name, 60))
        return run

    monkeypatch.setattr(T, "SIDES", {"trainer": side("trainer"), "bare": side("bare")})
    return calls


def test_the_sides_alternate_after_a_one_epoch_warm_up_and_the_ratio_is_the_median_of_each_repeats(monkeypatch):
    calls = _fake_sides(monkeypatch, {"trainer": [12.0, 10.0, 30.0], "bare": [9.0, 9.9, 9.5]})
    lines = []
    rows = T.trainer_vs_bare(CONFIG, epochs=2, repeats=3, log=lines.append)
    assert [(side, name, epochs) for side, name, epochs, _ in calls] == [
        ("trainer", "warmup_trainer", 1), ("bare", "warmup_bare", 1), ("trainer", "trainer_0", 2),
        ("bare", "bare_0", 2), ("bare", "bare_1", 2), ("trainer", "trainer_1", 2), ("trainer", "trainer_2", 2),
        ("bare", "bare_2", 2)]
    work_dir = calls[0][3]
    assert {parent for *_, parent in calls} == {work_dir} and not os.path.exists(work_dir)  # created and removed
    bare, trainer = rows
    assert (bare["implementation"], trainer["ratio_against"]) == ("bare Paddle loop", "bare Paddle loop")
    assert bare["ratio"] is None and trainer["ratio"] == 0.75  # of 0.75, 0.99, 0.317 (not 9.5 / 12)
    assert (bare["seconds"], trainer["seconds"], bare["steps"], trainer["steps"]) == (9.5, 12.0, 60, 60)
    assert bare["images_per_s"] == round(60 * 32 / 9.5, 2) and trainer["images_per_s"] == round(60 * 32 / 12.0, 2)
    assert bare["model"] == trainer["model"] == "resnet20 on digits, 60 steps" and bare["batch"] == 32
    assert len(lines) == 3 * 2 + 2 and "0.750x bare Paddle loop" in lines[-1]


def test_runs_of_different_lengths_are_refused(monkeypatch):
    _fake_sides(monkeypatch, {"trainer": [1.0], "bare": [1.0]}, steps={"trainer": 59, "bare": 60})
    with pytest.raises(RuntimeError, match="the Trainer ran 59 steps, the bare loop 60"):
        T.trainer_vs_bare(CONFIG, repeats=1, log=lambda line: None)


def test_trainer_flag_defaults_to_the_main_job_and_three_repeats():
    args = parse_args(["--trainer"])
    assert (args.trainer, args.repeats, args.trainer_epochs) == ("configs/digits/resnet20.yaml", 3, None)
    assert parse_args([]).repeats == 5 and parse_args(["--trainer", "x.yaml", "--repeats", "2"]).repeats == 2


@pytest.mark.slow
def test_both_sides_really_train_the_same_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp")
    out = tmp_path / "bench"
    code = benchmark_main(["--trainer", "--trainer_epochs", "1", "--repeats", "1", "--output_dir", str(out)])
    assert code == 0 and os.listdir(tmp_path / "tmp") == []  # the runs' directories are gone
    with open(out / "benchmark.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["implementation"] for r in rows] == ["bare Paddle loop", "Trainer (EMA, eval, checkpoints, logs)"]
    assert [r["model"] for r in rows] == ["resnet20 on digits, 44 steps"] * 2  # one epoch of 1,437 // 32 batches
    assert float(rows[1]["ratio"]) > 0 and rows[1]["ratio_against"] == "bare Paddle loop"
