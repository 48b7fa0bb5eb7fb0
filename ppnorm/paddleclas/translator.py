"""PaddleClas configs as they are: a config in PaddleClas's layout (:mod:`.dialect` detects it) translated into
ppnorm's.

``-o`` overrides are applied *before* the translation, in PaddleClas's key names and with its list
indices (``-o DataLoader.Train.dataset.image_root=./data/``,
``-o DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=32``), so a PaddleClas user's
command lines work unchanged. Every key is honoured (same meaning), translated (ppnorm's key or a
value computed from it), or refused: what ppnorm cannot do as PaddleClas would is printed once, in
one block, when the config loads; a key or value with no translation is a one-line ConfigError.
Where PaddleClas has a precedence or default of its own (``Arch.class_num`` over ``Global.class_num``,
a warm-up capped at the run's length, ...) the translation follows it, and where PaddleClas warns,
one ``warning (as PaddleClas)`` line says so.
"""
import ast
import os
import re
import sys

from ..engine.config.keys import ConfigError
from ..engine.config.overrides import parse_override
from ..engine.config.schema import SCHEMA
from .arch import translate_arch
from .dataloader import check_keys, translate_dataloader, translate_ops
from .names import GLOBAL_EXTRA, LEGACY_SECTIONS, SECTIONS
from .parts import translate_loss, translate_metric, translate_optimizer

AMP_KEYS = ("use_amp", "level", "scale_loss", "use_dynamic_loss_scaling", "use_promote", "use_fp16_test")
AMP_DIFFERENCES = {  # key: (the value ppnorm's AMP matches, what it does otherwise)
    "scale_loss": (2.0 ** 15, "ppnorm's GradScaler starts at 2**15"),
    "use_dynamic_loss_scaling": (True, "ppnorm scales the loss dynamically"),
    "use_promote": (True, "ppnorm uses paddle.amp.auto_cast's default (use_promote=True)"),
    "use_fp16_test": (False, "ppnorm evaluates in float32"),
}
AMP_PADDLECLAS_DEFAULTS = {"scale_loss": 1.0, "use_dynamic_loss_scaling": False, "use_promote": False,
                           "use_fp16_test": False}  # what PaddleClas's engine uses when the key is absent
INFER_KEYS = ("infer_imgs", "batch_size", "transforms", "PostProcess")
INDEX = re.compile(r"-?[0-9]+")  # a list index in an -o key ('--1' and '²' pass isdigit() checks, not int())


class Notes:
    """What the translation says once: PaddleClas's own warnings, then what ppnorm cannot honour (one block)."""

    def __init__(self, source):
        self.source, self.lines, self.warnings = source, [], []

    def add(self, key, value, instead):
        self.lines.append(f"  {key} = {value!r}: {instead}")

    def warn(self, text):
        """A warning PaddleClas itself prints for this file; ppnorm does what PaddleClas does."""
        self.warnings.append(f"[PaddleClas] {self.source}: warning (as PaddleClas): {text}")

    def block(self):
        return (f"[PaddleClas] {self.source}: {len(self.lines)} key(s) ppnorm does not honour as PaddleClas "
                f"would (key = value: what ppnorm does instead)\n" + "\n".join(self.lines))

    def text(self):
        """The warnings, one a line, then the block (if any); empty when there is nothing to say."""
        return "\n".join(self.warnings + ([self.block()] if self.lines else []))


def _python_literal(text, parsed):
    """PaddleClas reads an ``-o`` value as a Python expression: ``None``, ``1e-4``, ``(1, 5)`` mean what Python says.

    ppnorm takes Python literals only (never code); any other text keeps its YAML reading (``null``, ``true``,
    ``./data/``, ``{AutoAugment: null}``).
    """
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return parsed
    return list(value) if isinstance(value, tuple) else value


