"""A stop signal whose Stopped a library catches and swallows (prints a traceback, goes on) still ends the tool with
its one line and 128+N, and a training loop that starts after such a swallowed stop stops at once."""
import os
import signal
import traceback

from ppnorm import signals
from ppnorm.cli import run_tool


def _library_that_swallows():
    try:
        os.kill(os.getpid(), signal.SIGTERM)
    except BaseException:  # noqa: BLE001 - what a careless library does
        traceback.print_exc()
    return 0


def test_a_swallowed_stop_still_ends_the_tool_with_its_line(capsys):
    assert run_tool("train", _library_that_swallows) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error:") and "interrupted (SIGTERM)" in err.splitlines()[-1]


def test_a_tool_without_a_stop_keeps_its_exit_code():
    assert run_tool("train", lambda: 0) == 0 and run_tool("train", lambda: 3) == 3


def test_a_loop_that_starts_after_a_swallowed_stop_is_asked_to_stop_at_once():
    asked = []

    def run():
        _library_that_swallows()
        with signals.stop_requests(asked.append):
            assert asked == [signal.SIGTERM]  # before any step of the loop
        return 0

    assert run_tool("train", run) == 128 + signal.SIGTERM
