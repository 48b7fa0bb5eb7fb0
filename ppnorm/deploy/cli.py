"""Command-line entry points behind tools/export.py and tools/infer.py."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

import numpy as np

from ..cli import (add_config_options, add_runtime_options, omp_threads, parse, positive_int, reader_may_leave,
                   resolve_device, run_tool)
from ..data import DataError, align_to_classes, build_dataloader
from ..engine.builder import input_layout
from ..engine.cli import config_from_args, config_parser, print_summary
from ..engine.config import ConfigError, import_custom, load_config
from ..engine.config.imports import resolve_files
from ..engine.threads import resolve_cpu_threads, use_cpu_threads
from .export import ExportError, export_model
from .inputs import Preprocess, expand_paths, pad_to_longest, read_images, read_sequences
from .onnx import OnnxPredictor
from .predictor import PRECISIONS, Predictor, PredictorError, load_inference_config

BACKENDS = ("paddle", "onnxruntime")

DEPLOY_ERRORS = (ExportError, PredictorError)


@reader_may_leave
def export_main(argv: Optional[List[str]] = None, omp_num_threads: Optional[str] = None) -> int:
    parser = config_parser("Export a trained model (Global.pretrained_model) for paddle.inference, with "
                           "BatchNorm folded into the convs.", "where the inference model goes (Export.save_dir)")
    parser.add_argument("--format", choices=("paddle", "onnx"), default=None,
                        help="onnx: also write model.onnx with paddle2onnx, checked with onnxruntime "
                             "(Export.format; needs pip install -e \".[onnx]\")")
    args = parse(parser, argv)
    if args.format:
        args.override.append(f"Export.format={args.format}")

    def run():
        config = config_from_args(args, omp_num_threads, output_key="Export.save_dir")
        if not config["Global"]["pretrained_model"]:
            raise ConfigError("export needs weights: add -o Global.pretrained_model=output/<run>/best_model")
        print(use_cpu_threads(config["Global"]["cpu_threads"])[1])
        export_model(config)
        return 0

    return run_tool("export", run, args.verbose, DEPLOY_ERRORS)


def _infer_args(argv):
    parser = argparse.ArgumentParser(description="Run an exported model with paddle.inference.")
    parser.add_argument("--model_dir", required=True, type=os.path.expanduser,
                        help="directory written by tools/export.py")
    parser.add_argument("--input", nargs="+", default=[], type=os.path.expanduser,
                        help="image files, folders of images, or .npy arrays ([C,H,W] or [N,C,H,W], pixels in "
                             "[0, 1] or [0, 255])")
    add_config_options(parser, required=False)
    parser.add_argument("--batch_size", type=positive_int, default=8)
    parser.add_argument("--topk", type=positive_int, default=None, help="classes to print per image (default: "
                                                                        "the exported Metric.topk maximum)")
    parser.add_argument("--backend", choices=BACKENDS, default="paddle",
                        help="paddle: paddle.inference on the Paddle files; onnxruntime: model.onnx "
                             "(tools/export.py --format onnx; needs pip install -e \".[onnx]\")")
    parser.add_argument("--no_onednn", action="store_true", help="CPU: Paddle's plain kernels instead of oneDNN")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="bf16: oneDNN bfloat16 kernels on CPUs with AVX512-BF16/AMX; fp16: GPU only")
    parser.add_argument("--show", type=int, default=10, help="with -c: print the predictions of this many images")
    parser.add_argument("--custom_imports", nargs="+", default=None, metavar="MODULE_OR_FILE",
                        help="import these modules / .py files first, e.g. the one that registers a transform the "
                             "model's inference.yml names (infer never imports code a model directory names)")
    add_runtime_options(parser)
    args = parse(parser, argv)
    if args.backend == "onnxruntime" and (args.device == "gpu" or args.precision != "fp32" or args.no_onednn):
        parser.error("--backend onnxruntime runs fp32 on the CPU here: drop --device gpu, --precision and "
                     "--no_onednn (they are paddle.inference options)")
    args.device = "cpu" if args.backend == "onnxruntime" else resolve_device(args.device or "auto")
    if bool(args.input) == bool(args.config):
        parser.error("give either --input FILES... or -c CONFIG (the config's DataLoader.Eval split is "
                     "predicted and scored)")
    return args


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _describe(probabilities, classes, topk):
    order = np.argsort(-probabilities)[:topk]
    return ", ".join(f"{classes[i] if i < len(classes) else i} ({probabilities[i]:.3f})" for i in order)


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _topk(requested, description):
    """``--topk`` (default: the exported ``Metric.topk`` maximum), at most the number of classes."""
    classes = len(description["classes"])
    if requested is None:
        return min(max(description["topk"]), classes or 1)
    if classes and requested > classes:
        raise DataError(f"--topk {requested} is more than the model's {classes} classes; use --topk 1 to {classes}")
    return requested


def _takes_images(description):
    """True unless ``inference.yml`` says the model reads another kind of input (sequences)."""
    return description.get("input_kind", "image") == "image"


def _read_inputs(paths, description):
    """``[(name, sample), ...]`` from ``--input``; non-finite pixels are warned about per image."""
    warn = lambda text: print(text, file=sys.stderr)  # noqa: E731
    channels = description["channels"]
    if _takes_images(description):
        items = [item for path in expand_paths(paths, print) for item in read_images(path, channels, warn)]
    else:
        items = [item for path in expand_paths(paths, print) for item in read_sequences(path, channels)]
    if not items:
        raise DataError(f"--input {' '.join(paths)}: nothing to predict")
    return items


def _stack(samples, preprocess):
    """One input batch: images through ``preprocess``; sequences (``preprocess`` None) padded to the longest,
    mask 0 there."""
    if preprocess is not None:
        return np.stack([preprocess(image) for image in samples])
    return pad_to_longest(samples)


@reader_may_leave
def infer_main(argv: Optional[List[str]] = None, omp_num_threads: Optional[str] = None) -> int:
    args = _infer_args(argv)

    def run():
        if args.custom_imports:
            imports = {"Global": {"custom_imports": list(args.custom_imports)}}
            resolve_files(imports, os.getcwd(), "infer", "--custom_imports")  # as a config's, from the cwd
            import_custom(imports, "infer", "--custom_imports")
        description = load_inference_config(args.model_dir)
        topk = _topk(args.topk, description)
        threads, _ = resolve_cpu_threads(args.cpu_threads, omp_threads(omp_num_threads))
        predictor, backend = _predictor(args, threads)
        print(f"[Infer] {args.model_dir} ({backend}, {args.precision}, {threads} thread(s)), input "
              f"{description['input_shape']} {_layout_name(description)}")
        if args.config:
            return _infer_eval_split(args, predictor, description["classes"], topk)
        return _infer_files(args, predictor, description, topk)

    return run_tool("infer", run, args.verbose, DEPLOY_ERRORS)


def _layout_name(description):
    if _takes_images(description):
        return description["data_format"]
    return "NCL (any length L; the last channel is the padding mask)"


def _predictor(args, threads):
    """The predictor ``--backend`` asks for and how the ``[Infer]`` line names it."""
    if args.backend == "onnxruntime":
        return OnnxPredictor(args.model_dir, threads), "onnxruntime, CPU"
    predictor = Predictor(args.model_dir, args.device, not args.no_onednn, threads, precision=args.precision)
    return predictor, "GPU" if args.device == "gpu" else ("CPU, oneDNN" if not args.no_onednn else "CPU")


def _preprocess(args, description):
    """The exported eval transforms; a name no module registered is one line that says how to import it."""
    try:
        return Preprocess(description)
    except ValueError as error:
        if not str(error).startswith("unknown transform"):
            raise
        raise PredictorError(f"{os.path.join(args.model_dir, 'inference.yml')} transforms: {error}. If your own "
                             f"module registers it (the training config's Global.custom_imports), pass "
                             f"--custom_imports <module or file.py>") from None


def _infer_files(args, predictor, description, topk):
    """Predict every ``--input`` image and print its top-k classes."""
    preprocess = _preprocess(args, description) if _takes_images(description) else None
    items = _read_inputs(args.input, description)
    start = time.perf_counter()
    for chunk in _batches(items, args.batch_size):
        batch = _stack([sample for _, sample in chunk], preprocess)
        for (name, _), probabilities in zip(chunk, _softmax(predictor(batch))):
            print(f"{name}: {_describe(probabilities, description['classes'], topk)}")
    seconds = time.perf_counter() - start
    print(f"[Infer] {len(items)} sample(s) in {seconds:.2f}s ({len(items) / seconds:.1f} samples/s)")
    return 0


def _infer_eval_split(args, predictor, classes, topk):
    config = load_config(args.config, args.override)
    section = dict(config["DataLoader"]["Eval"], batch_size=args.batch_size)
    loader, _, data = build_dataloader(section, config["Global"]["seed"], where="DataLoader.Eval",
                                       layout=input_layout(config))
    print_summary(data.dataset, "eval")
    align_to_classes(data.dataset, classes, len(classes) or None, "DataLoader.Eval.dataset",
                     f"the exported model ({args.model_dir}/inference.yml)",
                     "predict folders of the exported classes (or some of them)")
    correct = shown = 0
    start = time.perf_counter()
    for images, labels, index in loader:
        probabilities = _softmax(predictor(images.numpy()))
        labels = labels.numpy()
        correct += int((probabilities.argmax(axis=1) == labels).sum())
        for i in range(min(len(labels), args.show - shown)):
            print(f"eval #{int(index[i])} (label {classes[labels[i]]}): {_describe(probabilities[i], classes, topk)}")
            shown += 1
    seconds = time.perf_counter() - start
    total = len(data)
    print(f"[Infer] top1 {correct / total:.4f} on {total} eval samples in {seconds:.2f}s "
          f"({total / seconds:.1f} images/s)")
    return 0
