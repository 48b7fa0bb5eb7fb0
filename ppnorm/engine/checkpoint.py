"""Checkpoints as ``<prefix>.pdparams / .pdopt / .pdstates`` (+ ``.pdtrain`` with EMA), committed as one unit.

A save writes the three files under temporary names (each fsynced), then a commit record
``<prefix>.pdcommit`` naming their SHA-256 (the instant the new checkpoint exists), then renames
them over the old files and removes the record. A kill at any instant therefore leaves either the
previous complete checkpoint (no record: the temporary files are leftovers) or the new one (a
record: the temporary files that match it are the checkpoint; the next save or load finishes the
job). ``.pdstates`` also stores the hashes of its ``.pdparams`` and ``.pdopt``, so files of
different checkpoints are never loaded together, and (``hooks``) the states of the run's hooks that have
a ``state_dict`` (:mod:`ppnorm.engine.hook_api`), so they are committed with the weights.

A load reads each file whole once and checks the hashes on the bytes it then loads. While another
process commits a save into the same prefix, a load that fails because the files changed under it
is read again (:func:`.checkpoint_read.read_checkpoint`), so a reader gets the previous or the new checkpoint.

With an EMA of the weights (``EMA.decay``, :mod:`ppnorm.engine.ema`) ``.pdparams`` holds the
averaged weights, the ones the run evaluates and that eval/export/infer/pretrained read, and
``.pdtrain`` the raw training weights a resume continues from; ``.pdtrain`` is then part of the
unit (its hash in the commit record and in ``.pdstates``).

Files are read by :mod:`ppnorm.weights`; pretrained weights are loaded by
:func:`ppnorm.models.pretrained.load_pretrained` (re-exported here, part of the engine's API).
"""
import hashlib
import io
import json
import os

import paddle

from ..models.pretrained import load_pretrained
from ..weights import SUFFIXES, CheckpointError, load_bytes, load_strict, strip_suffix
from .checkpoint_format import COMMIT, STATE_KEYS, TMP, TRAIN, WHAT, commit_record, sha256
from .checkpoint_read import read_checkpoint

__all__ = ["CheckpointError", "load_checkpoint", "load_pretrained", "save_checkpoint", "strip_suffix"]


def _fsync_dir(directory):
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(obj, path):
    """Write ``obj`` as ``paddle.save`` does, fsynced; return the SHA-256 of the bytes (hashed in memory, not
    read back)."""
    buffer = io.BytesIO()
    paddle.save(obj, buffer)
    data = buffer.getbuffer()
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return hashlib.sha256(data).hexdigest()


def _finish_commit(prefix, written=None):
    """Roll a committed checkpoint forward (rename its temporary files); drop uncommitted leftovers.

    ``written``: the record this process has just committed, its files written and fsynced here (not hashed again)."""
    record = commit_record(prefix)
    for suffix in SUFFIXES + (TRAIN,):
        tmp = prefix + suffix + TMP
        ours = written is not None and record == written and suffix in written
        if record and os.path.isfile(tmp) and (ours or sha256(tmp) == record.get(suffix)):
            os.replace(tmp, prefix + suffix)
        elif os.path.exists(tmp):
            os.remove(tmp)
    if record and TRAIN not in record and os.path.exists(prefix + TRAIN):
        os.remove(prefix + TRAIN)  # left by an EMA checkpoint this one (without EMA) replaces
    if os.path.exists(prefix + COMMIT):
        os.remove(prefix + COMMIT)
    _fsync_dir(os.path.dirname(prefix))


def _rename_optimizer_state(state, names):
    """Rename accumulator keys ``<old param name>_<accumulator>`` using ``names`` (old -> new); the longest old
    name that a key starts with (followed by ``_``) wins, looked up at each ``_`` of the key from the right."""
    renamed = {}
    for key, value in state.items():
        cut = key.rfind("_")
        while cut > 0 and key[:cut] not in names:
            cut = key.rfind("_", 0, cut)
        renamed[names[key[:cut]] + key[cut:] if cut > 0 else key] = value
    return renamed


def _param_names(model):
    """Paddle's unique parameter names (conv2d_42.w_0) -> structured names (layer1.0.conv1.weight)."""
    return {param.name: key for key, param in model.named_parameters()}


