"""Median throughput of timed repeats after warm-up, measured side by side; resident memory on Linux."""
import math
import statistics
import time


def timed_repeats(runs, warmup, repeats, min_seconds=0.0, clock=time.perf_counter):
    """Seconds per call of each of ``runs`` ({name: callable}) in each of ``repeats`` rounds timed in alternation.

    Alternating A, B, B, A, ... exposes every candidate to the same machine state (frequency, cache,
    background load), so their ratio is fairer than two runs one after the other; round ``i`` of one
    candidate pairs with round ``i`` of another. With ``min_seconds`` a round calls each candidate enough
    times (the same count for every candidate, from the last warm-up call of the fastest) for the fastest
    to take about that long, the calls interleaved A, B, A, B, ...; a candidate's sample is its mean call.
    ``clock``: wall time by default; ``time.process_time`` counts this process's CPU time instead, which on a
    machine shared with other jobs leaves out the time the process waits for a core (meaningful when Paddle
    computes on one thread).
    """
    last = {}
    for name, run in runs.items():
        for _ in range(warmup):
            start = clock()
            run()
            last[name] = clock() - start
    fastest = min(last.values()) if last else 0.0
    number = max(1, math.ceil(min_seconds / fastest)) if min_seconds > 0 and fastest > 0 else 1
    seconds = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        shift = repeat % len(names)  # rotate who goes first, so no candidate always follows the same one
        order = names[shift:] + names[:shift]
        total = dict.fromkeys(names, 0.0)
        for _ in range(number):  # the candidates' calls interleave, so a round's load reaches them all alike
            for name in order:
                start = clock()
                runs[name]()
                total[name] += clock() - start
        for name in names:
            seconds[name].append(total[name] / number)
    return seconds


def side_by_side(runs, items, warmup, repeats):
    """Median items/s of each of ``runs`` ({name: callable}), timed in alternation (:func:`timed_repeats`)."""
    seconds = timed_repeats(runs, warmup, repeats)
    return {name: statistics.median(items / s for s in values) for name, values in seconds.items()}


def _status_kib(field):
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def resident_mib(field="VmRSS"):
    """This process's resident memory (``VmRSS``) or its peak so far (``VmHWM``) in MiB; None off Linux."""
    kib = _status_kib(field)
    return None if kib is None else kib / 1024
