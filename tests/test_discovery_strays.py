"""Stray files an editor, a file manager or Jupyter leaves in an installed copy never become models or experiments."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ppnorm
from ppnorm.registry import submodules

PROBE = ("import ppnorm.models as m, ppnorm.experiments as e, sys; print(m.list_models()); print(list(e.EXPERIMENTS)); "
         "print(sorted(n for n in sys.modules if n.startswith('ppnorm.') and not n.replace('.', '_').isidentifier()))")


@pytest.mark.slow  # a tool or a Python session in a subprocess
def test_copies_and_backups_in_an_installed_copy_are_left_out(tmp_path):
    package = Path(shutil.copytree(Path(ppnorm.__file__).parent, tmp_path / "ppnorm",
                                   ignore=shutil.ignore_patterns("__pycache__")))
    models, experiments = package / "models", package / "experiments"
    for name in ["resnet-Copy1.py", "resnet (copy).py", "resnet copy.py", "resnet.py~", "#resnet.py#"]:
        shutil.copy(models / "resnet.py", models / name)  # Jupyter's Duplicate, file managers, editors
    (models / ".ipynb_checkpoints").mkdir()
    shutil.copy(models / "resnet.py", models / ".ipynb_checkpoints" / "resnet-checkpoint.py")
    shutil.copy(experiments / "batch_noise.py", experiments / "batch_noise-Copy1.py")
    shutil.copy(experiments / "batch_noise.py", experiments / "batch_noise (copy).py")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    models_listed, experiments_listed, imported = result.stdout.strip().splitlines()[-3:]
    assert "resnet20" in models_listed and experiments_listed.count("'batch_noise'") == 1
    assert "Copy1" not in experiments_listed and "(copy)" not in experiments_listed and imported == "[]"


def test_submodules_are_the_names_an_import_statement_can_give(tmp_path):
    for name in ["good.py", "good_two.py", "good-Copy1.py", "good (copy).py", "good.py~", "#good.py#", "1st.py"]:
        (tmp_path / name).write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "good-checkpoint.py").write_text("")
    assert sorted(info.name for info in submodules([str(tmp_path)])) == ["good", "good_two", "pkg"]
