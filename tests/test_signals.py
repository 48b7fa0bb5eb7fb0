"""Ctrl-C, SIGTERM and SIGHUP: every tool stops with one line and exit code 128 + N, no Paddle dump, no
process left behind; training saves 'latest' at the current step and resumes exactly.

The tools run in subprocesses under timeouts, their output going to files (a leaked worker holding a
pipe open would hang the test instead of failing it).
"""
import os
import pty
import re
import signal
import subprocess
import threading
import time

import numpy as np
import paddle
import pytest
from helpers import start_tool
from weights import assert_same_weights, load_weights

from ppnorm.cli import run_tool
from ppnorm.data import BatchLoader, EpochBatchSampler
from ppnorm.data.synthetic import Synthetic
from ppnorm.engine import Trainer, load_config
from ppnorm.engine import checkpoint
from ppnorm.engine.builder import model_from_config
from ppnorm.engine.hooks import StopOnSignal
from ppnorm.engine.loop import INTERRUPTED, HookBase, TrainLoop
from ppnorm.signals import Stopped, deferred, handling, stop_requests

DIGITS = "configs/digits/resnet20.yaml"
TIMEOUT = 120
# 2 epochs of 11 steps, a [Train] line per step, dropout so that the RNG state matters on resume
TRAIN = ["Global.epochs=2", "DataLoader.Train.batch_size=128", "Global.print_batch_step=1", "Global.eval_interval=2",
         "Global.use_visualdl=false", "Arch.dropout=0.2"]
DUMP = ("FatalError", "Termination signal", "Traceback")


# ------------------------------------------------------------------ helpers: the tools as subprocesses
def _start(tmp_path, tool, *args, name="io"):
    """Start ``tools/<tool>.py args`` with stdout/stderr in files; returns ``(process, stdout path, stderr path)``."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = start_tool(tool, *args, stdout=stdout, stderr=stderr)
    return process, out, err


def _train(tmp_path, run, workers, *extra, name="io"):
    return _start(tmp_path, "train", "-c", DIGITS, "--output_dir", str(tmp_path / run), "-o", *TRAIN,
                  f"DataLoader.Train.num_workers={workers}", *extra, name=name)


def _wait_for(process, path, pattern, timeout=TIMEOUT):
    """Wait until the file at ``path`` matches ``pattern``; fails if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, path.read_text()):
            return
        assert process.poll() is None, f"ended with {process.returncode} before {pattern!r}:\n{path.read_text()}"
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {pattern!r} within {timeout} s")


def _finish(process, timeout=TIMEOUT):
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running {timeout} s after the signal (a hang)")


