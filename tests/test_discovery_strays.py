"""Stray files an editor, a file manager or Jupyter leaves in an installed copy never become models or experiments."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ppnorm

PROBE = ("import ppnorm.models as m, ppnorm.experiments as e, sys; print(m.list_models()); print(list(e.EXPERIMENTS)); "
         "print(sorted(n for n in sys.modules if n.startswith('ppnorm.') and not n.replace('.', '_').isidentifier()))")


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
