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


# Every range check, with the value just outside (refused) and the limit itself (accepted):
# each case fails if its check is removed or its comparison is off by one.
BOUNDS = [
    ("Global.epochs", 0, 1, ">= 1"), ("Global.seed", -1, 0, ">= 0"),
    ("Global.seed", 2 ** 32, 2 ** 32 - 1, "<= 4294967295"), ("Global.save_interval", -1, 0, ">= 0"),
    ("Global.eval_interval", 0, 1, ">= 1"), ("Global.print_batch_step", 0, 1, ">= 1"),
    ("Global.cpu_threads", 0, 1, ">= 1"),
    ("Loss.label_smoothing", -0.1, 0.0, ">= 0.0"), ("Loss.label_smoothing", 1.0, 0.99, "< 1.0"),
    ("Optimizer.momentum", -0.1, 0.0, ">= 0.0"),
    ("Optimizer.beta1", -0.1, 0.0, ">= 0.0"), ("Optimizer.beta1", 1.0, 0.99, "< 1.0"),
    ("Optimizer.beta2", -0.1, 0.0, ">= 0.0"), ("Optimizer.beta2", 1.5, 0.999, "< 1.0"),
    ("Optimizer.weight_decay", -0.1, 0.0, ">= 0.0"), ("Optimizer.grad_clip", -1.0, 0.0, ">= 0.0"),
    ("Optimizer.lr.learning_rate", -0.1, 0.0, ">= 0.0"), ("Optimizer.lr.warmup_epochs", -1, 0, ">= 0.0"),
    ("Optimizer.lr.warmup_start_lr", -0.1, 0.0, ">= 0.0"), ("Optimizer.lr.gamma", -0.1, 0.0, ">= 0.0"),
    ("Optimizer.lr.eta_min", -0.1, 0.0, ">= 0.0"),
    ("DataLoader.Train.batch_size", 0, 1, ">= 1"), ("DataLoader.Eval.batch_size", 0, 1, ">= 1"),
    ("DataLoader.Train.num_workers", -1, 0, ">= 0"), ("DataLoader.Eval.num_workers", -1, 0, ">= 0"),
    ("Export.tolerance", -0.1, 0.0, ">= 0.0"),
]


def _get(config, dotted):
    for key in dotted.split("."):
        config = config[key]
    return config


@pytest.mark.parametrize("key,bad,good,limit", BOUNDS)
def test_every_bound_refuses_the_value_outside_and_accepts_the_limit(key, bad, good, limit):
    with pytest.raises(ConfigError, match=re.escape(f"{key} must be {limit}, got ")):
        load_config(DIGITS, [f"{key}={bad}"])
    assert _get(load_config(DIGITS, [f"{key}={good}"]), key) == good


def test_every_bounded_key_has_a_bound_test():
    bounded = {dotted for dotted, key in _leaves(SCHEMA)
               if key.minimum is not None or key.maximum is not None or key.below is not None}
    assert bounded == {key for key, *_ in BOUNDS}


def _leaves(schema, prefix=""):
    for name, spec in schema.items():
        dotted = f"{prefix}.{name}" if prefix else name
        if isinstance(spec, dict):
            yield from _leaves(spec, dotted)
        else:
            yield dotted, spec


@pytest.mark.parametrize("override,message", [
    ("Global.epochs=true", "Global.epochs must be an integer, got True (bool)"),
    ("DataLoader.Train.batch_size=2.5", "DataLoader.Train.batch_size must be an integer, got 2.5 (float)"),
    ("Global.use_visualdl=1", "Global.use_visualdl must be true or false, got 1 (int)"),
    ("DataLoader.Eval.shuffle=0", "DataLoader.Eval.shuffle must be true or false, got 0"),
    ("Optimizer.lr.learning_rate=fast", "Optimizer.lr.learning_rate must be a number, got 'fast'"),
    ("Optimizer.momentum=true", "Optimizer.momentum must be a number, got True (bool)"),
    ("Global.output_dir=[a]", "Global.output_dir must be a string, got ['a'] (list)"),
    ("Metric.topk=3", "Metric.topk must be a list, got 3 (int)"),
    ("Metric.topk=[]", "Metric.topk must not be empty"),
    ("Metric.topk=[1, 0]", "Metric.topk[1] must be >= 1, got 0"),
    ("Metric.topk=[1, true]", "Metric.topk[1] must be an integer, got True (bool)"),
    ("Global.pretrained_skip=[fc, 1]", "Global.pretrained_skip[1] must be a string, got 1 (int)"),
    ("Optimizer.lr.decay_epochs=[a]", "Optimizer.lr.decay_epochs[0] must be a number, got 'a'"),
    ("Optimizer.lr.decay_epochs=[-1]", "Optimizer.lr.decay_epochs[0] must be >= 0, got -1"),
    ("Global.device=tpu", "Global.device must be one of cpu, gpu, got 'tpu'"),
    ("Loss.name=Focal", "Loss.name must be one of CrossEntropy, got 'Focal'"),
    ("Optimizer.lr.name=Step", "Optimizer.lr.name must be one of Constant, Piecewise, Cosine, OneCycle, got 'Step'"),
    ("Global.amp_level=O3", "Global.amp_level must be one of O1, O2, got 'O3'"),
    ("Arch=3", "Arch needs a 'name'"),
    ("Global=3", "Global must be a section (a mapping), got 3"),
])
def test_type_choice_and_item_checks(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(DIGITS, [override])


@pytest.mark.parametrize("overrides,message", [
    (["Global.epochs=3", "Optimizer.lr.warmup_epochs=3"], "warmup_epochs=3.0 covers the whole run (Global.epochs=3)"),
    (["Optimizer.lr.name=OneCycle", "Optimizer.lr.warmup_epochs=1"], "does not combine with OneCycle"),
    (["Optimizer.lr.name=Piecewise"], "decay_epochs must be a non-empty, strictly increasing list"),
    (["Optimizer.lr.name=Piecewise", "Optimizer.lr.decay_epochs=[20, 10]"], "strictly increasing list of epochs"),
    (["Optimizer.lr.name=Piecewise", "Optimizer.lr.decay_epochs=[10, 10]"], "strictly increasing list of epochs"),
])
def test_values_checked_together_at_load_time(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(DIGITS, overrides)


def test_values_checked_together_accept_the_valid_neighbours():
    config = load_config(DIGITS, ["Global.epochs=3", "Optimizer.lr.warmup_epochs=2.5", "Optimizer.lr.name=Piecewise",
                                  "Optimizer.lr.decay_epochs=[1, 2]"])
    assert config["Optimizer"]["lr"]["decay_epochs"] == [1, 2] and config["Optimizer"]["lr"]["warmup_epochs"] == 2.5
    assert isinstance(config["Optimizer"]["lr"]["decay_epochs"][0], int)  # kept as written in config.yaml


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
