"""Median throughput of timed repeats after warm-up, measured side by side; resident memory on Linux."""
import statistics
import time


def side_by_side(runs, items, warmup, repeats):
    """Median items/s of each of ``runs`` ({name: callable}), timed in alternation.

    Alternating A, B, B, A, ... exposes every candidate to the same machine state (frequency, cache,
    background load), so their ratio is fairer than two runs one after the other.
    """
    for run in runs.values():
        for _ in range(warmup):
            run()
    rates = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        shift = repeat % len(names)  # rotate who goes first, so no candidate always follows the same one
        for name in names[shift:] + names[:shift]:
            run = runs[name]
            start = time.perf_counter()
            run()
            rates[name].append(items / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


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
