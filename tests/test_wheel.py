"""The installed package, not the clone: build the wheel, install it into a new virtual environment and, from an
empty directory outside the repository, train, evaluate, export and infer through the ``ppnorm`` command.

The new environment gets its third-party packages (Paddle, numpy, ...) from this interpreter's site-packages
through a ``.pth`` file, so nothing is downloaded; ppnorm itself comes only from the wheel (the clone is never
on its path, and this environment's editable install is not read: ``.pth`` files of an added folder are not run).
"""
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _run(args, cwd, timeout=600, env=None):
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env=env)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the new environment's bin folder, an empty working directory outside the repository)."""
    base = tmp_path_factory.mktemp("wheel")
    code, out, err = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base / "dist", ROOT],
                          cwd=base)
    assert code == 0, err[-2000:]
    wheel, = (base / "dist").glob("ppnorm-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base)[1].strip()
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "parent_packages.pth").write_text("\n".join(sorted(parents)) + "\n")
    code, out, err = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel],
                          cwd=base)
    assert code == 0, err[-2000:]
    work = base / "empty"
    work.mkdir()
    return wheel, env_dir / "bin", work


def test_the_wheel_holds_the_configs_and_the_command(installed):
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).relative_to("ppnorm/configs").with_suffix("").as_posix() for n in names
               if n.startswith("ppnorm/configs/") and n.endswith(".yaml")}
    in_clone = {p.relative_to(ROOT / "configs").with_suffix("").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert shipped == in_clone and "digits/resnet20" in shipped
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ppnorm = ppnorm.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_package_is_not_the_clone(installed):
    _, bin_dir, work = installed
    code, out, err = _run([bin_dir / "python", "-c", "import ppnorm; print(ppnorm.__file__)"], cwd=work)
    assert code == 0, err
    assert Path(out.strip()).is_relative_to(bin_dir.parent) and not Path(out.strip()).is_relative_to(ROOT)


def test_ppnorm_and_python_m_ppnorm_list_the_commands_and_configs(installed):
    _, bin_dir, work = installed
    code, out, _ = _run([bin_dir / "ppnorm", "-h"], cwd=work)
    assert code == 0 and all(c in out for c in ("train", "eval", "export", "infer", "experiment", "benchmark"))
    code, out, _ = _run([bin_dir / "python", "-m", "ppnorm", "train", "--list-configs"], cwd=work)
    assert code == 0 and "digits/resnet20" in out.splitlines() and "experiments/precise_bn" in out.splitlines()
    code, _, err = _run([bin_dir / "ppnorm", "fit"], cwd=work)
    assert code == 2 and err.strip() == ("error: unknown command 'fit'; give one of: train, eval, export, infer, "
                                         "experiment, benchmark (ppnorm -h)")
    code, _, err = _run([bin_dir / "ppnorm", "train", "-c", "digits/resnet2"], cwd=work)
    assert code == 2 and "config file not found: digits/resnet2; give a YAML file or the name of a shipped config" in err


def test_paddle_hub_loads_from_the_installed_package(installed):
    _, bin_dir, work = installed
    code = ("import os, paddle, ppnorm; d = os.path.dirname(ppnorm.__file__); "
            "m = paddle.hub.load(d, 'resnet18', source='local', num_classes=3); print(list(m.fc.weight.shape))")
    code, out, err = _run([bin_dir / "python", "-c", code], cwd=work)
    assert code == 0, err[-1500:]
    assert out.strip().splitlines()[-1] == "[512, 3]"


def test_train_eval_export_infer_from_an_empty_directory(installed):
    _, bin_dir, work = installed
    ppnorm = bin_dir / "ppnorm"
    small = ["Global.epochs=1", "Global.use_visualdl=false", "DataLoader.Train.batch_size=128"]
    code, out, err = _run([ppnorm, "train", "-c", "digits/resnet20", "-o", "Global.output_dir=run", *small], cwd=work)
    assert code == 0, err[-2000:]
    run = work / "run"
    assert (run / "config.yaml").is_file() and (run / "best_model.pdparams").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["Global"]["epochs"] == 1

    code, out, err = _run([ppnorm, "eval", "-c", run / "config.yaml", "-o", f"Global.pretrained_model={run / 'best_model'}"],
                          cwd=work)
    assert code == 0, err[-2000:]
    assert "top1" in out + err

    code, out, err = _run([ppnorm, "export", "-c", run / "config.yaml",
                           "-o", f"Global.pretrained_model={run / 'best_model'}"], cwd=work)
    assert code == 0, err[-2000:]
    assert "; run it with: ppnorm infer --model_dir " in out  # the installed command, not tools/infer.py
    model_dir = run / "inference"
    assert sorted(os.listdir(model_dir)) == ["inference.json", "inference.pdiparams", "inference.yml"]

    code, out, err = _run([bin_dir / "python", "-m", "ppnorm", "infer", "--model_dir", model_dir,
                           "-c", run / "config.yaml", "--show", "0"], cwd=work)
    assert code == 0, err[-2000:]
    assert "top1" in out + err
    assert sorted(os.listdir(work)) == ["run"]  # nothing written next to the run, nothing into the clone
