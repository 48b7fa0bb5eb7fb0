"""Reading weight files safely: damaged files, wrong architectures and wrong dtypes are one-line errors.

The base layer's one reader of every ``.pdparams`` (pretrained weights, :mod:`ppnorm.models.pretrained`) and
checkpoint file (:mod:`ppnorm.engine.checkpoint`): it imports no ppnorm subpackage, so models and engine both
import it downward.
"""
import io

import numpy as np
import paddle

from . import safe_pickle

SUFFIXES = (".pdparams", ".pdopt", ".pdstates")  # a checkpoint's files: <prefix> + each (see engine.checkpoint)


class CheckpointError(ValueError):
    """A checkpoint or pretrained file is missing or does not fit the model (the message says what to do)."""


def strip_suffix(path):
    """``path`` without one of :data:`SUFFIXES`: the prefix a checkpoint's files share."""
    for suffix in SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def read_file(path, what):
    """``paddle.load`` of ``path``: :func:`read_bytes` then :func:`load_bytes`, the one reader of every weights
    and checkpoint file."""
    return load_bytes(read_bytes(path, what), path, what)


def read_bytes(path, what):
    """The whole of ``path``; a file that cannot be opened or is empty is a :class:`CheckpointError` naming it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise CheckpointError(f"{path} cannot be read as Paddle {what} ({type(error).__name__}: "
                              f"{error.strerror or error}); use another checkpoint") from None
    if not data:
        raise CheckpointError(f"{path} is empty (0 bytes): the {what} file is damaged; use another checkpoint")
    return data


def load_bytes(data, path, what):
    """``paddle.load`` of the bytes ``data`` of the file ``path`` (named in errors).

    The bytes are first unpickled by :func:`safe_pickle.check`: a pickle that asks for anything but
    arrays, numbers, strings and containers (``os.system`` ...) is refused before any of it runs.
    A truncated or foreign file is a :class:`CheckpointError` naming it.
    """
    try:
        safe_pickle.check(data)
        return paddle.load(io.BytesIO(data))  # the checked bytes themselves: nothing can change in between
    except safe_pickle.Refused as refused:
        raise CheckpointError(f"{path}: refused to load: it asks for {refused}, which a Paddle {what} file never "
                              f"needs (they hold only arrays, numbers, strings and containers) and which could run "
                              f"code; nothing of it was run: use a file from a source you trust") from None
    except Exception as error:  # not a complete pickle: pickle, EOF, import, value and type errors
        raise CheckpointError(f"{path} cannot be read as Paddle {what} ({type(error).__name__}); the file is "
                              f"truncated or not a Paddle file; use another checkpoint") from None


def _skipped(name, skip):
    return any(name == s or name.startswith(s + ".") for s in skip)


def _as_array(value, file, key):
    try:
        return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
    except Exception:
        raise CheckpointError(f"{file}: {key} is not a tensor ({type(value).__name__}); the file is not a "
                              f"state_dict of weights") from None


def _fit(value, own, file, key, fix=None):
    """``value`` as an array of ``own``'s shape and dtype (float64 weights are cast to the model's float32);
    ``fix`` replaces the shape error's advice (default: train the layer from scratch with pretrained_skip)."""
    array = _as_array(value, file, key)
    if list(array.shape) != list(own.shape):
        layer = key.rsplit(".", 1)[0]
        fix = fix or f"to train this layer from scratch set Global.pretrained_skip=[{layer}]"
        raise CheckpointError(f"{file}: {key} has shape {list(array.shape)} but the model has {list(own.shape)}; "
                              f"{fix}")
    target = own.numpy().dtype
    if array.dtype != target and not (np.issubdtype(array.dtype, np.floating) and np.issubdtype(target, np.floating)):
        raise CheckpointError(f"{file}: {key} has dtype {array.dtype} but the model needs {target}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise CheckpointError(f"{file}: {key} holds {int((~np.isfinite(array)).sum())} NaN/Inf value(s) of "
                              f"{array.size}; the weights are damaged or were trained into NaN, use another checkpoint")
    return array.astype(target, copy=False)


FIRST_SHORTCUT = "layer1.0.downsample."  # ResNet's first-block projection: there only with first_projection


