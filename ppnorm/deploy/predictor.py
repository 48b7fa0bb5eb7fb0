"""Run an exported model with ``paddle.inference`` (oneDNN on CPU, GPU when asked for)."""
from __future__ import annotations

import os
from typing import Tuple

import numpy as np
import yaml
from paddle import inference

from ..engine.config.unique_yaml import safe_load_unique
from ..errors import first_line

INFERENCE_CONFIG = "inference.yml"
MODEL_PREFIX = "inference"
INPUT_RANKS = {"image": 3, "sequence+mask": 2}  # inference.yml input_kind -> rank of one sample


class PredictorError(ValueError):
    """An exported model directory is missing a file or cannot run (the message names it)."""


def model_files(model_dir: str) -> Tuple[str, str]:
    """``(graph file, params file)`` of an exported model: ``inference.json`` (PIR) or ``inference.pdmodel``."""
    params = os.path.join(model_dir, MODEL_PREFIX + ".pdiparams")
    for suffix in (".json", ".pdmodel"):
        graph = os.path.join(model_dir, MODEL_PREFIX + suffix)
        if os.path.isfile(graph) and os.path.isfile(params):
            return graph, params
    raise PredictorError(f"{model_dir}: no exported model (expected {MODEL_PREFIX}.json or {MODEL_PREFIX}.pdmodel "
                         f"with {MODEL_PREFIX}.pdiparams, as written by tools/export.py)")


def _check_description(description, path):
    """``inference.yml`` must be a mapping with the keys tools/infer.py reads, of the right kinds."""
    if not isinstance(description, dict):
        raise PredictorError(f"{path}: expected a mapping written by tools/export.py, got "
                             f"{type(description).__name__}; export the model again")
    shape, kind = description.get("input_shape"), description.get("input_kind", "image")
    checks = {
        "data_format": description.get("data_format") in ("NCHW", "NHWC"),
        "input_kind": kind in INPUT_RANKS,
        "input_shape": isinstance(shape, list) and len(shape) == INPUT_RANKS.get(kind)
        and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape),
        "channels": isinstance(description.get("channels"), int) and description.get("channels") > 0,
        "transforms": isinstance(description.get("transforms", []), (list, type(None))),
        "classes": isinstance(description.get("classes"), list)
        and all(isinstance(name, (str, int)) for name in description["classes"]),
        "topk": isinstance(description.get("topk"), list) and bool(description.get("topk"))
        and all(isinstance(k, int) and k > 0 for k in description.get("topk")),
    }
    bad = [key for key, ok in checks.items() if not ok]
    if bad:
        raise PredictorError(f"{path}: '{bad[0]}' is missing or invalid ({description.get(bad[0])!r}); "
                             f"the file is damaged or was not written by tools/export.py; export the model again")
    return description


def load_inference_config(model_dir: str) -> dict:
    """The ``inference.yml`` export writes beside the model: input shape, layout, transforms, class names."""
    model_files(model_dir)  # first say so if this is no export directory at all
    path = os.path.join(model_dir, INFERENCE_CONFIG)
    if not os.path.isfile(path):
        raise PredictorError(f"{path} not found (tools/export.py writes it beside the model)")
    try:
        with open(path, encoding="utf-8") as handle:
            description = safe_load_unique(handle)  # bounded: an alias bomb is refused before it expands
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise PredictorError(f"{path} is not valid YAML{line}: the file is damaged; export the model again") from None
    return _check_description(description, path)


PRECISIONS = ("fp32", "bf16", "fp16")


def cpu_supports_bf16() -> bool:
    """True when the CPU has bf16 instructions (AVX512-BF16 or AMX) that oneDNN's bf16 kernels use."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _create(config, graph, params):
    """``inference.create_predictor``; a damaged model or parameter file is a :class:`PredictorError`."""
    try:
        return inference.create_predictor(config)
    except Exception as error:  # Paddle raises RuntimeError / ValueError / its own errors on damaged files
        detail = first_line(error)
        raise PredictorError(f"cannot load the exported model {graph} with {params}: {detail[:160]}; a file is "
                             f"truncated or damaged, export the model again") from None


class Predictor:
    """``Predictor(model_dir)(batch) -> logits``: a ``paddle.inference`` predictor for one exported model.

    On CPU it uses oneDNN (``use_onednn=True``) and ``cpu_threads`` threads; ``precision="bf16"`` runs
    oneDNN's bfloat16 kernels (CPUs with AVX512-BF16 / AMX; logits then differ from fp32 by ~1%).
    ``device="gpu"`` needs a CUDA build of Paddle (``precision="fp16"`` for half precision there).
    """

    def __init__(self, model_dir: str, device: str = "cpu", use_onednn: bool = True, cpu_threads: int = 1,
                 gpu_id: int = 0, precision: str = "fp32") -> None:
        if precision not in PRECISIONS:
            raise PredictorError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
        if precision == "bf16" and (device != "cpu" or not use_onednn or not cpu_supports_bf16()):
            raise PredictorError("precision bf16 needs the CPU with oneDNN and a CPU with avx512_bf16 or amx_bf16 "
                                 "(see /proc/cpuinfo); use fp32")
        if precision == "fp16" and device != "gpu":
            raise PredictorError("precision fp16 is for --device gpu; on CPU use fp32 (or bf16)")
        graph, params = model_files(model_dir)
        config = inference.Config(graph, params)
        if device == "gpu":
            half = inference.PrecisionType.Half if precision == "fp16" else inference.PrecisionType.Float32
            config.enable_use_gpu(256, gpu_id, half)
        else:
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(cpu_threads)
            if use_onednn:
                config.enable_mkldnn()
                config.set_mkldnn_cache_capacity(8)  # bounded cache of per-shape oneDNN primitives
                if precision == "bf16":
                    config.enable_mkldnn_bfloat16()
            else:
                config.disable_mkldnn()
        config.switch_ir_optim(True)
        config.disable_glog_info()
        self.predictor = _create(config, graph, params)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output_name = self.predictor.get_output_names()[0]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(np.ascontiguousarray(batch, dtype="float32"))
        self.predictor.run()
        return self.predictor.get_output_handle(self.output_name).copy_to_cpu()
