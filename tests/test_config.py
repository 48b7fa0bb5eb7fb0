import glob
import os
import re
import textwrap

import pytest

from ppnorm.engine.config import (SCHEMA, ConfigError, apply_override, did_you_mean, fill_defaults, load_config, merge,
                                  parse_override)

DIGITS = "configs/digits/resnet20.yaml"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_main_config_loads_with_defaults_filled_in():
    config = load_config(DIGITS)
    assert config["Arch"]["name"] == "resnet20"
    assert config["Global"]["checkpoints"] is None and config["Global"]["sync_bn"] is False
    assert config["Optimizer"]["weight_decay"] == pytest.approx(5e-4)
    assert config["DataLoader"]["Eval"]["shuffle"] is False


def test_base_inheritance_and_overrides(tmp_path):
    child = _write(tmp_path, "child.yaml", f"""
        _base_: {os.path.abspath(DIGITS)}
        Arch: {{norm: gn, norm_options: {{groups: 8}}}}
        Global: {{epochs: 7}}
    """)
    config = load_config(child, ["Global.epochs=3", "Optimizer.lr.learning_rate=1e-2", "Metric.topk=[1,3]"])
    assert config["Arch"] == {"name": "resnet20", "num_classes": 10, "in_channels": 1, "norm": "gn",
                              "norm_options": {"groups": 8}}
    assert config["Global"]["epochs"] == 3  # -o beats the file, the file beats its base
    assert config["Optimizer"]["lr"]["learning_rate"] == pytest.approx(0.01)  # YAML 1.1 reads 1e-2 as a string
    assert config["Metric"]["topk"] == [1, 3]
    assert config["DataLoader"]["Train"]["batch_size"] == 32  # inherited


