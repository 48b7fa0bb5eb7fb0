"""Global.custom_imports as a user meets it through tools/train.py: a file imports its neighbours as a script
does, and a file that exits (sys.exit) is an error line, never a run that silently did nothing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ppnorm.registry import Registry, undone_on_error

ROOT = Path(__file__).resolve().parents[1]


def _train(config, cwd, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(config), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def _project(tmp_path, text):
    folder = tmp_path / "my project ü"  # a space and a non-ASCII letter, as on AI Studio or Windows
    folder.mkdir()
    (folder / "ext.py").write_text(text, encoding="utf-8")
    (folder / "helper_values.py").write_text("VALUE = 42\n", encoding="utf-8")
    config = folder / "run.yaml"
    config.write_text("_base_: digits/resnet20\nGlobal: {custom_imports: [ext.py]}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return config, elsewhere


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_a_file_imports_a_module_next_to_it_from_any_working_directory(tmp_path):
    text = "from helper_values import VALUE\nraise RuntimeError(f'helper gave {VALUE}')\n"
    config, elsewhere = _project(tmp_path, text)
    result = _train(config, elsewhere, "--output_dir", tmp_path / "out")
    line, = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "RuntimeError: helper gave 42" in line and "ext.py:2" in line
    assert "helper_values" not in sys.modules and not (tmp_path / "out").exists()


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_a_file_that_calls_sys_exit_is_an_error_line_not_a_silent_success(tmp_path):
    config, elsewhere = _project(tmp_path, "import sys\nprint('setting up')\nsys.exit(0)\n")
    result = _train(config, elsewhere, "--output_dir", tmp_path / "out")
    line, = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Global.custom_imports[0]" in line and "SystemExit" in line
    assert "ext.py:3" in line and not (tmp_path / "out").exists()


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_a_run_whose_file_moved_names_the_override_that_fixes_it(tmp_path):
    config = tmp_path / "out" / "config.yaml"  # as a run's config.yaml records it: an absolute path
    config.parent.mkdir()
    config.write_text(f"_base_: digits/resnet20\nGlobal: {{custom_imports: ['{tmp_path / 'gone.py'}']}}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "eval.py"), "-c", str(config)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    line, = result.stderr.strip().splitlines()
    assert result.returncode == 2 and str(tmp_path / "gone.py") in line and str(config) in line
    assert "-o Global.custom_imports=[" in line


NOTEBOOK = """
from ppnorm.engine.config import ConfigError, load_config
from ppnorm.models import list_models
for attempt in range(2):
    try:
        print(load_config("run.yaml")["Arch"]["name"])
    except ConfigError as error:
        print("error", error)
    print("nb_model" in list_models())
    open("ext.py", "w").write(open("ext.py.fixed").read())  # the user fixes the file and runs the cell again
"""


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_a_file_fixed_after_it_raised_loads_in_the_same_session(tmp_path):
    (tmp_path / "ext.py").write_text("from ppnorm.models import register_model\nimport paddle.nn as nn\n"
                                     "register_model('nb_model', nn.Linear)\nraise RuntimeError('a typo')\n")
    (tmp_path / "ext.py.fixed").write_text((tmp_path / "ext.py").read_text().replace("raise RuntimeError('a typo')", "pass"))
    (tmp_path / "run.yaml").write_text("_base_: digits/resnet20\nGlobal: {custom_imports: [ext.py]}\n"
                                       "Arch: {_delete_: true, name: nb_model, in_features: 64, out_features: 10}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", NOTEBOOK], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines[0].startswith("error") and "a typo" in lines[0]
    assert lines[1:] == ["False", "nb_model", "True"]  # nothing of the failed import stays registered


def test_what_a_failed_block_registered_is_unregistered_and_a_good_block_keeps_it():
    things, other = Registry("thing"), Registry("other")
    things.register("kept", dict)
    with pytest.raises(SystemExit), undone_on_error():
        things.register("half", list)
        other.register("half", list)
        raise SystemExit(1)
    assert things.names() == ["kept"] and other.names() == []
    with undone_on_error():
        other.register("done", set)
    assert other.names() == ["done"]


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_one_file_reached_through_a_symlink_too_is_imported_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "ext_once.py").write_text("from ppnorm.models import register_model\nimport paddle.nn as nn\n"
                                                "register_model('linear_once', nn.Linear)\n")
    os.symlink(tmp_path / "a" / "ext_once.py", tmp_path / "b" / "linked.py")
    (tmp_path / "a" / "base.yaml").write_text("_base_: digits/resnet20\nGlobal: {custom_imports: [ext_once.py]}\n")
    (tmp_path / "b" / "run.yaml").write_text("_base_: ../a/base.yaml\n"
                                             "Global: {custom_imports: [../a/ext_once.py, linked.py]}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    probe = ("from ppnorm.engine.config import load_config; "
             "print(len(set(load_config('b/run.yaml')['Global']['custom_imports'])))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]
    assert result.stdout.split() == ["2"]  # both entries kept as given; the file ran once


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_an_override_entry_with_a_shipped_config_is_a_file_of_the_working_directory(tmp_path):
    (tmp_path / "my_ext.py").write_text("raise RuntimeError('my own file ran')\n")
    result = _train("digits/resnet20", tmp_path, "-o", "Global.custom_imports=[my_ext.py]", "--output_dir",
                    tmp_path / "out")  # the shipped config's folder (inside ppnorm) holds nothing of the user's
    line, = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "RuntimeError: my own file ran" in line and f"{tmp_path / 'my_ext.py'}:1" in line


NOTEBOOK_HELPER = """
from ppnorm.engine.config import ConfigError, load_config
for attempt in range(2):
    try:
        print(load_config("run.yaml")["Arch"]["name"])
    except ConfigError as error:
        print("error", error)
    open("ext.py", "w").write("import helper_models\\n")  # the user fixes the file and runs the cell again
"""


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_a_module_the_failed_file_imported_registers_again_once_the_file_is_fixed(tmp_path):
    (tmp_path / "helper_models.py").write_text("from ppnorm.models import register_model\nimport paddle.nn as nn\n"
                                               "register_model('helper_model', nn.Linear)\n")
    (tmp_path / "ext.py").write_text("import helper_models\nraise RuntimeError('a typo')\n")
    (tmp_path / "run.yaml").write_text("_base_: digits/resnet20\nGlobal: {custom_imports: [ext.py]}\n"
                                       "Arch: {_delete_: true, name: helper_model, in_features: 64, out_features: 10}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", NOTEBOOK_HELPER], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines[0].startswith("error") and lines[1:] == ["helper_model"], result.stdout
