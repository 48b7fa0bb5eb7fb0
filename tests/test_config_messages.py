"""The config loader's one-line errors, word for word, and the copies it hands out.

Users read these lines to fix a config, so each is compared whole: a changed word, separator or
missing "with -o overrides" fails a case (they are the mutmut survivors of tools/mutation.py config).
"""
import os

import pytest
from helpers import message_of

from ppnorm.engine.config import ConfigError, load_config, save_config, validate
from ppnorm.engine.config.keys import Key, check_known_keys, check_value, describe_schema, fill_defaults, type_name
from ppnorm.engine.config.loader import (WRITTEN_BY, apply_override, dump_config, load_raw, merge, parse_override,
                                         read_yaml, strip_delete)

DIGITS = "configs/digits/resnet20.yaml"
OVERRIDDEN = DIGITS + " with -o overrides: "


def _message(function, *args, **kwargs):
    return message_of(ConfigError, function, *args, **kwargs)


@pytest.mark.parametrize("name, text, line, problem", [
    ("unclosed.yaml", "a: [1, 2\nb: 3\n", ":2", "expected ',' or ']', but got ':'"),
    # "tag" in a parser problem that is not a refused constructor gets no "plain data" note
    ("handle.yaml", "a: !foo!bar 1\n", ":1", "found undefined tag handle '!foo!'"),
    # a reader error has no problem or mark: the first line of its text, no line number
    ("control.yaml", "a: 1\x01\n", "", "unacceptable character #x0001: special characters are not allowed"),
    ("object.yaml", "a: !!python/object/apply:os.system ['true']\n", ":1",
     "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system' "
     "(configs hold plain data only; YAML tags that build objects are refused)"),
])
def test_malformed_yaml_is_one_line_with_file_line_and_problem(tmp_path, name, text, line, problem):
    path = tmp_path / name
    path.write_text(text)
    assert _message(read_yaml, str(path)) == f"{path}{line}: malformed YAML: {problem}"


