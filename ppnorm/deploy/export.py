"""Export a trained model for inference: fold BatchNorm into convs, ``paddle.jit.save``, verify, describe.

The export directory holds ``inference.json`` (or ``.pdmodel``) + ``inference.pdiparams`` and an
``inference.yml`` with what a deployment needs besides the graph: the input shape and layout, the
eval transforms, and the class names; with ``Export.format: onnx`` also a ``model.onnx`` converted
from those files. :func:`export_model` runs four steps: :func:`reference` (the unfolded eval-mode
model's logits on a batch of real eval data), :func:`stage` (fold and save into a temporary
directory), :func:`verify` (``paddle.inference``, and onnxruntime for ``model.onnx``, must reproduce
those logits within ``Export.tolerance``) and :func:`describe` (the ``inference.yml``). Only then is
the temporary directory renamed to ``Export.save_dir``, which may replace nothing but a previous export.
"""
from __future__ import annotations

import copy
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import paddle
import yaml
from paddle.static import InputSpec

from ..cli import tool_command
from ..data import build_dataloader, input_kind
from ..engine.builder import input_layout, model_from_config
from ..engine.classes import align_eval_data, check_outside_image_folders
from ..engine.cli import print_summary
from ..nn.fuse import fuse_conv_bn
from ..quiet import without_fd2_lines
from ..engine.config.unique_yaml import safe_load_unique
from .layout import for_inference
from .onnx import ONNX_FILE, OnnxPredictor, convert, require_extra
from .predictor import INFERENCE_CONFIG, MODEL_PREFIX, Predictor, model_files

CHECK_IMAGES = 64  # eval images the exported model must reproduce (enough to catch a wrong fold, cheap at 224x224)
EXPORT_FILES = {INFERENCE_CONFIG, MODEL_PREFIX + ".json", MODEL_PREFIX + ".pdmodel", MODEL_PREFIX + ".pdiparams",
                ONNX_FILE}


EXPORT_MARK = "# written by ppnorm export: a directory whose inference.yml starts with this line may be replaced"


