"""tools/benchmark.py --trainer: the main job through the Trainer vs a bare loop (rows and steps; no speed asserted)."""
import csv
import os
import tempfile

import pytest

from ppnorm.benchmark import trainer_cost as T
from ppnorm.benchmark.cli import benchmark_main, parse_args
from ppnorm.engine import load_config
from ppnorm.engine.hook_api import HookBase, by_priority

CONFIG = load_config("configs/digits/resnet20.yaml")


def _fake_pairs(monkeypatch, seconds, steps=None):
    """Replace the interleaved runs by ones that record (output_dir, epochs, bare_first) and return the given
    seconds in turn."""
    calls, left = [], {name: list(values) for name, values in seconds.items()}

    def run(config, output_dir, epochs=None, bare_first=False):
        assert config is CONFIG and not os.path.exists(output_dir)
        calls.append((os.path.basename(output_dir), epochs, bare_first, os.path.dirname(output_dir)))
        if os.path.basename(output_dir) == "warmup":
            return {"trainer": (0.5, 1), "bare": (0.5, 1)}
        pair = {name: (left[name].pop(0), (steps or {}).get(name, 60)) for name in ("bare", "trainer")}
        return dict(pair, hooks={"UpdateEma": 0.2 * len(calls), "TrainLog": 0.001})  # 0.4, 0.6, 0.8 s

    monkeypatch.setattr(T, "run_pair", run)
    return calls


def test_a_one_epoch_warm_up_then_repeats_that_alternate_the_order_and_the_ratio_is_the_median_of_each_repeats(
        monkeypatch):
    calls = _fake_pairs(monkeypatch, {"trainer": [12.0, 10.0, 30.0], "bare": [9.0, 9.9, 9.5]})
    lines = []
    rows = T.trainer_vs_bare(CONFIG, epochs=2, repeats=3, log=lines.append)
    assert [call[:3] for call in calls] == [("warmup", 1, False), ("run_0", 2, False), ("run_1", 2, True),
                                            ("run_2", 2, False)]
    work_dir = calls[0][3]
    assert {parent for *_, parent in calls} == {work_dir} and not os.path.exists(work_dir)  # created and removed
    bare, trainer = rows
    assert (bare["implementation"], trainer["ratio_against"]) == ("bare Paddle loop", "bare Paddle loop")
    assert bare["ratio"] is None and trainer["ratio"] == 0.75  # of 0.75, 0.99, 0.317 (not 9.5 / 12)
    assert (bare["seconds"], trainer["seconds"], bare["steps"], trainer["steps"]) == (9.5, 12.0, 60, 60)
    assert bare["images_per_s"] == round(60 * 32 / 9.5, 2) and trainer["images_per_s"] == round(60 * 32 / 12.0, 2)
    assert bare["model"] == trainer["model"] == "resnet20 on digits, 60 steps" and bare["batch"] == 32
    assert len(lines) == 3 * 2 + 4 and "0.750x bare Paddle loop" in lines[-3]
    assert lines[-2].startswith("[Bench] the Trainer's ratio in each repeat: 0.750, 0.990, 0.317 (median 0.750;")
    assert lines[-1].endswith("UpdateEma 0.60 s (6.3%)")  # the median of 0.4, 0.6, 0.8 over bare's 9.5 s; TrainLog
    # (1 ms) is left out


def test_runs_of_different_lengths_are_refused(monkeypatch):
    _fake_pairs(monkeypatch, {"trainer": [1.0], "bare": [1.0]}, steps={"trainer": 59, "bare": 60})
    with pytest.raises(RuntimeError, match="the Trainer ran 59 steps, the bare loop 60"):
        T.trainer_vs_bare(CONFIG, repeats=1, log=lambda line: None)


class _Bare:
    def __init__(self, order):
        self.order = order

    def run_epoch(self):
        self.order.append("bare epoch")


class _Hook(HookBase):
    def __init__(self, order, priority):
        self.order, self.priority = order, priority

    def before_epoch(self, ctx):
        self.order.append(f"before {self.priority}")

    def after_epoch(self, ctx):
        self.order.append(f"after {self.priority}")


@pytest.mark.parametrize("stage", ["before_epoch", "after_epoch"])
def test_a_bare_epoch_runs_first_in_or_last_after_each_trainer_epoch(stage):
    order = []
    hooks = by_priority([_Hook(order, 5), _Hook(order, 95), T.RunBareEpoch(_Bare(order), stage)])  # built-ins: 5-95
    for hook_stage in ("before_epoch", "after_epoch"):
        for hook in hooks:
            getattr(hook, hook_stage)(None)
    expected = ["before 5", "before 95", "after 5", "after 95"]
    expected.insert(0 if stage == "before_epoch" else 4, "bare epoch")
    assert order == expected
    with pytest.raises(ValueError, match="stage must be before_epoch or after_epoch"):
        T.RunBareEpoch(_Bare(order), "after_step")


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
