"""Export a trained model for inference: fold BatchNorm into convs, ``paddle.jit.save``, verify, describe.

The export directory holds ``inference.json`` (or ``.pdmodel``) + ``inference.pdiparams`` and an
``inference.yml`` with what a deployment needs besides the graph: the input shape and layout, the
eval transforms, and the class names. It is written to a temporary directory and renamed only after
the exported model, run by ``paddle.inference`` on a batch of real eval data, has reproduced the
unfolded eval-mode model's logits within ``Export.tolerance``.
"""
import copy
import os
import shutil
import tempfile

import numpy as np
import paddle
import yaml
from paddle.static import InputSpec

from ..data import build_dataloader
from ..engine.builder import input_layout, model_from_config
from ..nn.fuse import fuse_conv_bn
from .predictor import INFERENCE_CONFIG, MODEL_PREFIX, Predictor


CHECK_IMAGES = 64  # eval images the exported model must reproduce (enough to catch a wrong fold, cheap at 224x224)


class ExportError(RuntimeError):
    """The exported model does not reproduce the trained one (the message gives the difference)."""


def _replace_dir(source, target):
    """Move the finished ``source`` directory to ``target``, replacing an older export."""
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=os.path.basename(target) + ".old-", dir=os.path.dirname(target))
        os.replace(target, os.path.join(old, "previous"))
    os.replace(source, target)
    if old:
        shutil.rmtree(old)


def save_for_inference(model, example_input, directory, fuse_bn=True):
    """``paddle.jit.save`` a copy of ``model`` (eval mode, batch norms folded when ``fuse_bn``) as
    ``directory/inference.*`` with a dynamic batch dimension; returns the folded ``(conv, norm)`` names."""
    deployed = copy.deepcopy(model)
    deployed.eval()
    pairs = fuse_conv_bn(deployed, example_input) if fuse_bn else []
    spec = InputSpec([None] + [int(d) for d in example_input.shape[1:]], "float32", name="x")
    paddle.jit.save(deployed, os.path.join(directory, MODEL_PREFIX), input_spec=[spec])
    return pairs


def export_model(config, log=print):
    """Export ``config``'s model (weights from ``Global.pretrained_model``); returns a summary dict."""
    export = config["Export"]
    save_dir = os.path.abspath(export["save_dir"] or os.path.join(config["Global"]["output_dir"], "inference"))
    layout = input_layout(config)
    check_section = dict(config["DataLoader"]["Eval"], batch_size=CHECK_IMAGES)  # read only what is checked
    loader, _, data = build_dataloader(check_section, config["Global"]["seed"], where="DataLoader.Eval",
                                       layout=layout)
    images = next(iter(loader))[0]
    model = model_from_config(config, data.dataset, "DataLoader.Eval.dataset")
    model.eval()
    with paddle.no_grad():
        reference = model(images).numpy()

    sample_shape = [int(d) for d in images.shape[1:]]
    os.makedirs(os.path.dirname(save_dir), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=os.path.basename(save_dir) + ".tmp-", dir=os.path.dirname(save_dir))
    try:
        pairs = save_for_inference(model, images, staging, export["fuse_bn"])
        log(f"[Export] folded {len(pairs)} BatchNorm layer(s) into the preceding conv")
        exported = Predictor(staging, use_onednn=True)(images.numpy())
        max_diff = float(np.abs(exported - reference).max())
        log(f"[Export] paddle.inference (oneDNN) vs the unfolded eval-mode model on {len(reference)} eval images: "
            f"max abs diff {max_diff:.3g} (tolerance {export['tolerance']:g})")
        if not max_diff <= export["tolerance"]:
            raise ExportError(f"the exported model's logits differ from the trained model's by {max_diff:.3g} "
                              f"> Export.tolerance={export['tolerance']:g}; nothing was written to {save_dir}")
        description = {
            "arch": dict(config["Arch"]),
            "weights": config["Global"]["pretrained_model"],
            "data_format": layout,
            "input_shape": sample_shape,
            "channels": sample_shape[0] if layout == "NCHW" else sample_shape[-1],
            "transforms": config["DataLoader"]["Eval"]["transforms"],
            "classes": [str(name) for name in data.dataset.classes],
            "topk": config["Metric"]["topk"],
            "folded_batch_norms": len(pairs),
            "max_abs_diff": max_diff,
        }
        with open(os.path.join(staging, INFERENCE_CONFIG), "w", encoding="utf-8") as handle:
            yaml.safe_dump(description, handle, allow_unicode=True, sort_keys=False)
        _replace_dir(staging, save_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    log(f"[Export] saved to {save_dir}; run it with: python tools/infer.py --model_dir {save_dir} --input <images>")
    return {"save_dir": save_dir, "folded": len(pairs), "max_abs_diff": max_diff}