@pytest.mark.parametrize("override,message", [
    ("Global.epoch=3", r"unknown key 'Global.epoch' \(did you mean 'epochs'\?\)"),
    ("Globl.epochs=3", r"unknown section 'Globl' \(did you mean 'Global'\?\)"),
    ("Global.epochs=three", r"Global.epochs must be an integer, got 'three' \(str\)"),
    ("Global.epochs=0", r"Global.epochs must be >= 1, got 0"),
    ("Global.use_visualdl=2", r"Global.use_visualdl must be true or false, got 2"),
    ("Optimizer.name=Adamw", r"Optimizer.name must be one of SGD, Momentum, Adam, AdamW, got 'Adamw' \(did you mean"),
    ("Arch.name=resnet21", r"unknown model 'resnet21'"),
    ("Arch.normm=gn", r"unknown option 'normm' for Arch 'resnet20' \(did you mean 'norm'\?\)"),
    ("Arch.norm=group", r"Arch norm 'group': unknown norm kind 'group'; valid kinds: bn, sync_bn, gn, ln, in, none, rms"),
    ("DataLoader.Train.dataset.splitt=train", r"unknown option 'splitt' for DataLoader.Train.dataset 'digits'"),
    ("DataLoader.Eval.transforms=[{Normalise: {}}]", r"unknown transform 'Normalise' \(did you mean 'Normalize'\?\)"),
    ("Global.amp_level=O1", r"Global.amp_level=O1 needs Global.device=gpu"),
    ("Global.epochs", r"must look like Section.key=value"),
])
def test_bad_values_give_one_line_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(DIGITS, [override])
    assert "\n" not in str(err.value)
    assert DIGITS in str(err.value) or "override" in str(err.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.yaml", """
        Global:
          epochs: 3
          seed: [1, 2
        Arch: {name: resnet20}
    """)
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: malformed YAML") as err:
        load_config(path)
    line = int(str(err.value).split("bad.yaml:")[1].split(":")[0])
    assert 4 <= line <= 6


def test_missing_file_and_missing_sections(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: \S*nope.yaml"):
        load_config("nope.yaml")
    path = _write(tmp_path, "empty.yaml", "Global: {epochs: 1}\n")
    with pytest.raises(ConfigError, match="the 'Arch' section is missing"):
        load_config(path)


def test_override_values_are_yaml_never_code():
    config = {}
    apply_override(config, "Global.output_dir=__import__('os').getcwd()")
    assert config["Global"]["output_dir"] == "__import__('os').getcwd()"
    apply_override(config, "Arch.norm_options={groups: 4}")
    assert config["Arch"]["norm_options"] == {"groups": 4}


def test_override_values_keep_every_equals_sign_after_the_first():
    config = load_config(DIGITS, ["Global.output_dir=runs/lr=0.1", "Global.checkpoints=a=b=c"])
    assert config["Global"]["output_dir"] == "runs/lr=0.1" and config["Global"]["checkpoints"] == "a=b=c"
    assert parse_override("Optimizer.lr.learning_rate= 0.5") == (["Optimizer", "lr", "learning_rate"], 0.5)
    with pytest.raises(ConfigError, match="is not a dotted key"):
        parse_override("Global..epochs=3")
    with pytest.raises(ConfigError, match="is not a dotted key"):
        parse_override("=3")


def test_override_into_a_value_is_refused():
    with pytest.raises(ConfigError, match="Global.epochs is a value, not a section"):
        load_config(DIGITS, ["Global.epochs.x=3"])


@pytest.mark.parametrize("text,message", [
    ("_base_: 3\n", "_base_ must be a config file name or a list of them, got 3"),
    ("_base_:\n", "_base_ must be a config file name or a list of them, got None"),
    ("_base_: [a.yaml, 2]\n", "_base_ must be a config file name or a list of them"),
])
def test_base_must_name_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(_write(tmp_path, "child.yaml", text))


def test_base_loop_is_refused(tmp_path):
    _write(tmp_path, "a.yaml", "_base_: b.yaml\nGlobal: {epochs: 1}\n")
    _write(tmp_path, "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match=r"a.yaml: _base_ inheritance loops back to this file"):
        load_config(str(tmp_path / "a.yaml"))
    _write(tmp_path, "self.yaml", "_base_: self.yaml\n")
    with pytest.raises(ConfigError, match=r"self.yaml: _base_ inheritance loops back"):
        load_config(str(tmp_path / "self.yaml"))


def test_the_same_base_twice_is_not_a_loop(tmp_path):
    base = os.path.abspath(DIGITS)
    _write(tmp_path, "mid.yaml", f"_base_: {base}\nGlobal: {{epochs: 4}}\n")
    child = _write(tmp_path, "child.yaml", f"_base_: [{base}, mid.yaml]\nGlobal: {{seed: 5}}\n")
    config = load_config(child)
    assert (config["Global"]["epochs"], config["Global"]["seed"]) == (4, 5)


def test_delete_replaces_an_inherited_mapping(tmp_path):
    """Switching the digits config to an image folder: without _delete_ 'split' is inherited and refused."""
    base = os.path.abspath(DIGITS)
    merged = _write(tmp_path, "merged.yaml", f"""
        _base_: {base}
        DataLoader:
          Train: {{dataset: {{name: image_folder, root: {tmp_path}}}}}
    """)
    with pytest.raises(ConfigError, match="unknown option 'split' for DataLoader.Train.dataset 'image_folder'"):
        load_config(merged)
    replaced = _write(tmp_path, "replaced.yaml", f"""
        _base_: {base}
        DataLoader:
          Train: {{dataset: {{_delete_: true, name: image_folder, root: {tmp_path}}}}}
          Eval: {{dataset: {{_delete_: true, name: image_folder, root: {tmp_path}}}, batch_size: 8}}
    """)
    config = load_config(replaced)
    for mode in ("Train", "Eval"):
        assert config["DataLoader"][mode]["dataset"] == {"name": "image_folder", "root": str(tmp_path)}
    assert config["DataLoader"]["Train"]["batch_size"] == 32  # siblings of the replaced mapping still merge
    assert config["DataLoader"]["Eval"]["transforms"] == [{"Normalize": {"mean": [0.3], "std": [0.37]}}]


def test_delete_marker_never_reaches_the_config():
    assert merge({"a": {"x": 1}}, {"a": {"_delete_": True, "y": 2}}) == {"a": {"y": 2}}
    assert merge({"a": {"x": 1}}, {"a": {"_delete_": False, "y": 2}}) == {"a": {"x": 1, "y": 2, "_delete_": False}}
    assert merge({}, {"a": {"b": {"_delete_": True, "c": 1}}}) == {"a": {"b": {"c": 1}}}


def test_binary_file_is_one_line(tmp_path):
    path = tmp_path / "model.pdparams"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match=r"model.pdparams: not a text \(UTF-8\) YAML file") as err:
        load_config(str(path))
    assert "\n" not in str(err.value)


def test_yaml_never_constructs_python_objects(tmp_path):
    marker = tmp_path / "marker"
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    path = _write(tmp_path, "evil.yaml", f"Global: {{output_dir: {payload}}}\nArch: {{name: resnet20}}\n")
    with pytest.raises(ConfigError, match=r"evil.yaml:1: malformed YAML: could not determine a constructor.*"
                                          r"plain data only") as err:
        load_config(path)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"override 'Global.output_dir=!!python.*plain data only"):
        load_config(DIGITS, [f"Global.output_dir={payload}"])
    assert not marker.exists()


def test_every_yaml_read_in_the_package_is_safe():
    unsafe = re.compile(r"yaml\.(load|unsafe_load|full_load|load_all)\(|Loader=|yaml\.Loader|UnsafeLoader")
    offenders = [path for path in glob.glob("ppnorm/**/*.py", recursive=True) if unsafe.search(open(path).read())]
    assert offenders == []


def test_public_helpers():
    assert did_you_mean("epoch", ["epochs", "seed"]) == " (did you mean 'epochs'?)"
    assert did_you_mean("zzz", ["epochs"]) == ""
    section = fill_defaults(SCHEMA["Optimizer"], {"name": "Adam", "lr": {"learning_rate": 1}}, "Optimizer", "test")
    assert section["name"] == "Adam" and section["beta2"] == 0.999 and section["lr"]["learning_rate"] == 1.0
    assert section["lr"]["name"] == "Cosine"
    with pytest.raises(ConfigError, match=r"test: unknown key 'Optimizer.betta1' \(did you mean 'beta1'\?\)"):
        fill_defaults(SCHEMA["Optimizer"], {"betta1": 0.5}, "Optimizer", "test")


@pytest.mark.parametrize("override,message", [
    ("params.epochs=0", "params.epochs must be >= 1, got 0"),
    ("params.hidden=[8, x]", "params.hidden[1] must be an integer, got 'x'"),
    ("params.lr=true", "params.lr must be like its default 0.05 (a number), got True"),
    ("seed=4294967296", "seed must be <= 4294967295"),
    ("quick=1", "quick must be true or false, got 1"),
    ("params.epoch=3", "unknown key 'params.epoch' for dropout_modes (did you mean 'epochs'?)"),
    ("experiment=", "experiment must be set (a string)"),
])
def test_experiment_configs_use_the_same_keys(override, message):
    from ppnorm.experiments import experiments
    from ppnorm.experiments.config import load_experiment_config
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_experiment_config("configs/experiments/dropout_modes.yaml", [override], experiments())
    _, settings, params = load_experiment_config("configs/experiments/dropout_modes.yaml",
                                                 ["params={}", "quick=true", "params.p=0"], experiments())
    assert settings["params"] == {"p": 0} and params["p"] == 0.0 and params["epochs"] == 2  # QUICK, then params
    with pytest.raises(ConfigError, match=r"params.p must be a drop probability in \[0, 1\), got 1.0"):
        load_experiment_config("configs/experiments/dropout_modes.yaml", ["params.p=1"], experiments())
