"""Numbers and paths in a config are checked when it loads: finite, in range, ``~`` expanded; the one-line errors
name the key. Issue 24 §3 and §5 (the GroupNorm key)."""
import os
from pathlib import Path

import pytest
from helpers import error_line, run_tool

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
@pytest.mark.e2e
def test_group_norm_that_does_not_divide_names_the_key_through_the_tool(tmp_path):
    """The line names the key, both numbers and the override that fixes it (the wording is free)."""
    before = sorted(os.listdir(tmp_path))
    line = error_line(run_tool("train", "-c", DIGITS, "-o", "Arch.norm=gn", f"Global.output_dir={tmp_path / 'run'}",
                               cwd=tmp_path))
    assert line.startswith("error: Arch.norm_options.groups: ") and line.endswith(" -o Arch.norm_options.groups=16")
    assert "num_channels=16" in line and "groups=32" in line
    assert sorted(os.listdir(tmp_path)) == before or not (tmp_path / "run" / "latest.pdparams").exists()


def _bomb(levels=11):
    """A 'billion laughs' mapping: each anchor repeats the previous one ten times (10^levels values)."""
    lines = ["  a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        previous = "a" if level == 1 else f"l{level - 1}"
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "Unknown:\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    with pytest.raises(ConfigError, match=rf"^{path}: refused: the YAML expands to more than 100,000 values"):
        load_config(str(path))
    with pytest.raises(ConfigError, match=r"^override 'Arch.x=...': refused: the YAML value expands to more than"):
        load_config(DIGITS, ["Arch.x=" + "{" + _bomb(6).replace("\n", ", ").replace("Unknown:, ", "")[:-2] + "}"])


def test_aliases_that_stay_small_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(f"_base_: {DIGITS}\nGlobal:\n  epochs: &e 2\n  eval_interval: *e\n")
    config = load_config(str(path))
    assert (config["Global"]["epochs"], config["Global"]["eval_interval"]) == (2, 2)


def test_deep_nesting_and_long_base_chains_are_refused(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("Global: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=rf"^{deep}: refused: the YAML (is nested too deeply|.*nested deeper)"):
        load_config(str(deep))
    for i in range(40):
        (tmp_path / f"c{i}.yaml").write_text(f"_base_: c{i + 1}.yaml\n" if i < 39 else f"_base_: {DIGITS}\n")
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'c0.yaml'}: _base_ chain is more than 32 files deep"):
        load_config(str(tmp_path / "c0.yaml"))
    assert load_config(str(tmp_path / "c9.yaml"))["Arch"]["name"] == "resnet20"  # 31 files: fine


@pytest.mark.parametrize("override, message", [
    ("Metric.topk=[5]", "Metric.topk must include 1 (top-1 chooses best_model and is the [Done] line), got [5]"),
    ("Optimizer.momentum=1.5", "Optimizer.momentum must be < 1.0, got 1.5"),
])
def test_values_the_run_cannot_use_are_refused(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(DIGITS, [override])
    assert str(error.value) == f"{DIGITS} with -o overrides: {message}" + (
        "; e.g. Metric.topk=[1, 5]" if "topk" in override else "")


def test_a_null_section_override_is_refused_instead_of_resetting_it():
    with pytest.raises(ConfigError, match=r"^override 'Global=null': Global is a section and null would drop all"):
        load_config(DIGITS, ["Global.epochs=1", "Global=null"])
    assert load_config(DIGITS, ["Global={epochs: 2}"])["Global"]["epochs"] == 2  # a mapping is a mapping


def test_home_of_a_named_user_and_an_unknown_user(monkeypatch, tmp_path):
    import pwd
    me = pwd.getpwuid(os.getuid())
    config = load_config(DIGITS, [f"Global.output_dir=~{me.pw_name}/runs"])
    assert config["Global"]["output_dir"] == os.path.join(me.pw_dir, "runs")
    with pytest.raises(ConfigError, match=r"resnet20\.yaml with -o overrides: Global\.output_dir=~nosuchuser9/x: there "
                                          r"is no user 'nosuchuser9'"):
        load_config(DIGITS, ["Global.output_dir=~nosuchuser9/x"])


def test_base_may_be_a_home_path_or_a_shipped_name(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.yaml").write_text("_base_: digits/resnet20\nGlobal:\n  epochs: 2\n")  # a shipped name
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text("_base_: ~/mine.yaml\nGlobal:\n  seed: 7\n")
    config = load_config(str(tmp_path / "sub" / "child.yaml"))
    assert (config["Arch"]["name"], config["Global"]["epochs"], config["Global"]["seed"]) == ("resnet20", 2, 7)
    (tmp_path / "sub" / "digits").mkdir()  # a file beside the including one wins over the shipped name
    (tmp_path / "sub" / "digits" / "resnet20.yaml").write_text(f"_base_: {DIGITS}\nGlobal:\n  epochs: 5\n")
    (tmp_path / "sub" / "local.yaml").write_text("_base_: digits/resnet20.yaml\n")
    assert load_config(str(tmp_path / "sub" / "local.yaml"))["Global"]["epochs"] == 5


def test_class_names_must_differ():
    with pytest.raises(ConfigError, match=r"Global.class_names names 'a' more than once; each class needs its own"):
        load_config(DIGITS, ["Global.class_names=[a, a, b]"])
    assert load_config(DIGITS, ["Global.class_names=[a, b]"])["Global"]["class_names"] == ["a", "b"]
