"""Batches from a data set without hangs: a sample's error reaches the main thread at once.

``paddle.io.DataLoader`` reads batches in a background thread even with ``num_workers=0``; an
exception there is printed inside that thread and the training process waits forever, deaf to
Ctrl-C. :class:`BatchLoader` reads in the calling thread (``num_workers=0``) or in a pool of
forked worker processes, whose first error is raised in the main process while the pool is shut
down. Batches are what ``paddle.io.DataLoader`` with the default collate function yields:
each field stacked with ``numpy.stack`` and turned into a ``paddle.Tensor``.
"""
from __future__ import annotations

import collections
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Iterator, List, Sequence

import numpy as np
import paddle

from ..signals import STOP_SIGNALS, check_wait
from .base import DataError

_WORKER_DATASET = None  # the data set a forked worker reads (inherited, never pickled)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WAIT_SECONDS = 0.2  # how often a wait for a worker's batch looks for a stop request


def collate(dataset: Any, indices: Sequence[int], samples: Sequence[Sequence[Any]]) -> List[np.ndarray]:
    """Stack each field of ``samples``; images of different shapes are a :class:`DataError`."""
    shapes = [np.shape(sample[0]) for sample in samples]
    for index, shape in zip(indices, shapes):
        if shape != shapes[0]:
            describe = getattr(dataset, "describe", lambda i: f"sample {i}")
            raise DataError(f"{describe(index)} is {'x'.join(map(str, shape))} but {describe(indices[0])} in the same "
                            f"batch is {'x'.join(map(str, shapes[0]))}; add a Resize (and CenterCrop) transform "
                            f"so that all images have one size")
    return [np.stack(field) if isinstance(field[0], np.ndarray) else np.array(field) for field in zip(*samples)]


def load_batch(dataset: Any, indices: Sequence[int]) -> List[np.ndarray]:
    return collate(dataset, indices, [dataset[i] for i in indices])


def _init_worker(dataset, parent):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset
    die_with_parent(parent)
    # Stopping is the main process's: a terminal sends Ctrl-C and hang-up to the whole process group, and a
    # worker that died of it would turn a clean stop into "a worker died". The main process ends its workers.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this process when its parent (pid ``parent``) dies, even by SIGKILL.

    ``prctl(PR_SET_PDEATHSIG)`` through ctypes; elsewhere (or without libc) nothing is set and the main
    process's sweep on exit is all there is. Exits at once if the parent is already gone."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker_batch(indices):
    return load_batch(_WORKER_DATASET, indices)


class BatchLoader:
    """Iterate ``batch_sampler`` over ``dataset``, yielding lists of ``paddle.Tensor`` fields."""

    def __init__(self, dataset: Any, batch_sampler: Iterable[List[int]], num_workers: int = 0,
                 prefetch: int = 2) -> None:
        self.dataset = dataset
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch = prefetch

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[List[paddle.Tensor]]:
        batches = self._in_process() if self.num_workers == 0 else self._in_workers()
        for fields in batches:
            yield [paddle.to_tensor(field) for field in fields]

    def _in_process(self):
        for indices in self.batch_sampler:
            yield load_batch(self.dataset, indices)

    def _in_workers(self):
        """Keep ``prefetch`` batches per worker in flight, in order; stop every worker on any exit."""
        context = multiprocessing.get_context("fork")  # the data set is inherited, not copied through pickle
        pool = ProcessPoolExecutor(self.num_workers, context, initializer=_init_worker,
                                   initargs=(self.dataset, os.getpid()))
        pending, finished = collections.deque(), False
        try:
            batches = iter(self.batch_sampler)
            for indices in batches:
                pending.append(pool.submit(_worker_batch, indices))
                if len(pending) >= self.num_workers * self.prefetch:
                    break
            while pending:
                yield _result(pending.popleft())
                for indices in batches:
                    pending.append(pool.submit(_worker_batch, indices))
                    break
            finished = True
        finally:
            _stop(pool, finished)


def _result(future):
    """The batch of ``future``, waited for in short timeouts so that a requested stop can end the wait."""
    while True:
        try:
            return future.result(timeout=WAIT_SECONDS)
        except TimeoutError:
            check_wait()
        except BrokenProcessPool:
            raise DataError("a data-loading worker process died (killed, or out of memory); "
                            "try DataLoader num_workers: 0 to see the cause") from None


def _stop(pool, finished):
    """Let idle workers exit after a complete pass; otherwise cancel what is queued and end them now."""
    if finished:
        pool.shutdown(wait=True)
        return
    manager = getattr(pool, "_executor_manager_thread", None)  # shutdown() forgets it
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    processes = _kill_workers(pool, processes)
    if manager is not None:  # it can fork a replacement for a killed worker before it sees the shutdown
        manager.join(timeout=5)
        _kill_workers(pool, processes)


def _kill_workers(pool, processes):
    """SIGKILL and reap ``processes`` and every worker ``pool`` holds now; returns them all.

    SIGKILL, not SIGTERM: a worker forked a moment ago may still run Paddle's inherited SIGTERM handler,
    which can deadlock in the child (seen as a hang on stop)."""
    processes = list(dict.fromkeys(processes + list((getattr(pool, "_processes", None) or {}).values())))
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=5)
    return processes