def _check_first_projection(missing, extra, file):
    """The one difference ``first_projection`` makes is the first block's 1x1 shortcut: name the real fix."""
    if missing and all(k.startswith(FIRST_SHORTCUT) for k in missing) and not extra:
        raise CheckpointError(f"{file} has no weights for the first block's projection shortcut "
                              f"({', '.join(missing[:2])}, ...): it was saved from a ResNet without one "
                              f"(paddle.vision's resnet18/34); set Arch.first_projection: false (in a PaddleClas "
                              f"config Arch.use_first_short_conv: False; build_model(..., first_projection=False))")
    if extra and all(k.startswith(FIRST_SHORTCUT) for k in extra) and not missing:
        raise CheckpointError(f"{file} has weights for a first-block projection shortcut the model lacks "
                              f"({', '.join(extra[:2])}, ...): it was saved from a ResNet with one (PaddleClas's "
                              f"ResNet18/34); set Arch.first_projection: true "
                              f"(build_model(..., first_projection=True))")


def load_strict(model, state, file, skip, reshaped=None, fix=None):
    """Load ``state`` into ``model``: every parameter and buffer must be there with the model's shape.

    Keys of ``state`` that the model lacks (e.g. BatchNorm statistics loaded into a GroupNorm model)
    are an error too, unless skipped: they mean another architecture. Returns ``(loaded, skipped)``:
    the model's tensor names taken from ``state`` and those left as they were by ``skip``. Given a list
    as ``reshaped``, a tensor of another shape is kept as initialized and its name appended there
    (PaddleClas's loading) instead of being an error; ``fix`` is the advice of a shape mismatch
    error (see :func:`_fit`).
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} holds a {type(state).__name__}, not a state_dict of weights")
    own = model.state_dict()
    unmatched = [s for s in skip if not any(_skipped(k, (s,)) for k in list(own) + list(state))]
    if unmatched:  # a misspelt entry would otherwise load that layer's weights without a word
        example = list(own)[-1] if own else "fc.weight"
        raise CheckpointError(f"Global.pretrained_skip: {unmatched[0]!r} names no tensor of the model or of {file}; "
                              f"give layer names or prefixes as in the tensor names, e.g. "
                              f"{example.rsplit('.', 1)[0]!r} for {example}")
    missing = [k for k in own if k not in state and not _skipped(k, skip)]
    extra = [k for k in state if k not in own and not _skipped(k, skip)]
    _check_first_projection(missing, extra, file)
    if missing:
        raise CheckpointError(f"{file} has no weights for {len(missing)} parameters of the model, e.g. "
                              f"{', '.join(missing[:3])}; it was saved from another architecture, or add their "
                              f"layer names to Global.pretrained_skip")
    if extra:
        raise CheckpointError(f"{file} has {len(extra)} weights the model lacks, e.g. {', '.join(extra[:3])}; it was "
                              f"saved from another architecture (e.g. another Arch.norm); use the same Arch")
    skipped = [k for k in own if _skipped(k, skip)]
    if reshaped is not None:
        reshaped += [k for k in own if k not in skipped and hasattr(state[k], "shape")
                     and list(state[k].shape) != list(own[k].shape)]
        skipped += reshaped
    loaded = {k: own[k] if k in skipped else paddle.to_tensor(_fit(state[k], own[k], file, k, fix)) for k in own}
    model.set_state_dict(loaded)
    return [k for k in own if k not in skipped], skipped


def load_line(file, source, loaded, skipped, skip, reshaped=()):
    """The one line every pretrained load prints: what was loaded from where, what was skipped and why."""
    line = f"[Pretrained] loaded {len(loaded)} tensors from {file} ({source})"
    if not skipped:
        return line + "; skipped none"
    by_skip = [k for k in skipped if k not in reshaped]
    if by_skip:
        names = ", ".join(by_skip[:6]) + (f" and {len(by_skip) - 6} more" if len(by_skip) > 6 else "")
        line += f"; skipped {len(by_skip)} by pretrained_skip {list(skip)}, kept as initialized: {names}"
    if reshaped:
        names = ", ".join(reshaped[:6]) + (f" and {len(reshaped) - 6} more" if len(reshaped) > 6 else "")
        line += (f"; skipped {len(reshaped)} of another shape (Global.pretrained_skip_mismatched, as PaddleClas "
                 f"loads), kept as initialized: {names}")
    return line
