"""Checkpoints as ``<prefix>.pdparams / .pdopt / .pdstates``, written atomically.

Each file is saved to ``<file>.tmp`` and renamed over the old one, so a crash never leaves a
half-written file. ``.pdstates`` (epoch, step, best metric) is renamed last: it is what marks a
checkpoint as complete.
"""
import os

import paddle

from ..models.convert import from_paddle_vision

SUFFIXES = (".pdparams", ".pdopt", ".pdstates")


class CheckpointError(ValueError):
    """A checkpoint or pretrained file is missing or does not fit the model (the message says what to do)."""


def strip_suffix(path):
    for suffix in SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _atomic_save(obj, path):
    tmp = path + ".tmp"
    paddle.save(obj, tmp)
    os.replace(tmp, path)


def _rename_optimizer_state(state, names):
    """Rename accumulator keys ``<old param name>_<accumulator>`` using ``names`` (old -> new)."""
    by_length = sorted(names, key=len, reverse=True)
    renamed = {}
    for key, value in state.items():
        old = next((n for n in by_length if key.startswith(n + "_")), None)
        renamed[names[old] + key[len(old):] if old else key] = value
    return renamed


def _param_names(model):
    """Paddle's unique parameter names (conv2d_42.w_0) -> structured names (layer1.0.conv1.weight)."""
    return {param.name: key for key, param in model.named_parameters()}


def save_checkpoint(prefix, model, optimizer, states):
    """Write model, optimizer and training states under ``prefix``.

    Optimizer accumulators are stored under structured parameter names, because Paddle's unique
    names (``conv2d_42.w_0``) differ between processes that build layers in another order.
    """
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    _atomic_save(model.state_dict(), prefix + ".pdparams")
    _atomic_save(_rename_optimizer_state(optimizer.state_dict(), _param_names(model)), prefix + ".pdopt")
    _atomic_save(dict(states), prefix + ".pdstates")


def load_checkpoint(prefix, model, optimizer):
    """Restore model and optimizer from ``prefix``; returns the saved training states."""
    prefix = strip_suffix(prefix)
    for suffix in SUFFIXES:
        if not os.path.isfile(prefix + suffix):
            raise CheckpointError(f"Global.checkpoints: {prefix + suffix} not found (a checkpoint is the three files "
                                  f"{prefix}{{{','.join(SUFFIXES)}}}, e.g. output/<run>/latest)")
    _load_strict(model, paddle.load(prefix + ".pdparams"), prefix + ".pdparams", skip=())
    to_unique = {key: unique for unique, key in _param_names(model).items()}
    optimizer.set_state_dict(_rename_optimizer_state(paddle.load(prefix + ".pdopt"), to_unique))
    return paddle.load(prefix + ".pdstates")


def load_pretrained(path, model, skip=()):
    """Load weights from ``path`` (prefix or .pdparams); ``skip`` lists parameter-name prefixes to leave out.

    ``paddle.vision.models`` state_dicts are converted to ppnorm names. A missing parameter or a
    shape mismatch is an error unless its name starts with one of ``skip``.
    """
    file = strip_suffix(path) + ".pdparams"
    if not os.path.isfile(file):
        raise CheckpointError(f"Global.pretrained_model: {file} not found")
    state = from_paddle_vision(paddle.load(file))
    _load_strict(model, state, file, skip)


def _skipped(name, skip):
    return any(name == s or name.startswith(s + ".") for s in skip)


def _load_strict(model, state, file, skip):
    own = model.state_dict()
    missing = [k for k in own if k not in state and not _skipped(k, skip)]
    if missing:
        raise CheckpointError(f"{file} has no weights for {len(missing)} parameters of the model, e.g. "
                              f"{', '.join(missing[:3])}; it was saved from another architecture, or add their "
                              f"layer names to Global.pretrained_skip")
    for key, value in own.items():
        if key in state and not _skipped(key, skip) and list(state[key].shape) != list(value.shape):
            layer = key.rsplit(".", 1)[0]
            raise CheckpointError(f"{file}: {key} has shape {list(state[key].shape)} but the model has "
                                  f"{list(value.shape)}; to train this layer from scratch set "
                                  f"Global.pretrained_skip=[{layer}]")
    model.set_state_dict({k: own[k] if _skipped(k, skip) or k not in state else state[k] for k in own})