def apply_override(raw, override):
    """``a.b.0.c=value`` as PaddleClas applies it: list indices allowed, missing mappings created."""
    keys, value = parse_override(override)
    value = _python_literal(override.split("=", 1)[1], value)
    node = raw
    for depth, key in enumerate(keys):
        last, dotted = depth == len(keys) - 1, ".".join(keys[:depth + 1])
        if isinstance(node, list):
            if not INDEX.fullmatch(key) or not -len(node) <= int(key) < len(node):
                raise ConfigError(f"override '{override}': {dotted}: {key!r} is not an index of the "
                                  f"{len(node)}-item list {'.'.join(keys[:depth])}")
            key = int(key)
        elif not isinstance(node, dict):
            raise ConfigError(f"override '{override}': {'.'.join(keys[:depth])} is a value, not a section")
        elif not last and node.get(key) is None:
            node[key] = {}
        if last:
            node[key] = value
        else:
            node = node[key]


def _global(section, arch_out, export, notes):
    """``Global`` -> ppnorm's Global (keys of the same name and meaning pass as they are)."""
    out = {key: value for key, value in section.items() if key in SCHEMA["Global"]}
    out.setdefault("pretrained_skip_mismatched", True)  # PaddleClas loads with set_dict: another shape is skipped
    if section.get("eval_during_train") is False:
        out["eval_interval"] = max(section.get("epochs") or SCHEMA["Global"]["epochs"].default, 1)
        notes.add("Global.eval_during_train", False, "ppnorm still evaluates once, after the last epoch "
                                                     "(it picks best_model)")
    if section.get("save_inference_dir") and "save_dir" not in export:
        export["save_dir"] = section["save_inference_dir"]
    for key in ("to_static", "use_dali"):
        if section.get(key):
            notes.add(f"Global.{key}", section[key], "ppnorm trains in dygraph with its own loader (same math)")
    return out


def _image_shape(shape, eval_transforms, source, notes):
    """``Global.image_shape`` [C, H, W]: ppnorm exports at the eval images' shape; a different one is noted."""
    if shape is None:
        return
    if not isinstance(shape, list) or len(shape) != 3 or not all(isinstance(v, int) and v > 0 for v in shape):
        raise ConfigError(f"{source}: Global.image_shape must be [channels, height, width], got {shape!r}")
    size = None
    for entry in eval_transforms:
        (name, options), = entry.items()
        if name == "CropImage" or (name == "ResizeImage" and not options.get("resize_short")):
            given = options["size"]
            size = [given, given] if isinstance(given, int) else [given[1], given[0]]
    if size and shape[1:] != size:
        notes.add("Global.image_shape", shape, f"ppnorm exports for the eval images' size {size[0]}x{size[1]} "
                                               f"(DataLoader.Eval's ops)")


def _amp(section, global_out, source, notes):
    """``AMP`` as PaddleClas reads it: a non-empty section is on unless ``use_amp: False``; absent keys take
    PaddleClas's defaults (no loss scaling, no promotion), which are noted where ppnorm's AMP differs."""
    check_keys(section, AMP_KEYS, "AMP", source)
    if not section or not section.get("use_amp", True):
        return
    level = section.get("level", "O1")
    if level not in ("O1", "O2"):
        notes.warn(f"AMP.level={level!r} is not O1 or O2: set to O1")
        level = "O1"
    device = global_out.get("device", SCHEMA["Global"]["device"].default)
    if device != "gpu":
        raise ConfigError(f"{source}: AMP.use_amp needs Global.device=gpu (ppnorm's mixed precision is for GPUs), got "
                          f"{device!r}; to train in float32: -o AMP.use_amp=False")
    global_out["amp_level"] = level
    for key, (same, instead) in AMP_DIFFERENCES.items():
        value = section.get(key, AMP_PADDLECLAS_DEFAULTS[key])
        if value != same:
            absent = "" if key in section else " (PaddleClas's default: not in the file)"
            notes.add(f"AMP.{key}", value, instead + absent)
    if level == "O2" and not section.get("use_fp16_test"):
        notes.add("AMP.level", "O2", "PaddleClas evaluates in float16 after O2 training (it sets use_fp16_test with a "
                                     "warning); ppnorm evaluates in float32")


