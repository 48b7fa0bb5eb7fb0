"""Installing ppnorm never replaces an existing paddlepaddle-gpu, and ``import ppnorm`` without Paddle says what to do.

The pip test resolves ppnorm's real requirements (read from setup.py by setuptools) in a clean virtual
environment that holds a fake ``paddlepaddle-gpu``, offline, against tiny stub wheels of every requirement
and a stub ``paddlepaddle`` CPU wheel: if setup.py asked for paddlepaddle, pip would pick that stub.
"""
import email.parser
import json
import os
import re
import runpy
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUB_VERSION = "99.0"  # satisfies every lower bound in setup.py


def _setup_kwargs():
    with mock.patch("setuptools.setup") as setup:
        runpy.run_path(str(ROOT / "setup.py"), run_name="__main__")
    return setup.call_args.kwargs


def _name(requirement):
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower()


@pytest.mark.filterwarnings("ignore:Setuptools is replacing distutils")
def test_setup_py_asks_for_paddle_only_in_the_cpu_extra():
    kwargs = _setup_kwargs()
    assert not [r for r in kwargs["install_requires"] if _name(r).startswith("paddle")]
    assert kwargs["extras_require"]["cpu"] == ["paddlepaddle>=3.0"]
    assert not [r for r in kwargs["extras_require"]["test"] if _name(r).startswith("paddle")]


def _import_ppnorm_with(preamble):
    code = f"import sys, types\n{preamble}\nimport ppnorm"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("preamble, expected", [
    ("sys.modules['paddle'] = None  # as if no Paddle build were installed",
     'ImportError: ppnorm needs PaddlePaddle >= 3.0.0 and none is installed; install Paddle first: '
     'pip install "paddlepaddle>=3.0" for the CPU build, or paddlepaddle-gpu for your CUDA as shown on '
     'https://www.paddlepaddle.org.cn/install/quick'),
    ("sys.modules['paddle'] = types.ModuleType('paddle'); sys.modules['paddle'].__version__ = '2.6.2'",
     'ImportError: ppnorm needs PaddlePaddle >= 3.0.0 but paddle 2.6.2 is installed; upgrade it: '
     'pip install -U "paddlepaddle>=3.0" (CPU), or paddlepaddle-gpu 3.x for your CUDA as shown on '
     'https://www.paddlepaddle.org.cn/install/quick'),
], ids=["no paddle", "paddle 2.6.2"])
def test_import_without_a_usable_paddle_is_one_line_naming_the_install_commands(preamble, expected):
    result = _import_ppnorm_with(preamble)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("version, too_old", [("2.6.2", True), ("2.99.99", True), ("3.0.0", False),
                                              ("3.0.0rc1", False), ("3.3.1", False), ("0.0.0", False)])
def test_paddle_too_old_compares_releases_and_accepts_develop_builds(version, too_old):
    from ppnorm.compat import paddle_too_old
    assert paddle_too_old(version) is too_old


def _write_wheel(folder, name, version, metadata_lines=()):
    """A wheel holding only metadata: enough for pip's resolver, nothing to import."""
    dist = f"{re.sub(r'[-.]+', '_', name)}-{version}"
    path = Path(folder) / f"{dist}-py3-none-any.whl"
    metadata = "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *metadata_lines]) + "\n"
    files = {f"{dist}.dist-info/METADATA": metadata,
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{dist}.dist-info/RECORD"])
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def _ppnorm_requirements(tmp_path):
    """``(base requirements, {extra: requirements})`` as setuptools writes them for this checkout."""
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    base, extras, section = [], {}, None
    for line in (tmp_path / "ppnorm.egg-info" / "requires.txt").read_text().splitlines():
        if line.startswith("["):
            section = extras.setdefault(line.strip("[]"), [])
        elif line.strip():
            (base if section is None else section).append(line.strip())
    return base, extras


def _ppnorm_wheel(tmp_path, folder):
    base, extras = _ppnorm_requirements(tmp_path)
    version = email.parser.Parser().parsestr((tmp_path / "ppnorm.egg-info" / "PKG-INFO").read_text())["Version"]
    lines = [f"Requires-Dist: {r}" for r in base]
    for extra, requirements in extras.items():
        lines += [f"Provides-Extra: {extra}"] + [f'Requires-Dist: {r} ; extra == "{extra}"' for r in requirements]
    stubs = {_name(r) for r in base + sum(extras.values(), [])} | {"paddlepaddle"}
    for name in stubs:
        _write_wheel(folder, name, STUB_VERSION)
    return _write_wheel(folder, "ppnorm", version, lines)


def _clean_venv_with_fake_gpu_paddle(path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    info = Path(purelib) / "paddlepaddle_gpu-3.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: paddlepaddle-gpu\nVersion: 3.3.1\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    return python


def _clean_env():
    """No PYTHONPATH: the venv must see nothing of this machine (a checkout on it may hold ppnorm.egg-info)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _would_install(python, requirement, index, report):
    subprocess.run([sys.executable, "-m", "pip", "--isolated", "--python", str(python), "install", "--dry-run",
                    "--quiet", "--no-index", "--find-links", str(index), "--report", str(report), requirement],
                   check=True, capture_output=True, timeout=300, env=_clean_env())
    return {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}


def _missing_tool():
    """Why the pip test cannot run here (no venv, no setuptools, pip without --python), or None."""
    try:
        import pip
        import setuptools  # noqa: F401  (writes ppnorm's metadata)
        import venv  # noqa: F401
    except ImportError as error:
        return f"needs {error.name} to build a throwaway environment"
    if tuple(int(p) for p in pip.__version__.split(".")[:2]) < (22, 3):
        return "needs pip >= 22.3 (pip --python) to resolve inside a venv"
    return "the venv layout bin/python is POSIX" if sysconfig.get_platform().startswith("win") else None


@pytest.mark.slow
def test_pip_keeps_an_existing_paddlepaddle_gpu_and_the_cpu_extra_brings_the_cpu_wheel(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    wheel = _ppnorm_wheel(tmp_path, index)
    python = _clean_venv_with_fake_gpu_paddle(tmp_path / "venv")
    plain = _would_install(python, str(wheel), index, tmp_path / "plain.json")
    assert "paddlepaddle" not in plain and "paddlepaddle-gpu" not in plain
    assert {"ppnorm", "numpy", "visualdl", "pyyaml"} <= plain
    with_cpu = _would_install(python, f"{wheel}[cpu]", index, tmp_path / "cpu.json")
    assert with_cpu - plain == {"paddlepaddle"}
