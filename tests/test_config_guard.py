"""Config files the tools must not misread or overwrite: a key given twice is a one-line error naming the
file and both lines (at any depth, in ``_base_`` files and overrides too), and ``tools/train.py`` never
replaces a ``config.yaml`` in its output directory that it did not write (e.g. the user's own ``-c`` file)."""
import hashlib
import os
from pathlib import Path

import pytest
import yaml
from helpers import assert_says, error_line, run_tool

from ppnorm.engine.config import ConfigError, check_config_target, dump_config, load_config, save_config
from ppnorm.engine.config.loader import WRITTEN_BY, written_by_ppnorm

TIMEOUT = 120
BASE = """Arch: {name: simple_cnn}
DataLoader:
  Train: {dataset: {name: digits, split: train}, batch_size: 8}
  Eval: {dataset: {name: digits, split: test}}
"""


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, key, lines", [
    ("Global:\n  epochs: 2\n  seed: 1\n  epochs: 3\n", "epochs", (2, 4)),  # the old silent case: 3 epochs
    ("Global: {epochs: 2}\nMetric: {topk: [1]}\nGlobal: {seed: 1}\n", "Global", (1, 3)),
    ("DataLoader:\n  Train:\n    dataset: {name: digits, split: train, split: test}\n", "split", (3, 3)),
    ("Optimizer:\n  lr:\n    name: Cosine\n    learning_rate: 0.1\n    learning_rate: 0.01\n", "learning_rate", (4, 5)),
])
def test_a_key_given_twice_names_the_file_and_both_lines(tmp_path, text, key, lines):
    path = _write(tmp_path / "dup.yaml", "_base_: base.yaml\n" + text)
    _write(tmp_path / "base.yaml", BASE)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert_says(str(error.value), f"{tmp_path / 'dup.yaml'}: key {key!r} ",
                f" lines {lines[0] + 1} and {lines[1] + 1} ", "keep one")


def test_a_key_given_twice_in_a_base_file_or_an_override_is_refused_too(tmp_path):
    path = _write(tmp_path / "run.yaml", "_base_: base.yaml\nGlobal: {epochs: 2}\n")
    _write(tmp_path / "base.yaml", BASE.replace("batch_size: 8}", "batch_size: 8, batch_size: 16}"))
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'base.yaml'}: key 'batch_size' is given twice .* at lines "
                                          f"3 and 3 "):
        load_config(path)
    _write(tmp_path / "base.yaml", BASE)
    assert load_config(path)["Global"]["epochs"] == 2
    with pytest.raises(ConfigError, match=r"^override 'Metric=\{topk: \[1\], topk: \[2\]\}': key 'topk' is given "
                                          r"twice; keep one$"):
        load_config(path, ["Metric={topk: [1], topk: [2]}"])


def test_yaml_merge_keys_may_still_override_what_they_merge(tmp_path):
    text = BASE + "Global:\n  <<: &defaults {epochs: 4, seed: 7}\n  epochs: 2\n"
    config = load_config(_write(tmp_path / "merge.yaml", text))
    assert (config["Global"]["epochs"], config["Global"]["seed"]) == (2, 7)


def test_only_configs_ppnorm_wrote_count_as_its_own(tmp_path):
    config = load_config(_write(tmp_path / "run.yaml", BASE))
    saved = Path(save_config(config, str(tmp_path / "out")))
    assert saved.read_text().startswith(WRITTEN_BY) and load_config(str(saved)) == config
    legacy = _write(tmp_path / "legacy.yaml", dump_config(config))  # written by an older version: no first line
    assert written_by_ppnorm(saved) and written_by_ppnorm(legacy)
    before_hooks = {key: value for key, value in config.items() if key != "Hooks"}  # versions before the Hooks section
    assert written_by_ppnorm(_write(tmp_path / "before_hooks.yaml", dump_config(before_hooks)))
    for text in ("# mine\n" + dump_config(config), "_base_: run.yaml\n", BASE):
        assert not written_by_ppnorm(_write(tmp_path / "user.yaml", text))
    assert not written_by_ppnorm(str(tmp_path / "missing.yaml"))


def test_save_config_never_replaces_a_users_config(tmp_path):
    config = load_config(_write(tmp_path / "run.yaml", BASE))
    user = tmp_path / "out" / "config.yaml"
    user.parent.mkdir()
    user.write_text("# my run\n" + BASE)
    with pytest.raises(ConfigError, match=f"^{user} was not written by ppnorm .* nothing was changed"):
        save_config(config, str(user.parent))
    assert user.read_text() == "# my run\n" + BASE and os.listdir(user.parent) == ["config.yaml"]
    (tmp_path / "dir" / "config.yaml").mkdir(parents=True)  # not even a file: refused, not replaced
    with pytest.raises(ConfigError, match="was not written by ppnorm"):
        check_config_target(str(tmp_path / "dir"))


def _train_error(*args):
    return error_line(run_tool("train", *args, timeout=TIMEOUT))


@pytest.mark.slow
@pytest.mark.e2e
def test_tools_train_with_the_users_config_inside_its_output_dir_leaves_it_alone(tmp_path):
    """``-c D/config.yaml`` whose output_dir is D: the file (with ``_base_`` and comments) is the user's."""
    _write(tmp_path / "base.yaml", BASE)
    run = tmp_path / "run"
    run.mkdir()
    text = f"# my experiment: digits with 2 epochs\n_base_: ../base.yaml\nGlobal:\n  epochs: 2\n  output_dir: {run}\n"
    _write(run / "config.yaml", text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    line = _train_error("-c", run / "config.yaml")
    assert line.startswith(f"error: {run / 'config.yaml'} was not written by ppnorm") and "another --output_dir" in line
    assert hashlib.sha256((run / "config.yaml").read_bytes()).hexdigest() == digest
    assert os.listdir(run) == ["config.yaml"]


@pytest.mark.slow
@pytest.mark.e2e
def test_tools_train_refuses_a_duplicate_key_with_one_line(tmp_path):
    path = _write(tmp_path / "dup.yaml", BASE + "Global:\n  epochs: 2\n  epochs: 30\n")
    line = _train_error("-c", path, "--output_dir", tmp_path / "out")
    assert line == (f"error: {path}: key 'epochs' is given twice in one mapping, at lines 6 and 7 (YAML would "
                    f"silently keep the second); keep one")
    assert not (tmp_path / "out").exists()
    assert yaml.safe_load(Path(path).read_text())["Global"]["epochs"] == 30  # what plain YAML would have trained
