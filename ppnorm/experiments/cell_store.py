"""Finished cells of a framework experiment, kept so that a stopped run resumes where it stopped.

Each cell (one setting, one seed) is seeded on its own (:meth:`Experiment.run_cell`), so its metrics depend only on
the experiment, the resolved params, the data option, the setting and the seed. :class:`CellStore` appends each
finished cell's metrics (scalars and curves, numpy types kept so that runs.csv is the same to the byte) as one JSON
line to ``cells.partial.jsonl`` in the output dir, keyed by a fingerprint of those five. A rerun with the same
fingerprint reuses them; a line cut short by a stop (or written by another version of the params) is ignored. The
runner removes the file once a full run has written runs.csv.
"""
import hashlib
import json
import os

import numpy as np

FILE = "cells.partial.jsonl"


def _encode(value):
    """``value`` as JSON, numpy scalars and arrays tagged with their dtype (a float32 must come back a float32)."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.dtype.str, "v": value.tolist()}
    if isinstance(value, np.generic):
        return {"__numpy__": value.dtype.str, "v": value.item()}
    if isinstance(value, (list, tuple)):
        items = [_encode(v) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    return value


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict) and "__ndarray__" in value:
        return np.asarray(value["v"], dtype=value["__ndarray__"])
    if isinstance(value, dict) and "__numpy__" in value:
        return np.dtype(value["__numpy__"]).type(value["v"])
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    return value


def _digest(*parts):
    text = json.dumps(_encode(list(parts)), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CellStore:
    """The finished cells of ``ctx``'s experiment in ``<output_dir>/cells.partial.jsonl``."""

    def __init__(self, ctx):
        self.path = os.path.join(ctx.output_dir, FILE)
        self.base = _digest(ctx.name, ctx.params, ctx.data_spec)
        self.cells = {}
        for line in self._lines():
            try:
                entry = json.loads(line)
                self.cells[entry["key"]] = _decode(entry["metrics"])
            except (ValueError, KeyError, TypeError):  # a line cut short by a stop: that cell runs again
                continue

    def _lines(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                return handle.read().split("\n")
        except (FileNotFoundError, UnicodeDecodeError):
            return []

    def key(self, setting, seed):
        return _digest(self.base, setting, int(seed))

    def count(self, cells):
        """How many of ``cells`` (``(setting, seed)`` pairs) are stored."""
        return sum(self.key(setting, seed) in self.cells for setting, seed in cells)

    def get(self, setting, seed):
        """The stored metrics of the cell, or None."""
        return self.cells.get(self.key(setting, seed))

    def put(self, setting, seed, metrics):
        """Append the cell's metrics as one line, written with one ``write`` and synced (a torn line is ignored)."""
        from ..signals import deferred  # a stop signal meanwhile waits for the line
        key = self.key(setting, seed)
        line = json.dumps({"key": key, "metrics": _encode(dict(metrics))}, allow_nan=True) + "\n"
        with deferred():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                if os.lseek(fd, 0, os.SEEK_END) and not self._ends_with_newline(fd):
                    line = "\n" + line  # after a torn line: start a fresh one
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        self.cells[key] = metrics

    @staticmethod
    def _ends_with_newline(fd):
        return os.pread(fd, 1, os.lseek(fd, 0, os.SEEK_END) - 1) == b"\n"


def open_store(ctx, cells):
    """The store of ``ctx``'s output dir; says ``resumed K of N runs from <file>`` when it holds K of ``cells``."""
    store = CellStore(ctx)
    reused = store.count(cells)
    if reused:
        ctx.log(f"[{ctx.name}] resumed {reused} of {len(cells)} runs from {store.path}")
    return store


def remove(output_dir):
    """Drop the store once a full run has written its outputs."""
    try:
        os.remove(os.path.join(output_dir, FILE))
    except FileNotFoundError:
        pass
