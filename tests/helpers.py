"""Helpers shared by the test modules (fixtures are in conftest.py): the tools run in a subprocess (one run, or
many steps in one process), the one ``error:`` line a refused run prints, what a message must name, the state of
a folder tree, small random images, the message of an expected exception.

``python tests/helpers.py STEPS`` is the subprocess side of ``run_steps``."""
import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# not error lines: Python's and Paddle's warnings, Paddle's glog info/warning lines (I1207 12:00:00.1 ...), and
# the notice `import paddle` prints when OMP_NUM_THREADS > 1
NOISE = re.compile(r"warn|^[IW]\d{4} |^PLEASE USE OMP_NUM_THREADS WISELY\.$", re.IGNORECASE)


# the test being set up or run (conftest.py sets it): a tool run in a subprocess from a test without the e2e
# marker fails, so that `-m e2e` / `-m "not e2e"` stay true as tests are added
running = {"test": None}


def _check_e2e():
    test = running["test"]
    assert test is None or test.get_closest_marker("e2e"), \
        f"{test.nodeid} runs a tool in a subprocess: mark it @pytest.mark.e2e"


def tool_env(threads=1, **extra):
    """The environment of a tool run: this checkout first on PYTHONPATH, ``threads`` OpenMP threads, then ``extra``."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=path, **extra)


def tool_command(tool, *args):
    """``python tools/<tool>.py args`` (arguments as text)."""
    return [sys.executable, str(ROOT / "tools" / f"{tool}.py"), *map(str, args)]


def run_tool(tool, *args, timeout=300, cwd=ROOT, threads=1):
    """Run ``tools/<tool>.py args`` to its end, killed after ``timeout`` s; returns the CompletedProcess (text)."""
    _check_e2e()
    return subprocess.run(tool_command(tool, *args), cwd=cwd, env=tool_env(threads), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def start_tool(tool, *args, cwd=ROOT, threads=1, **popen):
    """Start ``tools/<tool>.py args``; stdout and stderr are pipes (text), stdin is empty, unless ``popen`` says
    otherwise."""
    _check_e2e()
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "stdin": subprocess.DEVNULL, "text": True, **popen}
    return subprocess.Popen(tool_command(tool, *args), cwd=cwd, env=tool_env(threads), **popen)


def run_steps(steps, timeout):
    """Run ``[(name, tool, argv), ...]`` through the tools' entry points in one subprocess, in order, to import
    Paddle once; returns name -> CompletedProcess (its args are the step's argv). A step that hangs is missing,
    the steps before it are there."""
    _check_e2e()
    try:
        stdout = subprocess.run([sys.executable, __file__, json.dumps(steps)], capture_output=True, text=True,
                                timeout=timeout, cwd=ROOT, env=tool_env(), stdin=subprocess.DEVNULL).stdout
    except subprocess.TimeoutExpired as error:
        stdout = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
    results = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"name"')]
    argv = {name: argv for name, _, argv in steps}
    return {r["name"]: subprocess.CompletedProcess(argv[r["name"]], r["rc"], r["stdout"], r["stderr"]) for r in results}


def _steps_process(steps):
    """The subprocess side of ``run_steps``: one JSON line per step; a traceback is reported, the next step runs."""
    from ppnorm.deploy.cli import export_main, infer_main
    from ppnorm.engine.cli import eval_main, train_main

    tools = {"train": train_main, "eval": eval_main, "export": export_main, "infer": infer_main}
    for name, tool, argv in json.loads(steps):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            try:
                rc = tools[tool](argv, omp_num_threads="1")
            except BaseException as error:  # noqa: BLE001  (a traceback fails the test; the next step runs)
                rc = -1
                stderr.write("Traceback\n" + "".join(traceback.format_exception(error)))
        print(json.dumps({"name": name, "rc": rc, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}),
              flush=True)


def error_line(result, *fragments):
    """The one ``error:`` line of a refused run (a CompletedProcess): exit code 2, no traceback, no other line but
    warnings on stderr, and every fragment in that line. Returns the line."""
    returncode, stderr = result.returncode, result.stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not NOISE.search(line.strip())]
    assert returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and "C++" not in stderr, stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_says(text, *parts):
    """``text`` is one line holding each of ``parts`` in this order: what a message must name (the key, the file,
    the value, the fix), with its wording free."""
    assert "\n" not in text.strip(), text
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} is not in {text[at:]!r} (of {text!r})"
        at = found + len(part)


def tree_state(root):
    """Every path below ``root``: a folder, a link and its target, or a file's mtime and content hash; equal
    states before and after a run mean the run wrote, removed or touched nothing there."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                state[path] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                state[path] = "dir"
            else:
                state[path] = (os.stat(path).st_mtime_ns, hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return state


def png(path, seed=0, size=(8, 8)):
    """An RGB PNG of random pixels, ``size`` = (width, height), at ``path`` (folders made); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def image_folders(root, splits=("train", "eval"), classes=("a", "b"), per_class=4):
    """``root/<split>/<class>/<i>.png``: ``per_class`` random 8x8 images (seed ``i``) per class and split."""
    for split in splits:
        for name in classes:
            for i in range(per_class):
                png(root / split / name / f"{i}.png", seed=i)
    return root


def message_of(error, function, *args, **kwargs):
    """The text of the ``error`` that ``function(*args, **kwargs)`` must raise."""
    with pytest.raises(error) as raised:
        function(*args, **kwargs)
    return str(raised.value)


if __name__ == "__main__":
    _steps_process(sys.argv[1])
