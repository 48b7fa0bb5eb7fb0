"""Global.custom_imports through the real tools: a config adds its own hook and its own model, and the run's
config.yaml makes eval, export and resume import them again; a file that raises is one error line (exit 2)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300
FAST = ["-o", "Global.epochs=1", "Global.use_visualdl=false", "DataLoader.Train.batch_size=512", "EMA.decay=0"]
HOOK = """
import os
from ppnorm.engine.hook_api import HOOKS, HookBase

@HOOKS.register("WriteSteps")
class WriteSteps(HookBase):
    def __init__(self, file="steps.txt"):
        self.file = file

    def after_train(self, ctx):
        with open(os.path.join(ctx.output_dir, self.file), "w") as handle:
            handle.write(f"{ctx.outcome} {ctx.states['global_step']}")
"""
MODEL = """
import paddle
import paddle.nn as nn
from ppnorm.models import register_model

class TinyNet(nn.Layer):
    def __init__(self, num_classes=10, in_channels=1, hidden=8):
        super().__init__()
        self.hidden = nn.Linear(in_channels * 64, hidden)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.fc(paddle.nn.functional.relu(self.hidden(paddle.flatten(x, 1))))

register_model("tiny_net", TinyNet)
"""


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _tool(name, *args, cwd=ROOT):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "tools" / f"{name}.py"), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.slow
def test_train_runs_a_hook_from_a_module_of_the_working_directory(tmp_path):
    _write(tmp_path / "my_hooks.py", HOOK)
    config = _write(tmp_path / "conf" / "run.yaml", """
        _base_: digits/resnet20
        Global: {custom_imports: [my_hooks]}
        Arch: {_delete_: true, name: simple_cnn, widths: [8], convs_per_stage: 1}
        Hooks: [{name: WriteSteps, file: done.txt}]
    """)
    result = _tool("train", "-c", config, "--output_dir", tmp_path / "out", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "done.txt").read_text() == "finished 2"  # 1437 digits // 512 = 2 steps
    assert yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())["Global"]["custom_imports"] == ["my_hooks"]


@pytest.mark.slow
def test_a_model_from_a_file_trains_and_its_run_evaluates_exports_and_resumes(tmp_path):
    model = _write(tmp_path / "conf" / "tiny.py", MODEL)
    config = _write(tmp_path / "conf" / "run.yaml", """
        _base_: digits/resnet20
        Global: {custom_imports: [tiny.py]}
        Arch: {_delete_: true, name: tiny_net, hidden: 12}
    """)
    out = tmp_path / "out"
    result = _tool("train", "-c", config, "--output_dir", out, *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    run_config = out / "config.yaml"  # the tools below run elsewhere and know the model only through it
    assert yaml.safe_load(run_config.read_text())["Global"]["custom_imports"] == [str(model)]
    weights = f"Global.pretrained_model={out / 'best_model'}"
    evaluated = _tool("eval", "-c", run_config, "-o", weights)
    assert evaluated.returncode == 0 and "[Eval][Avg]" in evaluated.stdout, evaluated.stderr[-2000:]
    exported = _tool("export", "-c", run_config, "-o", weights, f"Export.save_dir={tmp_path / 'inference'}")
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (tmp_path / "inference" / "inference.pdiparams").is_file()
    resumed = _tool("train", "-c", run_config, "-o", "Global.epochs=2", f"Global.checkpoints={out / 'latest'}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Epoch 2/2" in resumed.stdout and "Epoch 1/2" not in resumed.stdout


@pytest.mark.slow
def test_a_file_that_raises_is_one_error_line_and_the_traceback_only_with_verbose(tmp_path):
    bad = _write(tmp_path / "bad.py", "import os\nraise KeyError('no setting here')\n")
    config = _write(tmp_path / "run.yaml", "_base_: digits/resnet20\nGlobal: {custom_imports: [bad.py]}\n")
    result = _tool("train", "-c", config, "--output_dir", tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line, = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Global.custom_imports[0]" in line and str(config) in line
    assert "KeyError" in line and "no setting here" in line and f"{bad}:2" in line
    assert not (tmp_path / "out").exists()
    verbose = _tool("train", "-c", config, "--output_dir", tmp_path / "out", "-v")
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr and f'"{bad}", line 2' in verbose.stderr
