"""A ppnorm config with one PaddleClas-only section (AMP, as in a PaddleClas habit) is read as PaddleClas's layout:
the error must say so and name the way out, not call ppnorm's own model name unknown."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a tool in a subprocess
def test_a_ppnorm_config_with_an_amp_section_says_it_was_read_as_paddleclas(tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text("_base_: digits/resnet20\nAMP: {use_amp: false}\n", encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(config), "--output_dir",
                             str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    line, = result.stderr.strip().splitlines()
    assert result.returncode == 2 and str(config) in line and "'resnet20'" in line
    assert "not a model ppnorm has" not in line and "PaddleClas" in line and "AMP" in line
