"""Convert ``paddle.vision.models`` and PaddleClas state_dicts to ppnorm's layer names.

ResNet already uses paddle.vision's names, so its state_dict passes through unchanged. DenseNet
keys are renamed, e.g. ``db_conv_2.conv2_1.bn_ac_func1._batch_norm.weight`` ->
``block1.layer1.bottleneck.norm.weight`` (PaddleClas's DenseNet saved with layer names is the same
network). Other projects' files are renamed by the converters in ``CONVERTERS`` (PaddleClas's ResNet /
ResNet_vd and parameter-named DenseNet: ``ppnorm/paddleclas/weights.py``), each a module with
``detect(state_dict)`` (its family's name, or None) and ``convert(state_dict)`` (``(renamed, family)``),
imported when first asked. :func:`to_ppnorm` detects which of these a state_dict is from its keys.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Tuple

from ..registry import Registry

CONVERTERS = Registry("weight converter", ordered=True)
CONVERTERS.register_lazy("PaddleClas", "ppnorm.paddleclas.weights")

_DENSENET_RULES = [
    (r"^conv1_func\._conv\.", "stem.conv_norm_act.conv."),
    (r"^conv1_func\._batch_norm\.", "stem.conv_norm_act.norm."),
    (r"^db_conv_(\d+)\.conv\d+_(\d+)\.bn_ac_func1\.", lambda m: f"block{int(m[1]) - 1}.layer{m[2]}.bottleneck."),
    (r"^db_conv_(\d+)\.conv\d+_(\d+)\.bn_ac_func2\.", lambda m: f"block{int(m[1]) - 1}.layer{m[2]}.conv."),
    (r"^tr_conv(\d+)_blk\.conv_ac_func\.", lambda m: f"transition{int(m[1]) - 1}.reduce."),
    (r"^batch_norm\.", "final_norm."),
    (r"^out\.", "fc."),
]
_INNER = [(r"\._batch_norm\.", ".norm."), (r"\._conv\.", ".conv.")]


def _is_paddle_densenet(state_dict):
    return any(key.startswith("conv1_func.") for key in state_dict)


def from_paddle_vision(state_dict: Mapping[str, Any]) -> Dict[str, Any]:
    """Return a state_dict with ppnorm names for a ``paddle.vision.models`` ResNet or DenseNet."""
    if not _is_paddle_densenet(state_dict):
        return dict(state_dict)
    converted = {}
    for key, value in state_dict.items():
        new = key
        for pattern, repl in _DENSENET_RULES:
            new, count = re.subn(pattern, repl, new)
            if count:
                break
        for pattern, repl in _INNER:
            new = re.sub(pattern, repl, new)
        converted[new] = value
    return converted


def to_ppnorm(state_dict: Mapping[str, Any]) -> Tuple[Dict[str, Any], str]:
    """``(state_dict with ppnorm names, where it came from)``, the source detected from the keys.

    Sources: a PaddleClas ResNet / ResNet_vd / DenseNet, a ``paddle.vision`` (or PaddleClas,
    layer-named) DenseNet, or else ppnorm / ``paddle.vision`` ResNet names, kept as they are.
    """
    for name in CONVERTERS.names():
        converter = CONVERTERS.get_target(name)
        if converter.detect(state_dict):
            converted, family = converter.convert(state_dict)
            return converted, f"{name} {family}"
    if _is_paddle_densenet(state_dict):
        return from_paddle_vision(state_dict), "paddle.vision/PaddleClas DenseNet"
    return dict(state_dict), "ppnorm/paddle.vision names"


def from_paddleclas(state_dict: Mapping[str, Any]) -> Tuple[Dict[str, Any], str]:
    """``(state_dict with ppnorm names, family)`` for a PaddleClas ResNet/ResNet_vd/DenseNet state_dict."""
    return CONVERTERS.get_target("PaddleClas").convert(state_dict)
