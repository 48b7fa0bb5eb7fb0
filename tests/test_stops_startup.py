"""The first second of a tool: a stop signal while Python and Paddle are still being imported ends every tool with
its one ``interrupted`` line and 128 + N (no Paddle dump, no traceback, no process left), and a working directory
deleted under the shell is one line and exit 2."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from helpers import tool_command, tool_env

TIMEOUT = 120
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
LABEL = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C", signal.SIGHUP: "SIGHUP"}
# Each keeps working well past the last delay (under load they are slower, never faster).
ARGS = {"train": ["-c", "digits/resnet20", "-o", "Global.epochs=1", "Global.use_visualdl=false"],
        "experiment": ["-c", "configs/experiments/pooling_shift.yaml", "-o", "quick=true", "use_visualdl=false"],
        "benchmark": ["--models", "resnet20", "--norms", "bn", "--image_size", "32", "--no_memory"],
        "eval": ["-c", "digits/resnet20", "-o", "Global.pretrained_model=/nonexistent/weights"],
        "export": ["-c", "digits/resnet20", "-o", "Global.pretrained_model=/nonexistent/weights"],
        "infer": ["--model_dir", "/nonexistent/model", "--input", "/nonexistent/image.png"]}
LONG, SHORT = (0.05, 0.3, 0.8, 1.5), (0.05, 0.2, 0.5)  # eval/export/infer end by themselves after ~0.8 s idle
DUMP = ("FatalError", "Termination signal", "Traceback", "C++")


def _send_after(command, delay, signum, cwd):
    with open(cwd / "out", "w") as out, open(cwd / "err", "w") as err:
        process = subprocess.Popen(command, cwd=cwd, env=tool_env(), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    time.sleep(delay)
    process.send_signal(signum)
    try:
        code = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running {TIMEOUT} s after the signal at {delay} s (a hang)")
    return code, (cwd / "err").read_text()


def _assert_stopped(code, err, signum, tool, delay):
    if code == -signum and "ppnorm" not in err:  # the interpreter was still starting: no Python code of ours ran yet,
        assert delay < 0.2, (code, err)  # the kernel's default ends it (a shell shows 128 + N)
        return
    lines = err.splitlines()
    assert code == 128 + signum, (delay, err)
    assert len(lines) == 1 and lines[0].startswith(f"error: tools/{tool}.py interrupted ({LABEL[signum]})"), lines


def _cases():
    for tool in ARGS:
        delays = LONG if tool in ("train", "experiment", "benchmark") else SHORT
        for i, delay in enumerate(delays):
            signals = SIGNALS if tool == "train" else (SIGNALS[i % len(SIGNALS)],)
            for signum in signals:
                yield pytest.param(tool, delay, signum, id=f"{tool}-{delay}-{signal.Signals(signum).name}")


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("tool, delay, signum", list(_cases()))
def test_a_signal_during_startup_is_the_one_stop_line(tmp_path, tool, delay, signum):
    command = tool_command(tool, *ARGS[tool])
    if tool in ("train", "experiment"):
        command += ["--output_dir", str(tmp_path / "run")]
    code, err = _send_after(command, delay, signum, tmp_path)
    _assert_stopped(code, err, signum, tool, delay)
    assert not [text for text in DUMP if text in err]


def _console_script(tmp_path):
    """The ``ppnorm`` script pip writes for the console entry point, here running this checkout."""
    path = tmp_path / "bin" / "ppnorm"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\nimport re\nimport sys\nfrom ppnorm.__main__ import main\n"
                    "if __name__ == '__main__':\n"
                    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("how", ["tools", "python -m", "console"])
def test_a_deleted_working_directory_is_one_line_and_exit_2(tmp_path, how):
    gone = tmp_path / "gone"
    gone.mkdir()
    start = {"tools": tool_command("train"),
             "python -m": [sys.executable, "-m", "ppnorm", "train"], "console": [_console_script(tmp_path), "train"]}
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    before = sorted(os.listdir(tmp_path))
    result = subprocess.run(["sh", "-c", script, "sh", str(gone), *start[how], "-c", "digits/resnet20"],
                            env=tool_env(), capture_output=True, text=True, timeout=TIMEOUT)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the current directory no longer exists") and "train" in lines[0]
    assert sorted(os.listdir(tmp_path)) == [name for name in before if name != "gone"]
    shutil.rmtree(tmp_path / "bin", ignore_errors=True)