def _children(pid):
    """Pids of the processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if entry.isdigit() and int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def _alive(pids, within=5.0):
    """Those of ``pids`` still running (not zombies) after up to ``within`` seconds."""
    def running(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + within
    while [pid for pid in pids if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if running(pid)]
    for pid in left:  # do not leak them into the rest of the test session
        os.kill(pid, signal.SIGKILL)
    return left



@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    process, _, err = _train(tmp, "run", 0)
    assert _finish(process) == 0, err.read_text()
    return tmp / "run" / "latest"


# ------------------------------------------------------------------ tools/train.py under SIGTERM / SIGHUP
@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("workers", [0, 2])
def test_a_stop_signal_saves_latest_mid_epoch_and_resume_is_exact(tmp_path, uninterrupted, signum, workers):
    process, out, err = _train(tmp_path, "run", workers)
    _wait_for(process, out, r"\[Train\]\[Epoch 1/2\]\[Iter: 2/11\]")
    children = _children(process.pid)
    assert len(children) >= workers
    process.send_signal(signum)
    assert _finish(process) == 128 + signum, err.read_text()
    name, latest = signal.Signals(signum).name, tmp_path / "run" / "latest"
    lines = err.read_text().splitlines()
    assert len(lines) == 1, lines
    match = re.fullmatch(rf"error: tools/train\.py interrupted \({name}\); stopped at epoch 1, step (\d+) "
                         rf"\('latest' saved\); resume with -o Global\.checkpoints={re.escape(str(latest))}", lines[0])
    assert match, lines[0]
    states = paddle.load(str(latest) + ".pdstates")
    assert (states["epoch"], states["step"]) == (0, int(match.group(1))) and 2 <= states["step"] < 11  # mid-epoch
    assert not [text for text in DUMP if text in out.read_text() + err.read_text()]
    assert _alive(children) == []

    resumed, _, err = _train(tmp_path, "run", workers, f"Global.checkpoints={latest}", name="resumed")
    assert _finish(resumed) == 0, err.read_text()
    assert_same_weights(load_weights(latest), load_weights(uninterrupted))


@pytest.mark.slow
@pytest.mark.e2e
def test_sighup_after_the_terminal_closed_still_saves_latest(tmp_path):
    """A closed terminal: the console fails with EIO from then on; training logs to train.log and stops cleanly."""
    master, slave = pty.openpty()
    process = start_tool("train", "-c", DIGITS, "--output_dir", tmp_path / "run", "-o", *TRAIN, "Global.epochs=50",
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen, deadline = b"", time.monotonic() + TIMEOUT
    while b"[Train]" not in seen and time.monotonic() < deadline and process.poll() is None:
        seen += os.read(master, 4096)
    os.close(master)
    process.send_signal(signal.SIGHUP)
    assert _finish(process) == 129
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert log[-1].startswith("stopped at epoch 1, step ") and (tmp_path / "run" / "latest.pdstates").is_file()


@pytest.mark.slow
@pytest.mark.e2e
def test_sigkill_of_the_parent_leaves_no_worker_alive(tmp_path):
    process, out, _ = _train(tmp_path, "run", 2, "Global.epochs=50")
    _wait_for(process, out, r"\[Train\]")
    children = _children(process.pid)
    assert len(children) == 2
    process.kill()
    process.wait(timeout=TIMEOUT)
    assert _alive(children, within=5.0) == []


@pytest.mark.slow
@pytest.mark.e2e
def test_eval_under_sigterm_is_one_line_and_exit_143(tmp_path):
    model = model_from_config(load_config(DIGITS), Synthetic(10, (1, 8, 8)))
    paddle.save(model.state_dict(), str(tmp_path / "weights.pdparams"))
    process, out, err = _start(tmp_path, "eval", "-c", DIGITS, "-o", f"Global.pretrained_model={tmp_path / 'weights'}",
                               "DataLoader.Eval.dataset={name: synthetic, num_samples: 40000, image_shape: [1, 8, 8]}",
                               "DataLoader.Eval.batch_size=20")
    _wait_for(process, out, r"\[Pretrained\] loaded")  # the weights are in: evaluation (a few seconds) has begun
    process.send_signal(signal.SIGTERM)
    assert _finish(process) == 143, err.read_text()
    assert err.read_text().splitlines() == ["error: tools/eval.py interrupted (SIGTERM)"]
    assert not [text for text in DUMP if text in out.read_text()]


# ------------------------------------------------------------------ in-process: the handler's rules
def _send_soon(signum, delay=0.3):
    threading.Timer(delay, os.kill, (os.getpid(), signum)).start()


def test_outside_a_training_loop_a_stop_signal_raises_and_handlers_are_restored():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with handling(), pytest.raises(Stopped) as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(5)
    assert stop.value.signum == signal.SIGHUP and isinstance(stop.value, KeyboardInterrupt)
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_the_first_signal_requests_a_stop_and_the_second_quits():
    seen = []
    with stop_requests(seen.append), pytest.raises(Stopped) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert seen == [signal.SIGTERM]
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    assert stop.value.signum == signal.SIGINT


def test_a_signal_inside_deferred_waits_for_the_block_and_is_dropped_once_stopping():
    done = []
    with handling(), pytest.raises(Stopped):
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("block finished")
    assert done == ["block finished"]
    with stop_requests(done.append):
        os.kill(os.getpid(), signal.SIGTERM)  # the first: a stop request
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)  # while stopping and saving: dropped
        assert done == ["block finished", signal.SIGTERM]


def test_run_tool_turns_each_signal_into_one_line_and_128_plus_n(capsys):
    def wait():
        time.sleep(10)

    for signum, code, text in [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"),
                               (signal.SIGINT, 130, "Ctrl-C")]:
        _send_soon(signum)
        assert run_tool("eval", wait) == code
        assert capsys.readouterr().err.splitlines() == [f"error: tools/eval.py interrupted ({text})"]


class _Slow:
    """One-pixel samples; sample ``index`` takes ``delay`` seconds (in the worker that reads it)."""

    def __init__(self, count, delay):
        self.count, self.delay = count, delay

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        time.sleep(self.delay)
        return np.zeros(1, "float32"), index


def test_a_signal_while_waiting_for_a_worker_ends_the_wait_at_once():
    loader = BatchLoader(_Slow(4, 60.0), EpochBatchSampler(4, 2), num_workers=2)
    start = time.monotonic()
    with handling(), pytest.raises(Stopped):
        _send_soon(signal.SIGTERM, 1.0)
        next(iter(loader))
    assert time.monotonic() - start < 10


class _StuckAfter(_Slow):
    """Samples before ``first`` at once, the others after ``delay`` seconds (a worker stuck on a file)."""

    def __init__(self, count, delay, first):
        super().__init__(count, delay)
        self.first = first

    def __getitem__(self, index):
        if index >= self.first:
            time.sleep(self.delay)
        return np.zeros(1, "float32"), index % 2


class _Batches:
    steps_per_epoch = 2

    def __init__(self, loader):
        self.loader = loader

    def batches(self, epoch, skip=0):
        return self.loader


def test_a_stop_while_the_loop_waits_for_a_stuck_worker_stops_at_once_after_the_last_whole_step():
    loader = BatchLoader(_StuckAfter(4, 60.0, first=2), EpochBatchSampler(4, 2), num_workers=2)
    model = paddle.nn.Linear(1, 2)
    loop = TrainLoop(model, paddle.optimizer.SGD(0.1, parameters=model.parameters()), None, _Batches(loader), 1,
                     hooks=[StopOnSignal(), _AtGlobalStep(1, lambda loop: _send_soon(signal.SIGTERM, 0.5))])
    loop.logger = type("Quiet", (), {"info": staticmethod(lambda line: None)})()
    start = time.monotonic()
    assert loop.train() == INTERRUPTED and loop.stop_signal == signal.SIGTERM
    assert loop.states["step"] == 1 and time.monotonic() - start < 10


class _AtGlobalStep(HookBase):
    def __init__(self, at, action):
        self.at, self.action = at, action

    def after_step(self, loop):
        if loop.states["global_step"] == self.at:
            self.action(loop)


@pytest.mark.slow
def test_a_second_signal_while_latest_is_written_waits_for_the_commit(tmp_path, monkeypatch):
    config = load_config(DIGITS, [f"Global.output_dir={tmp_path / 'run'}", *TRAIN])
    trainer = Trainer(config)
    trainer.register_hooks([_AtGlobalStep(3, lambda loop: os.kill(os.getpid(), signal.SIGTERM))])
    real_write = checkpoint._write_synced

    def write_and_signal(obj, path):
        digest = real_write(obj, path)
        if path.endswith("latest.pdparams.tmp"):
            os.kill(os.getpid(), signal.SIGTERM)  # the second signal, halfway through the save
        return digest

    monkeypatch.setattr(checkpoint, "_write_synced", write_and_signal)
    assert trainer.train() is None and trainer.outcome == INTERRUPTED and trainer.stop_signal == signal.SIGTERM
    states = paddle.load(str(tmp_path / "run" / "latest.pdstates"))
    assert (states["epoch"], states["step"], states["global_step"]) == (0, 3, 3)
    assert not [name for name in os.listdir(tmp_path / "run") if name.endswith(".tmp")]


def test_a_stop_that_a_library_wraps_in_its_own_error_is_still_a_stop(capsys):
    """Paddle's dy2static (export) catches the KeyboardInterrupt a signal raises and raises "In transformed code"."""
    def export_like():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt as stop:
            raise RuntimeError("In transformed code:\n\n  File ...") from stop
        return 0

    assert run_tool("export", export_like) == 143
    assert capsys.readouterr().err.strip() == "error: tools/export.py interrupted (SIGTERM)"
    assert run_tool("export", lambda: int("x")) == 2  # the next run: a plain error is an error again
    assert capsys.readouterr().err.strip() == "error: invalid literal for int() with base 10: 'x'"