def _ema(section, source, notes):
    """``EMA.decay`` (PaddleClas's default 0.9999) -> ppnorm's ``EMA.decay``; how the two differ is noted."""
    check_keys(section, ("decay",), "EMA", source)
    decay = section.get("decay", 0.9999)
    notes.add("EMA.decay", decay, "ppnorm warms the decay up as min(decay, (1+t)/(10+t)) (PaddleClas: decay from "
                                  "step 1) and evaluates and saves the average itself as best_model/latest "
                                  "(.pdparams; raw weights in .pdtrain), not as a separate best_model_ema")
    return {"decay": decay}


def _infer(section, eval_transforms, source, notes):
    """``Infer`` is not used: export writes DataLoader.Eval's ops into inference.yml and tools/infer.py uses them."""
    check_keys(section, INFER_KEYS, "Infer", source)
    same = "equal to DataLoader.Eval's, which export writes into inference.yml"
    if section.get("transforms") is not None:
        ops = translate_ops(section["transforms"], "Infer.transforms", source, notes, in_dataset=False)
        ops = [op for op in ops if "ToCHWImage" not in op]
        if ops != eval_transforms:
            same = "DIFFERENT from DataLoader.Eval's; ppnorm's export and infer use DataLoader.Eval's"
    notes.add("Infer", sorted(section), f"not used: tools/infer.py takes images on its command "
                                                      f"line and prints top-k; Infer.transforms are {same}")


def translate(raw, overrides=(), source="config"):
    """A PaddleClas config (``-o`` in its key names applied first) -> ppnorm's raw config; prints the notes block."""
    for override in overrides or ():
        apply_override(raw, override)
    if set(LEGACY_SECTIONS) & set(raw):
        legacy = ", ".join(sorted(set(LEGACY_SECTIONS) & set(raw)))
        raise ConfigError(f"{source}: PaddleClas 2.0's old layout ({legacy}); ppnorm reads today's ppcls/configs "
                          f"layout (Global, Arch, Loss, Optimizer, DataLoader, ...)")
    check_keys(raw, SECTIONS, "the config", source)
    notes, export = Notes(source), dict(raw.get("Export") or {})
    global_in = dict(raw.get("Global") or {})
    check_keys(global_in, tuple(SCHEMA["Global"]) + GLOBAL_EXTRA, "Global", source)
    arch = translate_arch(dict(raw.get("Arch") or {}), global_in, source, notes)
    config = {"Global": _global(global_in, arch, export, notes), "Arch": arch,
              "DataLoader": translate_dataloader(raw.get("DataLoader") or {}, source, notes)}
    _amp(raw.get("AMP") or {}, config["Global"], source, notes)
    if raw.get("EMA") is not None:
        config["EMA"] = _ema(raw["EMA"], source, notes)
    config["Loss"] = translate_loss(raw.get("Loss") or {}, source, notes)
    epochs = config["Global"].get("epochs", SCHEMA["Global"]["epochs"].default)
    config["Optimizer"] = translate_optimizer(raw.get("Optimizer") or {}, epochs, source, notes)
    config["Metric"] = translate_metric(raw.get("Metric") or {}, source, notes)
    over = [k for k in config["Metric"]["topk"] if isinstance(k, int) and k > arch["num_classes"]]
    if over and isinstance(arch["num_classes"], int):  # e.g. the file's topk [1, 5] under -o Arch.class_num=2
        notes.warn(f"Metric TopkAcc topk {over} is more than Arch.class_num={arch['num_classes']}: those top-k "
                   f"accuracies are always 1")
    eval_transforms = config["DataLoader"].get("Eval", {}).get("transforms", [])
    _image_shape(global_in.get("image_shape"), eval_transforms, source, notes)
    if raw.get("Infer") is not None:
        _infer(raw["Infer"], eval_transforms, source, notes)
    if export:
        config["Export"] = export
    if notes.text() and os.environ.get("PADDLE_TRAINER_ID", "0") == "0":  # once, from rank 0
        print(notes.text(), file=sys.stderr, flush=True)
    return config
