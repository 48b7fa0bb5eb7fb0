"""Shipped configs by name (``-c digits/resnet20``): resolution, precedence of a user's file, listing."""
import os
from pathlib import Path

import pytest
from helpers import start_tool

from ppnorm.__main__ import main
from ppnorm.config_files import configs_dir, list_configs, resolve_config
from ppnorm.engine.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = str(ROOT / "configs" / "digits" / "resnet20.yaml")


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["digits/resnet20", "digits/resnet20.yaml", "configs/digits/resnet20.yaml"])
def test_a_shipped_name_resolves_from_any_directory(elsewhere, name):
    assert resolve_config(name) == SHIPPED
    assert load_config(name)["Arch"]["name"] == "resnet20"


def test_a_file_on_disk_wins_over_the_shipped_name(elsewhere):
    (elsewhere / "digits").mkdir()
    (elsewhere / "digits" / "resnet20.yaml").write_text(f"_base_: {SHIPPED}\nGlobal:\n  epochs: 3\n")
    assert resolve_config("digits/resnet20.yaml") == "digits/resnet20.yaml"
    assert load_config("digits/resnet20.yaml")["Global"]["epochs"] == 3
    assert resolve_config("digits/resnet20") == SHIPPED  # no such file without the suffix: the shipped one


def test_unknown_names_and_absolute_paths_are_not_found_in_one_line(elsewhere):
    for name in ("digits/resnet2", "/nowhere/digits/resnet20"):
        assert resolve_config(name) == name
        with pytest.raises(ConfigError, match=rf"^config file not found: {name}; give a YAML file or the name of a "
                                              r"shipped config such as digits/resnet20 \(ppnorm train --list-configs\)$"):
            load_config(name)


def test_home_is_expanded(monkeypatch, elsewhere):
    monkeypatch.setenv("HOME", str(elsewhere))
    (elsewhere / "mine.yaml").write_text(f"_base_: {SHIPPED}\n")
    assert resolve_config("~/mine.yaml") == str(elsewhere / "mine.yaml")


def test_the_list_is_every_yaml_file_under_configs(capsys):
    assert configs_dir() == ROOT / "configs"
    expected = sorted(p.relative_to(ROOT / "configs").with_suffix("").as_posix() for p in (ROOT / "configs").rglob("*.yaml"))
    assert list_configs() == expected and "experiments/precise_bn" in expected
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--list-configs"])
    assert stop.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == expected and lines[-1].startswith(f"({len(expected)} configs in {ROOT / 'configs'}")


def test_the_command_without_arguments_prints_its_usage_and_version(capsys):
    assert main([]) == 2 and "commands:" in capsys.readouterr().err  # no command: a usage error
    assert main(["-h"]) == 0 and "commands:" in capsys.readouterr().out
    assert main(["--version"]) == 0
    from ppnorm import __version__
    assert capsys.readouterr().out.strip() == f"ppnorm {__version__}"
    assert main(["nope"]) == 2


def test_messages_name_the_command_the_user_ran(monkeypatch):
    from ppnorm import cli
    assert (cli.tool_name("train"), cli.tool_command("infer")) == ("tools/train.py", "python tools/infer.py")
    seen = []
    monkeypatch.setattr("ppnorm.engine.cli.train_main",
                        lambda argv, omp_num_threads: seen.append((cli.tool_name("train"), cli.tool_command("infer"))))
    main(["train", "-c", "x"])
    assert seen == [("ppnorm train", "ppnorm infer")]  # while the command runs
    assert cli.tool_name("train") == "tools/train.py"  # and back afterwards (tests call tools in one process)


@pytest.mark.e2e
def test_the_command_prints_no_paddle_notice_about_omp_num_threads(tmp_path):
    import subprocess
    import sys
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "ppnorm", "--version"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    plain = subprocess.run([sys.executable, "-c", "import paddle"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    assert "OMP_NUM_THREADS set to 2" in plain.stderr  # what the filter removes: Paddle still prints it alone


@pytest.mark.e2e
def test_a_reader_that_goes_away_ends_the_tool_quietly(tmp_path):
    tool = start_tool("experiment", "--list", cwd=tmp_path, text=False)
    tool.stdout.close()  # as `| head -0` does: the reader leaves before the first line
    assert tool.wait(timeout=300) == 141
    assert tool.stderr.read() == b""
