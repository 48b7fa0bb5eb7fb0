"""CPU threads: Paddle's dygraph runs its CPU kernels on one thread unless told otherwise.

The setting is passed in explicitly. ``OMP_NUM_THREADS`` cannot be read here: importing paddle sets
it to 1 when it is unset, so the tools read it before importing ppnorm and pass it on.
"""
import os

import paddle


def available_cores():
    """Cores this process may run on (respects taskset / container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_cpu_threads(requested=None, omp_num_threads=None):
    """``(threads, why)``: ``requested`` if given, else ``omp_num_threads`` (the user's ``OMP_NUM_THREADS``),
    else the cores shared by the local ranks."""
    if requested:
        return int(requested), "Global.cpu_threads"
    if omp_num_threads:
        return int(omp_num_threads), "OMP_NUM_THREADS"
    cores = available_cores()
    local_ranks = max(1, int(os.environ.get("PADDLE_LOCAL_SIZE", os.environ.get("PADDLE_TRAINERS_NUM", "1"))))
    return max(1, cores // local_ranks), f"{cores} cores / {local_ranks} process(es)"


_SET = {"threads": None}  # what use_cpu_threads last set (Paddle has no getter)


def use_cpu_threads(requested=None, omp_num_threads=None):
    """Set the number of threads of Paddle's CPU math library; returns ``(threads, one-line note for the log)``."""
    threads, why = resolve_cpu_threads(requested, omp_num_threads)
    paddle.base.core.set_num_threads(threads)
    _SET["threads"] = threads
    return threads, f"[CPU] {threads} thread(s) for Paddle's CPU kernels ({why}; set Global.cpu_threads to change)"


def current_cpu_threads():
    """The thread count :func:`use_cpu_threads` set in this process (1, Paddle's own default, if never called)."""
    return _SET["threads"] or 1