def written_by_export(path: str) -> bool:
    """True when ``path`` (an inference.yml) is ppnorm's: its first line is :data:`EXPORT_MARK`, or it is an older
    ppnorm export's description (a mapping with the keys only ppnorm writes)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    if text.startswith(EXPORT_MARK):
        return True
    try:
        data = safe_load_unique(text)
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and {"folded_batch_norms", "max_abs_diff", "input_shape"} <= set(data)


class ExportError(ValueError):
    """Export cannot write where it was asked to, or the exported model does not reproduce the trained one."""


def save_for_inference(model: paddle.nn.Layer, example_input: paddle.Tensor, directory: str,
                       fuse_bn: bool = True) -> List[Tuple[str, str]]:
    """``paddle.jit.save`` a copy of ``model`` (eval mode, batch norms folded when ``fuse_bn``) as
    ``directory/inference.*`` with a dynamic batch dimension (and length, for sequences); returns the folded
    ``(conv, norm)`` names."""
    deployed = copy.deepcopy(model)
    deployed.eval()
    pairs = fuse_conv_bn(deployed, example_input) if fuse_bn else []
    dims = [None] + [int(d) for d in example_input.shape[1:]]
    if len(dims) == 3:  # sequences [N, C, L]: any length
        dims[-1] = None
    spec = InputSpec(dims, "float32", name="x")
    with without_fd2_lines():  # Paddle's "W... static graph(PIR) not support input out tensor" (ppnorm/quiet.py)
        paddle.jit.save(deployed, os.path.join(directory, MODEL_PREFIX), input_spec=[spec])
    return pairs


def check_target(save_dir: str) -> None:
    """Refuse a ``save_dir`` whose replacement would lose anything: a file, or a directory no export wrote."""
    where = f"Export.save_dir={save_dir}"
    if os.path.isfile(save_dir) or (os.path.exists(save_dir) and not os.path.isdir(save_dir)):
        raise ExportError(f"{where} is an existing file; give a new directory (or a previous export's) instead")
    if not os.path.isdir(save_dir):
        return
    names = set(os.listdir(save_dir))
    if names and INFERENCE_CONFIG not in names:
        raise ExportError(f"{where} is an existing directory that no export wrote (it has no {INFERENCE_CONFIG}); "
                          f"nothing was changed: give a new directory, e.g. {os.path.join(save_dir, 'inference')}")
    if names and not written_by_export(os.path.join(save_dir, INFERENCE_CONFIG)):
        raise ExportError(f"{where} holds an {INFERENCE_CONFIG} that ppnorm's export did not write (another tool's "
                          f"model?); nothing was changed: give a new directory")
    foreign = sorted(names - EXPORT_FILES)
    if names and foreign:
        raise ExportError(f"{where} holds files an export does not write (e.g. {foreign[0]}); nothing was changed: "
                          f"move them away or give a new directory")


def reference(config: dict, layout: str) -> Tuple[paddle.nn.Layer, paddle.Tensor, np.ndarray, Any]:
    """The model (weights from ``Global.pretrained_model``), a batch of eval images, their eval-mode logits
    and the eval data set."""
    check_section = dict(config["DataLoader"]["Eval"], batch_size=CHECK_IMAGES)  # read only what is checked
    loader, _, data = build_dataloader(check_section, config["Global"]["seed"], where="DataLoader.Eval",
                                       layout=layout)
    print_summary(data.dataset, "eval")
    align_eval_data(config, data.dataset)  # labels and inference.yml classes: the trained ones
    images = next(iter(loader))[0]
    model = model_from_config(config, data.dataset, "DataLoader.Eval.dataset")
    model.eval()
    with paddle.no_grad():
        logits = model(images).numpy()
    return model, images, logits, data


def stage(save_dir: str, needed_bytes: int = 0) -> str:
    """A new temporary directory beside ``save_dir`` (same file system, so the final rename is atomic), on a
    disk with room for ``needed_bytes`` (paddle.jit.save can leave a truncated file on a full disk without a word)."""
    parent = os.path.dirname(save_dir)
    try:
        os.makedirs(parent, exist_ok=True)
        free = shutil.disk_usage(parent).free
        if free < needed_bytes:
            raise ExportError(f"Export.save_dir={save_dir}: {parent} has {free / 2**20:.1f} MiB free, the exported "
                              f"model needs about {needed_bytes / 2**20:.1f} MiB; free space or choose another "
                              f"Export.save_dir")
        return tempfile.mkdtemp(prefix=os.path.basename(save_dir) + ".tmp-", dir=parent)
    except OSError as error:
        raise ExportError(f"Export.save_dir={save_dir}: cannot create a directory in {parent} "
                          f"({error.strerror or error}); choose a writable directory") from None


def weight_bytes(model: paddle.nn.Layer) -> int:
    """Bytes of the model's parameters and buffers: about what ``inference.pdiparams`` takes (folding only shrinks it)."""
    return sum(int(np.prod(value.shape)) * value.element_size() for value in model.state_dict().values())


def verify(predictor: Callable[[np.ndarray], np.ndarray], label: str, images: paddle.Tensor, logits: np.ndarray,
           tolerance: float, save_dir: str, log: Callable[[str], Any] = print) -> float:
    """Run ``predictor`` (a staged model) on ``images``; its max abs difference from ``logits``."""
    exported = predictor(images.numpy())
    max_diff = float(np.abs(exported - logits).max())
    log(f"[Export] {label} vs the unfolded eval-mode model on {len(logits)} eval images: "
        f"max abs diff {max_diff:.3g} (tolerance {tolerance:g})")
    if not max_diff <= tolerance:
        raise ExportError(f"the exported model's logits ({label}) differ from the trained model's by "
                          f"{max_diff:.3g} > Export.tolerance={tolerance:g}; nothing was written to {save_dir}")
    return max_diff


