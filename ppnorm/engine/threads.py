"""CPU threads: Paddle's dygraph runs its CPU kernels on one thread unless told otherwise."""
import os

import paddle

from .. import USER_OMP_NUM_THREADS


def available_cores():
    """Cores this process may run on (respects taskset / container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_cpu_threads(requested=None):
    """``(threads, why)``: ``requested`` if given, else ``OMP_NUM_THREADS``, else the cores shared by local ranks."""
    if requested:
        return int(requested), "Global.cpu_threads"
    env = USER_OMP_NUM_THREADS or ""
    if env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    cores = available_cores()
    local_ranks = max(1, int(os.environ.get("PADDLE_LOCAL_SIZE", os.environ.get("PADDLE_TRAINERS_NUM", "1"))))
    return max(1, cores // local_ranks), f"{cores} cores / {local_ranks} process(es)"


def use_cpu_threads(requested=None):
    """Set the number of threads of Paddle's CPU math library; returns ``(threads, one-line note for the log)``."""
    threads, why = resolve_cpu_threads(requested)
    paddle.base.core.set_num_threads(threads)
    return threads, f"[CPU] {threads} thread(s) for Paddle's CPU kernels ({why}; set Global.cpu_threads to change)"
