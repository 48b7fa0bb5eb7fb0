"""Numbers and paths in a config are checked when it loads: finite, in range, ``~`` expanded; the one-line errors
name the key. Issue 24 §3 and §5 (the GroupNorm key)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ppnorm.engine.config import MAX_INT, ConfigError, load_config
from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits" / "resnet20.yaml")


@pytest.mark.parametrize("override, message", [
    ("Optimizer.lr.learning_rate=.nan", "Optimizer.lr.learning_rate must be a finite number, got nan"),
    ("Optimizer.weight_decay=.inf", "Optimizer.weight_decay must be a finite number, got inf"),
    ("Optimizer.momentum=.nan", "Optimizer.momentum must be a finite number, got nan"),
    ("Optimizer.lr.learning_rate=nan", "Optimizer.lr.learning_rate must be a finite number, got nan"),
    ("Arch.norm_options={eps: -.inf}", "Arch.norm_options.eps must be a finite number, got -inf"),
    ("Global.cpu_threads=100000000000000000000", "Global.cpu_threads must be <= 1024, got 100000000000000000000"),
    ("DataLoader.Train.num_workers=4097", "DataLoader.Train.num_workers must be <= 256, got 4097"),
    (f"Global.epochs={MAX_INT + 1}", f"Global.epochs must be at most {MAX_INT} in size, got {MAX_INT + 1}"),
    ("Arch.norm_options={groups: 99999999999999}", "Arch.norm_options.groups must be at most"),
])
def test_numbers_that_no_run_could_use_are_refused_when_the_config_loads(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(DIGITS, [override])
    assert str(error.value).startswith(f"{DIGITS} with -o overrides: {message}")


def test_largest_allowed_values_still_load():
    config = load_config(DIGITS, ["Global.cpu_threads=1024", "DataLoader.Train.num_workers=256",
                                  f"Global.seed={2 ** 32 - 1}"])
    assert (config["Global"]["cpu_threads"], config["DataLoader"]["Train"]["num_workers"]) == (1024, 256)


@pytest.mark.parametrize("override, message", [
    ("params.seeds=100000000000000000000", f"params.seeds must be at most {MAX_INT} in size"),
    ("params.lrs=[0.05, .nan]", "params.lrs[1] must be a finite number, got nan"),
])
def test_experiment_numbers_are_checked_too(override, message):
    path = str(ROOT / "configs" / "experiments" / "precise_bn.yaml")
    with pytest.raises(ConfigError, match=f"^{path}: " + message.replace("[", r"\[").replace("]", r"\]")):
        load_experiment_config(path, [override], experiments())


def test_home_is_expanded_in_every_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config(DIGITS, ["Global.output_dir=~/runs/t", "Global.pretrained_model=~/w/best_model",
                                  "DataLoader.Train.dataset={name: image_folder, root: ~/data/train}"])
    assert config["Global"]["output_dir"] == str(tmp_path / "runs" / "t")
    assert config["Global"]["pretrained_model"] == str(tmp_path / "w" / "best_model")
    assert config["DataLoader"]["Train"]["dataset"]["root"] == str(tmp_path / "data" / "train")
    assert load_config(DIGITS, ["Global.output_dir=a~b"])["Global"]["output_dir"] == "a~b"  # not a home path


@pytest.mark.slow
def test_group_norm_that_does_not_divide_names_the_key_through_the_tool(tmp_path):
    before = sorted(os.listdir(tmp_path))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", DIGITS, "-o", "Arch.norm=gn",
                             f"Global.output_dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: Arch.norm_options.groups: GroupNorm: num_channels=16 is not divisible by groups=32; use groups=16 "
        "(a divisor of 16): -o Arch.norm_options.groups=16")
    assert sorted(os.listdir(tmp_path)) == before or not (tmp_path / "run" / "latest.pdparams").exists()
