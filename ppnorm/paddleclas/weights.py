"""Rename PaddleClas 2.x ``.pdparams`` to ppnorm's layer names: one table per family.

* ResNet / ResNet_vd (``ppcls/arch/backbone/legendary_models/resnet.py``): ``stem.I.conv/bn``,
  then ``blocks.N.convK.conv/bn`` and ``blocks.N.short.conv/bn`` numbered across all stages, ``fc``.
  A stage starts at block 0 and at every block with a ``short`` projection.
* DenseNet (``ppcls/arch/backbone/model_zoo/densenet.py``) saved with its parameter names
  (``conv1_weights``, ``conv2_1_x1_bn_scale``, ``conv2_blk_bn_mean``, ``fc_offset`` ...). Saved with
  layer names (``conv1_func._conv.weight`` ...) it is ``paddle.vision``'s DenseNet: see ppnorm/models/convert.py.

``ppnorm.models.convert.CONVERTERS`` names this module lazily: ``to_ppnorm`` asks its ``detect`` and renames with
its ``convert``.
"""
import re

# PaddleClas ResNet -> ppnorm ResNet, applied after ``blocks.N`` became ``layerS.I``; ``last``: the last stem conv.
RESNET_TABLE = [
    (r"^stem\.(\d+)\.(conv|bn)\.", lambda m, last: _stem_name(int(m[1]), m[2], last)),
    (r"\.conv(\d)\.conv\.", lambda m, last: f".conv{int(m[1]) + 1}."),
    (r"\.conv(\d)\.bn\.", lambda m, last: f".bn{int(m[1]) + 1}."),
    (r"\.short\.conv\.", lambda m, last: ".downsample.0."),
    (r"\.short\.bn\.", lambda m, last: ".downsample.1."),
    (r"^fc\.", lambda m, last: "fc."),
]

# PaddleClas DenseNet parameter names -> ppnorm DenseNet layer; ``final``: the ``convK_blk`` of the last norm.
DENSENET_TABLE = [
    (r"^conv1_", lambda m, final: "stem.conv_norm_act."),
    (r"^conv(\d+)_(\d+)_x1_", lambda m, final: f"block{int(m[1]) - 1}.layer{m[2]}.bottleneck."),
    (r"^conv(\d+)_(\d+)_x2_", lambda m, final: f"block{int(m[1]) - 1}.layer{m[2]}.conv."),
    (r"^conv(\d+)_blk_", lambda m, final: "final." if int(m[1]) == final else f"transition{int(m[1]) - 1}.reduce."),
    (r"^fc_", lambda m, final: "fc."),
]
# the parameter's own part of the name (ppnorm's last norm is the layer ``final_norm``, not ``final.norm``)
DENSENET_PARTS = {"weights": "conv.weight", "bn_scale": "norm.weight", "bn_offset": "norm.bias",
                  "bn_mean": "norm._mean", "bn_variance": "norm._variance"}
FC_PARTS = {"weights": "weight", "offset": "bias"}


def detect(state_dict):
    """``"ResNet"``, ``"ResNet_vd"`` or ``"DenseNet"`` for a PaddleClas state_dict, else ``None``."""
    if "stem.0.conv.weight" in state_dict:
        return "ResNet_vd" if "stem.1.conv.weight" in state_dict else "ResNet"
    if "conv1_weights" in state_dict:
        return "DenseNet"
    return None


def _numbers(state_dict, pattern):
    return sorted({int(m[1]) for key in state_dict for m in [re.match(pattern, key)] if m})


def _block_positions(state_dict):
    """``{N: "layerS.I."}`` for PaddleClas's flat ``blocks.N``: a ``short`` conv after block 0 opens a stage."""
    positions, stage, index = {}, 1, 0
    for number in _numbers(state_dict, r"^blocks\.(\d+)\."):
        if number > 0 and f"blocks.{number}.short.conv.weight" in state_dict:
            stage, index = stage + 1, 0
        positions[number] = f"layer{stage}.{index}."
        index += 1
    return positions


def _stem_name(index, kind, last):
    """Stem conv ``index``: the last one is ppnorm's ``conv1`` (``conv1.2`` in the deep stem) + ``bn1``."""
    if index == last:
        return "bn1." if kind == "bn" else ("conv1." if last == 0 else f"conv1.{index}.")
    return f"conv1.{index}.{'norm' if kind == 'bn' else 'conv'}."


def _rename(key, table, context, original=None):
    for pattern, replacement in table:
        match = re.search(pattern, key)
        if match:
            return key[:match.start()] + replacement(match, context) + key[match.end():]
    raise ValueError(f"PaddleClas weight '{original or key}' has no row in ppnorm's name table; "
                     f"is it a ResNet/DenseNet file?")


def _resnet(state_dict):
    positions = _block_positions(state_dict)
    last = _numbers(state_dict, r"^stem\.(\d+)\.")[-1]
    converted = {}
    for original, value in state_dict.items():
        block = re.match(r"^blocks\.(\d+)\.", original)
        key = positions[int(block[1])] + original[block.end():] if block else original
        converted[_rename(key, RESNET_TABLE, last, original)] = value
    return converted


def _densenet(state_dict):
    final = _numbers(state_dict, r"^conv(\d+)_blk_")[-1]  # the last blk is the final norm, no conv
    converted = {}
    for key, value in state_dict.items():
        prefix = _rename(key, DENSENET_TABLE, final)
        layer, part = prefix.rsplit(".", 1)
        parts = FC_PARTS if layer == "fc" else DENSENET_PARTS
        if part not in parts:
            raise ValueError(f"PaddleClas weight '{key}' has no row in ppnorm's name table ({part})")
        converted[f"{layer}.{parts[part]}".replace("final.norm.", "final_norm.")] = value
    return converted


def convert(state_dict):
    """``(state_dict with ppnorm names, family)`` for a PaddleClas ResNet/ResNet_vd/DenseNet state_dict."""
    family = detect(state_dict)
    if family is None:
        raise ValueError("not a PaddleClas ResNet/DenseNet state_dict (no 'stem.0.conv.weight' or 'conv1_weights')")
    basic = "blocks.0.conv2.conv.weight" not in state_dict  # two convs per block: ResNet18/34
    if family == "ResNet" and basic and "blocks.0.short.conv.weight" in state_dict:
        family += ", basic blocks with a first-block projection: needs first_projection=True"
    return (_densenet if family == "DenseNet" else _resnet)(state_dict), family