def describe(config: dict, layout: str, sample_shape: List[int], classes: List[Any], folded: int,
             diffs: Dict[str, float], input_kind: str = "image") -> dict:
    """The ``inference.yml`` mapping: what a deployment needs besides the graph. ``diffs``: the max abs
    logit difference of each checked model (``paddle``, and ``onnx`` when ``model.onnx`` was written)."""
    description = {
        "arch": dict(config["Arch"]),
        "weights": config["Global"]["pretrained_model"],
        "format": config["Export"].get("format", "paddle"),
        "data_format": layout,
        "input_kind": input_kind,
        "input_shape": sample_shape,
        "channels": sample_shape[0] if layout == "NCHW" else sample_shape[-1],
        "transforms": config["DataLoader"]["Eval"]["transforms"],
        "classes": [str(name) for name in classes],
        "topk": config["Metric"]["topk"],
        "folded_batch_norms": folded,
        "max_abs_diff": diffs["paddle"],
    }
    if "onnx" in diffs:
        description["onnx_max_abs_diff"] = diffs["onnx"]
    return description


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(staging: str, save_dir: str) -> None:
    """Give ``staging`` the usual permissions and rename it to ``save_dir``, replacing a previous export."""
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it 0700
    old = None
    if os.path.exists(save_dir):
        check_target(save_dir)  # still a previous export (nothing else appeared meanwhile)
        old = tempfile.mkdtemp(prefix=os.path.basename(save_dir) + ".old-", dir=os.path.dirname(save_dir))
        os.replace(save_dir, os.path.join(old, "previous"))
    os.replace(staging, save_dir)
    if old:
        shutil.rmtree(old)


def check_staged(staging: str, images: paddle.Tensor, logits: np.ndarray, export: dict, save_dir: str,
                 log: Callable[[str], Any] = print) -> Dict[str, float]:
    """Verify the staged Paddle model, and with ``Export.format: onnx`` convert it to ``model.onnx`` and
    verify that too; returns ``{"paddle": max abs diff[, "onnx": max abs diff]}``."""
    tolerance = export["tolerance"]
    diffs = {"paddle": verify(Predictor(staging, use_onednn=True), "paddle.inference (oneDNN)", images, logits,
                              tolerance, save_dir, log)}
    if export.get("format", "paddle") == "onnx":
        opset = convert(*model_files(staging), os.path.join(staging, ONNX_FILE))
        diffs["onnx"] = verify(OnnxPredictor(staging), f"onnxruntime ({ONNX_FILE}, opset {opset})", images, logits,
                               tolerance, save_dir, log)
    return diffs


def export_model(config: dict, log: Callable[[str], Any] = print) -> dict:
    """Export ``config``'s model (weights from ``Global.pretrained_model``); returns a summary dict."""
    export = config["Export"]
    shown = export["save_dir"] or os.path.join(config["Global"]["output_dir"], "inference")  # as the user gave it
    save_dir = os.path.abspath(shown)
    check_target(save_dir)
    check_outside_image_folders(save_dir, "Export.save_dir", config)
    if export.get("format", "paddle") == "onnx":
        require_extra("Export.format=onnx (--format onnx)")  # before reading data and building the model
    layout = input_layout(config)
    model, images, logits, data = reference(config, layout)
    staging = stage(save_dir, needed_bytes=2 * weight_bytes(model) + 2**20)  # weights, graph, ONNX copy
    try:
        deployed = for_inference(config, model, layout, data.dataset)  # NHWC: a graph oneDNN runs right
        pairs = save_for_inference(deployed, images, staging, export["fuse_bn"])
        log(f"[Export] folded {len(pairs)} BatchNorm layer(s) into the preceding conv")
        diffs = check_staged(staging, images, logits, export, save_dir, log)
        description = describe(config, layout, [int(d) for d in images.shape[1:]], data.dataset.classes,
                               len(pairs), diffs, input_kind(model))
        with open(os.path.join(staging, INFERENCE_CONFIG), "w", encoding="utf-8") as handle:
            handle.write(EXPORT_MARK + "\n")
            yaml.safe_dump(description, handle, allow_unicode=True, sort_keys=False)
        publish(staging, save_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    backend = " --backend onnxruntime" if "onnx" in diffs else ""
    log(f"[Export] saved to {shown}; run it with: {tool_command('infer')} --model_dir {shown}{backend} "
        f"--input <{'images' if input_kind(model) == 'image' else 'sequences.npy'}>")
    return {"save_dir": save_dir, "folded": len(pairs), "max_abs_diff": diffs["paddle"],
            "onnx_max_abs_diff": diffs.get("onnx")}