def save_checkpoint(prefix, model, optimizer, states, ema=None):
    """Write model, optimizer and training states (and ``ema``, a :class:`~ppnorm.engine.ema.ModelEma`)
    under ``prefix`` as one unit (see the module docstring).

    Optimizer accumulators are stored under structured parameter names, because Paddle's unique
    names (``conv2d_42.w_0``) differ between processes that build layers in another order.
    """
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    _finish_commit(prefix)
    try:
        record, hashes = _write_uncommitted(prefix, model, optimizer, states, ema)
    except OSError as error:  # a full disk, a quota, a disk gone read-only: nothing of this save is kept
        for leftover in [prefix + suffix + TMP for suffix in SUFFIXES + (TRAIN,)] + [prefix + COMMIT + TMP]:
            if os.path.exists(leftover):
                os.remove(leftover)
        raise CheckpointError(f"cannot write checkpoint {prefix} ({error.strerror or error}); the previous "
                              f"checkpoint there, if any, is intact: free space or choose another "
                              f"Global.output_dir, then resume with -o Global.checkpoints=<its latest>") from error
    os.replace(record, prefix + COMMIT)  # the commit point
    _fsync_dir(os.path.dirname(prefix))
    _finish_commit(prefix, hashes)


def _write_uncommitted(prefix, model, optimizer, states, ema):
    """Write the files and the commit record under temporary names, each fsynced; return the record's path and
    the hashes it holds."""
    hashes = {".pdparams": _write_synced((ema or model).state_dict(), prefix + ".pdparams" + TMP)}
    hashes[".pdopt"] = _write_synced(_rename_optimizer_state(optimizer.state_dict(), _param_names(model)),
                                     prefix + ".pdopt" + TMP)
    if ema is not None:
        hashes[TRAIN] = _write_synced(model.state_dict(), prefix + TRAIN + TMP)
        states = dict(states, ema_decay=ema.decay)
    hashes[".pdstates"] = _write_synced(dict(states, files=dict(hashes), optimizer=type(optimizer).__name__),
                                        prefix + ".pdstates" + TMP)
    record = prefix + COMMIT + TMP
    with open(record, "w", encoding="utf-8") as handle:
        json.dump(hashes, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return record, hashes


def _load(files, data, suffix):
    """The object in the bytes read for ``suffix`` (:func:`.checkpoint_read.read_checkpoint`)."""
    if suffix not in data:
        raise CheckpointError(f"Global.checkpoints: {files[suffix]} not found; copy the whole checkpoint")
    return load_bytes(data[suffix], files[suffix], WHAT[suffix])


def _load_weights(files, data, states, model, ema):
    """The raw weights into ``model`` and the averaged ones into ``ema`` (a checkpoint without EMA starts it)."""
    saved_decay = states.get("ema_decay")
    if saved_decay and ema is None:
        raise CheckpointError(f"{files['.pdparams']} holds EMA weights (EMA.decay={saved_decay}) and the training "
                              f"weights are in {files[TRAIN]}; resume with -o EMA.decay={saved_decay}")
    raw = TRAIN if saved_decay else ".pdparams"
    load_strict(model, _load(files, data, raw), files[raw], skip=())
    if ema is not None and saved_decay:
        load_strict(ema.model, _load(files, data, ".pdparams"), files[".pdparams"], skip=())
    elif ema is not None:
        ema.set_state_dict(model.state_dict())


def load_checkpoint(prefix, model, optimizer, ema=None):
    """Restore model, optimizer (and ``ema``) from ``prefix``; returns the saved training states (with ``hooks``,
    the hooks' states, when the run had hooks with state)."""
    files, data, states = read_checkpoint(strip_suffix(prefix))
    saved_with = states.get("optimizer", type(optimizer).__name__)
    if saved_with != type(optimizer).__name__:
        raise CheckpointError(f"{files['.pdopt']} holds the state of Optimizer.name={saved_with}, but this run uses "
                              f"{type(optimizer).__name__}; resume with -o Optimizer.name={saved_with}")
    _load_weights(files, data, states, model, ema)
    to_unique = {key: unique for unique, key in _param_names(model).items()}
    optimizer_state = _load(files, data, ".pdopt")
    try:
        optimizer.set_state_dict(_rename_optimizer_state(optimizer_state, to_unique))
    except (AssertionError, KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{files['.pdopt']} does not fit Optimizer.name={type(optimizer).__name__} "
                              f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'mismatch'}); "
                              f"resume with the optimizer the run was trained with") from None
    kept = {k: v for k, v in states.items() if k in STATE_KEYS}
    if isinstance(states.get("hooks"), dict):  # the hooks' own states (ppnorm.engine.hook_api), saved with the rest
        kept["hooks"] = states["hooks"]
    return kept