def test_a_config_that_is_not_a_mapping_names_its_type(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    assert _message(read_yaml, str(path)) == (f"{path}: a config must be a mapping of sections (Global, Arch, ...), "
                                               f"got list")


def test_the_source_says_whether_overrides_were_given(tmp_path):
    assert _message(load_config, DIGITS, ["Global.epochs=0"]) == OVERRIDDEN + "Global.epochs must be >= 1, got 0"
    path = tmp_path / "zero.yaml"
    path.write_text(f"_base_: {os.path.abspath(DIGITS)}\nGlobal: {{epochs: 0}}\n")
    assert _message(load_config, str(path)) == f"{path}: Global.epochs must be >= 1, got 0"
    assert _message(load_config, str(path), ()) == f"{path}: Global.epochs must be >= 1, got 0"
    assert _message(validate, [1]) == "config: a config must be a mapping of sections (Global, Arch, ...)"
    assert _message(validate, {"Arch": {"name": "resnet20"}}) == "config: the 'DataLoader' section is missing"


NAMES = ("densenet121, densenet161, densenet169, densenet201, densenet264, densenet_small, mlp, resnet101, "
         "resnet101_vd, resnet110, resnet152, resnet152_vd, resnet18, resnet18_vd, resnet20, resnet32, resnet34, "
         "resnet34_vd, resnet44, resnet50, resnet50_vd, resnet56, seq_conv1d, simple_cnn")


@pytest.mark.parametrize("override, message", [
    ("Arch.norm_options={groups: 0}", "Arch norm 'bn': norm_options.groups must be a positive integer, got 0"),
    ("Arch.data_format=NHCW", "Arch norm 'bn': data_format 'NHCW' does not fit dims=2; use one of NCHW, NHWC"),
    ("Arch.norm=xx", "Arch norm 'xx': unknown norm kind 'xx'; valid kinds: bn, sync_bn, gn, ln, in, none, rms"),
    ("Arch={norm: gn}", f"Arch needs a 'name' (one of {NAMES})"),
    ("Foo.x=1", "unknown section 'Foo'; valid sections: Global, Arch, Loss, Optimizer, DataLoader, EMA, Metric, "
                "Export, Hooks"),
    ("Loss.nam=x", "unknown key 'Loss.nam' (did you mean 'name'?); valid keys in Loss: name, label_smoothing"),
    ("DataLoader.Train.transforms=[3]",
     "DataLoader.Train.transforms: each entry must be one 'Name: {options}' mapping, got 3"),
    ("DataLoader.Eval.transforms=[{RandomCrop: {size: 0}}]",
     "DataLoader.Eval.transforms: RandomCrop: size must be a positive integer or [height, width], got 0"),
    ("Optimizer.lr.warmup_epochs=100", "Optimizer.lr.warmup_epochs=100.0 covers the whole run (Global.epochs=15); "
                                       "make it smaller than Global.epochs"),
    ("Metric.topk=[1, 0]", "Metric.topk[1] must be >= 1, got 0"),
    ("DataLoader.Train.dataset=3", "DataLoader.Train.dataset must be a mapping, got 3 (int)"),
    ("Global.amp_level=O1", "Global.amp_level=O1 needs Global.device=gpu (AMP is for GPUs); remove it to train on CPU"),
])
def test_override_errors_word_for_word(override, message):
    assert _message(load_config, DIGITS, [override]) == OVERRIDDEN + message


@pytest.mark.parametrize("arch, message", [
    ({"norm_options": {"groups": 0}}, "Arch norm 'bn': norm_options.groups must be a positive integer, got 0"),
    ({"data_format": "NHCW"}, "Arch norm 'bn': data_format 'NHCW' does not fit dims=2; use one of NCHW, NHWC"),
])
def test_arch_norm_options_without_a_norm_are_checked_for_batch_norm(arch, message):
    raw = load_raw(DIGITS)
    raw["Arch"] = {"name": "resnet20", **arch}
    assert _message(validate, raw, "src") == "src: " + message
    raw["Arch"] = {"name": "resnet20", "data_format": "NHWC"}
    assert validate(raw)["Arch"] == {"name": "resnet20", "data_format": "NHWC"}


def test_paddleclas_configs_take_overrides_and_name_their_source(capsys):
    paddleclas = "tests/data/paddleclas/ResNet50.yaml"
    config = load_config(paddleclas, ["Global.epochs=3"])
    assert capsys.readouterr().err.startswith(f"[PaddleClas] {paddleclas} with -o overrides: 5 key(s) ppnorm does "
                                              f"not honour as PaddleClas would")
    assert config["Global"]["epochs"] == 3 and config["Arch"] == {"name": "resnet50", "num_classes": 1000}
    assert (_message(load_config, paddleclas, ["Global.epochs=0"])
            == f"{paddleclas} with -o overrides: Global.epochs must be >= 1, got 0")


def test_arch_layout_alone_is_checked_with_the_default_norm_and_amp_is_accepted_on_gpu():
    config = load_config(DIGITS, ["Arch.data_format=NHWC", "Global.amp_level=O1", "Global.device=gpu"])
    assert config["Arch"]["data_format"] == "NHWC" and config["Global"]["amp_level"] == "O1"


def test_key_defaults():
    assert Key(None, int).optional and not Key(3, int).optional and Key(3, int, optional=True).optional
    assert not Key(None, int, optional=False).optional
    assert Key(3, int).help == "" and Key(3, int, help="h").help == "h"
    assert check_value("k", Key([], list), [], "src") == []  # an empty list is fine unless nonempty=True
    assert _message(check_value, "k", Key(3, int), None, "src") == "src: k must be set (an integer)"


def test_type_names_and_descriptions():
    assert [type_name(k) for k in (dict, tuple, "thing", int, float, bool, str, list)] == [
        "a mapping", "a tuple", "a thing", "an integer", "a number", "true or false", "a string", "a list"]
    assert Key(30, int, minimum=1, help="epochs").describe() == "int >= 1, default 30: epochs"
    assert Key(0.5, float, minimum=0.0, below=1.0).describe() == "float >= 0.0 < 1.0, default 0.5"
    assert Key("a", str, choices=("a", "b")).describe() == "str one of a, b, default 'a'"
    assert Key(1, (int, float), maximum=9).describe() == "number <= 9, default 1"
    assert Key([], list).describe() == "list, default []"
    assert Key(1, (int, str)).describe() == "(<class 'int'>, <class 'str'>), default 1"  # a kind with no name
    schema = {"b": Key(None, str), "S": {"a": Key(1, int, help="x")}}
    assert describe_schema(schema) == [f"{'b':45s} str, default None", f"{'S.a':45s} int, default 1: x"]


def test_unknown_keys_and_bad_sections_word_for_word():
    assert _message(check_known_keys, {"a": 1, "b": 2}, {"c": 1}, "", "src") == "src: unknown key 'c'; valid keys: a, b"
    assert (_message(check_known_keys, {"a": 1, "b": 2}, {"c": 1}, "Sec", "src")
            == "src: unknown key 'Sec.c'; valid keys in Sec: a, b")
    assert _message(fill_defaults, {"a": Key(1, int)}, 3, "", "src") == "src: a config must be a section (a mapping), got 3"
    assert (_message(fill_defaults, {"S": {"a": Key(1, int)}}, {"S": {"a": "x"}}, "", "src")
            == "src: S.a must be an integer, got 'x' (str)")
    assert (_message(check_value, "k", Key([], list, items=Key(None, int)), [1, "x"], "src")
            == "src: k[1] must be an integer, got 'x' (str)")


def test_override_values():
    assert parse_override("Global.output_dir=a: b: c") == (["Global", "output_dir"], "a: b: c")  # not YAML: the text
    assert parse_override("Global.x=  ") == (["Global", "x"], None)
    config = {}
    apply_override(config, "Arch={name: resnet20, _delete_: true, norm_options: {groups: 8, _delete_: true}}")
    assert config == {"Arch": {"name": "resnet20", "norm_options": {"groups": 8}}}


def test_configs_handed_out_share_nothing_with_their_sources():
    base = {"A": {"list": [[1]], "keep": {"x": [1]}}}
    merged = merge(base, {"A": {"list": [[2]]}})
    merged["A"]["keep"]["x"].append(2)
    assert base == {"A": {"list": [[1]], "keep": {"x": [1]}}}
    nested = [[1]]
    stripped = strip_delete(nested)
    stripped[0].append(2)
    assert nested == [[1]]
    raw = load_raw(DIGITS, ["Arch.norm_options={groups: 8}", "DataLoader.Train.transforms=[{RandomCrop: {size: 8}}]"])
    checked = validate(raw)
    checked["Arch"]["norm_options"]["groups"] = 4
    checked["DataLoader"]["Train"]["transforms"][0]["RandomCrop"]["size"] = 6
    assert raw["Arch"]["norm_options"] == {"groups": 8}
    assert raw["DataLoader"]["Train"]["transforms"] == [{"RandomCrop": {"size": 8}}]


def test_save_config_writes_the_yaml_atomically(tmp_path):
    config = load_config(DIGITS)
    path = save_config(config, str(tmp_path / "run"))
    assert path == str(tmp_path / "run" / "config.yaml")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.yaml"]  # no .tmp left
    text = open(path, encoding="utf-8").read()
    assert text.startswith(WRITTEN_BY + "Global:\n  device: cpu\n")  # marked as ppnorm's; sections in schema order
    assert load_config(path) == config
    assert save_config(config, str(tmp_path / "run")) == path  # its directory exists now: replaced
    assert dump_config({"name": "中文"}) == "name: 中文\n"  # readable, not \u escapes
