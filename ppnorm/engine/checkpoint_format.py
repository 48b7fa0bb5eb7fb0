"""A checkpoint's files and their names: ``<prefix>`` + :data:`SUFFIXES` (+ :data:`TRAIN`), the temporary names a
save writes first (``TMP``) and the commit record (``COMMIT``) that makes them the checkpoint (see
:mod:`.checkpoint`)."""
import hashlib
import json

from ..weights import SUFFIXES

TRAIN = ".pdtrain"  # the raw training weights of a checkpoint whose .pdparams hold the EMA weights
COMMIT, TMP = ".pdcommit", ".tmp"
STATE_KEYS = {"epoch": int, "step": int, "global_step": int, "best_top1": float, "best_epoch": int}
WHAT = {".pdparams": "weights", ".pdopt": "optimizer state", ".pdstates": "training states", TRAIN: "weights"}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def commit_record(prefix):
    """The hashes of a committed-but-not-yet-renamed checkpoint, or None when there is no valid record."""
    try:
        with open(prefix + COMMIT, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    valid = isinstance(record, dict) and set(record) in (set(SUFFIXES), set(SUFFIXES) | {TRAIN})
    return record if valid else None
