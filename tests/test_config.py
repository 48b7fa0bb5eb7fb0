import textwrap

import pytest

from ppnorm.engine.config import ConfigError, apply_override, load_config

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
        _base_: {__import__('os').path.abspath(DIGITS)}
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
    ("Arch.norm=group", r"Arch norm 'group': unknown norm kind 'group'; valid kinds: bn, sync_bn, gn, ln, in, none"),
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
