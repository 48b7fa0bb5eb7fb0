"""Run tools/train.py's main in this process and SIGKILL it at one instant of writing checkpoint 'latest'.

``python tests/kill_worker.py SAVE POINT -c ... -o ...``: on the SAVE-th save of ``latest`` (1-based),
die at POINT: ``params_partial`` (half of latest.pdparams.tmp on disk), ``opt_written`` (the .pdopt
temporary file complete), ``committed`` (the commit record in place, nothing renamed) or
``one_renamed`` (.pdparams renamed over the old one, .pdopt and .pdstates not yet).
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.engine import checkpoint  # noqa: E402
from ppnorm.engine.cli import train_main  # noqa: E402

save_number, point = int(sys.argv[1]), sys.argv[2]
seen = {"saves": 0}
real_write, real_replace = checkpoint._write_synced, os.replace


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def write(obj, path):
    if path.endswith("latest.pdparams.tmp"):
        seen["saves"] += 1
    digest = real_write(obj, path)
    if seen["saves"] != save_number:
        return digest
    if point == "params_partial" and path.endswith("latest.pdparams.tmp"):
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
        die()
    if point == "opt_written" and path.endswith("latest.pdopt.tmp"):
        die()
    return digest


def replace(src, dst):
    real_replace(src, dst)
    if seen["saves"] == save_number and (
            (point == "committed" and dst.endswith("latest.pdcommit"))
            or (point == "one_renamed" and dst.endswith("latest.pdparams"))):
        die()


checkpoint._write_synced = write
checkpoint.os.replace = replace
sys.exit(train_main(sys.argv[3:]))
