"""Reading a committed checkpoint whole, also while another process commits saves into the same prefix (see
:mod:`.checkpoint`): a reader gets the previous or the new complete checkpoint, never a mix of two."""
import hashlib
import os
import time

from ..weights import CheckpointError, load_bytes, read_bytes
from .checkpoint_format import COMMIT, STATE_KEYS, SUFFIXES, TMP, TRAIN, WHAT, commit_record, sha256

READ_ATTEMPTS = 30  # reads of a checkpoint that another process keeps committing saves into, then a one-line error


def _sha256_if_there(path):
    """``sha256(path)``, None when there is no such file (a writer may rename it away at any instant)."""
    try:
        return sha256(path)
    except OSError:
        return None


def _checkpoint_files(prefix):
    """The files to read: the committed temporary ones while a commit record is pending, else the final ones."""
    record = commit_record(prefix)
    files = {}
    for suffix in SUFFIXES + (TRAIN,):  # .pdtrain is checked when .pdstates names it
        tmp = prefix + suffix + TMP
        pending = record and record.get(suffix) is not None and _sha256_if_there(tmp) == record[suffix]
        files[suffix] = tmp if pending else prefix + suffix
        if suffix != TRAIN and not os.path.isfile(files[suffix]):
            raise CheckpointError(f"Global.checkpoints: {prefix + suffix} not found (a checkpoint is the three files "
                                  f"{prefix}{{{','.join(SUFFIXES)}}}, e.g. output/<run>/latest)")
    return files


def _check_states(states, files, data):
    if isinstance(states, dict) and set(states) <= {"epoch", "metric"} and "epoch" in states:  # PaddleClas's metric_info
        raise CheckpointError(f"{files['.pdstates']} is a PaddleClas checkpoint; ppnorm resumes only its own (the "
                              f"optimizer state is keyed by PaddleClas's parameter names): start from its weights "
                              f"with -o Global.pretrained_model={files['.pdparams'][:-len('.pdparams')]}")
    if not isinstance(states, dict) or any(not isinstance(states.get(k), t) or isinstance(states.get(k), bool)
                                           for k, t in STATE_KEYS.items()):
        raise CheckpointError(f"{files['.pdstates']} does not hold ppnorm training states ({', '.join(STATE_KEYS)}); "
                              f"it is damaged or not a ppnorm checkpoint")
    for suffix, digest in (states.get("files") or {}).items():
        if suffix not in data:
            raise CheckpointError(f"{files[suffix]} not found: {files['.pdstates']} was saved with it (the raw "
                                  f"training weights of an EMA run); copy the whole checkpoint")
        if hashlib.sha256(data[suffix]).hexdigest() != digest:
            raise CheckpointError(f"{files[suffix]} does not belong to {files['.pdstates']} (it changed after "
                                  f"saving: truncated, damaged or copied from another checkpoint); use a complete "
                                  f"checkpoint written by one run")


def _read_once(prefix):
    """``(files, bytes by suffix, training states)`` of the checkpoint at ``prefix``, checked to be one save.

    Each file is read whole once; the hashes are checked on those bytes and the loads use them, so
    a file replaced after the check is never mixed in.
    """
    files = _checkpoint_files(prefix)
    data = {suffix: read_bytes(files[suffix], WHAT[suffix]) for suffix in SUFFIXES}
    if os.path.isfile(files[TRAIN]):
        data[TRAIN] = read_bytes(files[TRAIN], WHAT[TRAIN])
    states = load_bytes(data[".pdstates"], files[".pdstates"], WHAT[".pdstates"])
    _check_states(states, files, data)
    return files, data, states


def _files_state(prefix):
    """(inode, size, mtime) of every file a save creates, renames or removes at ``prefix`` (None: absent)."""
    names = [prefix + suffix + tmp for suffix in SUFFIXES + (TRAIN,) for tmp in ("", TMP)]
    state = []
    for name in names + [prefix + COMMIT, prefix + COMMIT + TMP]:
        try:
            info = os.stat(name)
            state.append((info.st_ino, info.st_size, info.st_mtime_ns))
        except OSError:
            state.append(None)
    return state


def read_checkpoint(prefix):
    """:func:`_read_once`, again while another process is committing a save into ``prefix``.

    A read that fails while the files changed under it (a writer renamed its temporary files away,
    or replaced a file after the states were read) is retried: the reader gets the previous or the
    new complete checkpoint. A failure while nothing changed is the checkpoint's own, and raised.
    """
    for attempt in range(READ_ATTEMPTS):
        before = _files_state(prefix)
        try:
            return _read_once(prefix)
        except CheckpointError:
            if _files_state(prefix) == before:
                raise
        time.sleep(min(0.01 * (attempt + 1), 0.1))  # let the writer finish its commit
    raise CheckpointError(f"Global.checkpoints: {prefix} changed while it was read, {READ_ATTEMPTS} times: another "
                          f"process keeps saving into it; resume when that process has stopped")
