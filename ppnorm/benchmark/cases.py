"""The things tools/benchmark.py times: a train step and eval in dygraph, and exported inference."""
import os
import tempfile

import numpy as np
import paddle

from ..deploy.export import save_for_inference
from ..deploy.onnx import ONNX_FILE, OnnxPredictor, convert
from ..deploy.predictor import Predictor, model_files
from ..engine.loop import TrainLoop
from ..models import build_model

MODES = ("train", "eval", "infer")
ONNXRUNTIME = "onnxruntime"  # in place of a precision: the exported model converted to ONNX, run by onnxruntime


def reference_model(name, num_classes):
    """``paddle.vision.models.<name>`` when it exists (the side-by-side reference), else None."""
    constructor = getattr(paddle.vision.models, name, None)
    return constructor(num_classes=num_classes) if constructor is not None else None


GN_GROUPS = 32  # GroupNorm's groups when --norms gives none (gn:G sets them)


def split_norm(norm):
    """``"gn:8"`` -> ``("gn", 8)``; ``"bn"`` -> ``("bn", None)`` (the forms ``--norms`` takes)."""
    kind, _, groups = norm.partition(":")
    return kind, int(groups) if groups else None


def ppnorm_model(name, norm, num_classes, default_groups=GN_GROUPS):
    kind, groups = split_norm(norm)
    options = {"groups": groups or default_groups} if kind == "gn" else None
    return build_model(name, num_classes=num_classes, norm=kind, norm_options=options)


def check_norms_fit(models, norms, num_classes=10):
    """Build each ppnorm model with each GroupNorm of ``norms`` once, before any timing: groups that do not divide a
    layer's channels are one line naming the flag value and the model."""
    for name in models:
        for norm in norms:
            if split_norm(norm)[0] != "gn":
                continue
            try:
                ppnorm_model(name, norm, num_classes)
            except ValueError as error:
                raise ValueError(f"--norms {norm} does not fit --models {name}: {error}") from None


def train_step(model, images, labels):
    """One SGD-with-momentum step of the engine's loop (forward, backward, update) on a fixed batch."""
    model.train()
    optimizer = paddle.optimizer.Momentum(learning_rate=1e-3, momentum=0.9, parameters=model.parameters())
    loop = TrainLoop(model, optimizer, scheduler=None)
    return lambda: loop.run_step((images, labels))


def eval_forward(model, images):
    """Eval-mode forward pass without autograd, synchronised by fetching the result."""
    model.eval()

    def run():
        with paddle.no_grad():
            model(images).numpy()

    return run


def _relative_diff(predictor, model, images):
    """Largest logit difference of ``predictor`` from the dygraph eval model, relative to the largest logit."""
    with paddle.no_grad():
        reference = model(images).numpy()
    return float(np.abs(predictor(images.numpy()) - reference).max() / max(1.0, np.abs(reference).max()))


def exported_predictor(model, images, work_dir, threads, precision="fp32"):
    """Fold BatchNorm, ``paddle.jit.save`` to ``work_dir``, and return a oneDNN predictor call (or, for
    ``precision="onnxruntime"``, an onnxruntime session on the paddle2onnx conversion of those files) plus
    its largest logit difference from the dygraph eval model, relative to the largest logit."""
    model.eval()
    save_for_inference(model, images, work_dir)
    if precision == ONNXRUNTIME:
        target = os.path.join(work_dir, ONNX_FILE)
        if os.path.exists(target):  # a previous case's conversion in this scratch directory
            os.remove(target)
        convert(*model_files(work_dir), target)
        predictor = OnnxPredictor(work_dir, cpu_threads=threads)
    else:
        predictor = Predictor(work_dir, use_onednn=True, cpu_threads=threads, precision=precision)
    batch = images.numpy()
    return (lambda: predictor(batch)), _relative_diff(predictor, model, images)


def make_batch(batch_size, image_size, num_classes, seed=0):
    rng = np.random.default_rng(seed)
    images = paddle.to_tensor(rng.standard_normal((batch_size, 3, image_size, image_size), dtype="float32"))
    labels = paddle.to_tensor(rng.integers(0, num_classes, (batch_size,)))
    return images, labels


def temporary_dir():
    return tempfile.TemporaryDirectory(prefix="ppnorm-bench-")


def build_candidate(model_name, implementation, norm, num_classes):
    """``implementation``: ``ppnorm`` (any norm) or ``paddle.vision`` (BN only)."""
    if implementation == "paddle.vision":
        return reference_model(model_name, num_classes)
    return ppnorm_model(model_name, norm, num_classes)


def make_run(model, mode, images, labels, work_dir, threads, precision="fp32"):
    """The callable timed for ``mode``: a train step, a dygraph eval, or the exported predictor."""
    if mode == "train":
        return train_step(model, images, labels)
    if mode == "eval":
        return eval_forward(model, images)
    return exported_predictor(model, images, work_dir, threads, precision)[0]
