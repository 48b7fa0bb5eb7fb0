"""PaddleClas's ``DataLoader`` sections (dataset / sampler / loader) and op lists, in ppnorm's terms.

``ImageNetDataset`` (``image_root`` + ``cls_label_path`` lines ``relative/path label``) becomes
ppnorm's ``file_list``; ``transform_ops`` keep their names and options (PaddleClas's ops, :mod:`.ops`, are
registered in ppnorm's ``TRANSFORMS``); ``sampler`` and ``loader`` fill batch size, shuffling,
``drop_last`` and workers.
"""
from ..data.transforms import build_transforms
from ..engine.config.keys import ConfigError
from .ops import OPS

OP_NAMES = tuple(op.__name__ for op in OPS)
SAMPLERS = ("DistributedBatchSampler", "BatchSampler")
LEGACY_KEYS = ("file_list", "data_dir", "batch_size", "transforms", "shuffle_seed", "num_workers")


def check_keys(mapping, allowed, where, source):
    """A mapping whose keys are all in ``allowed``; else one line naming the key and the supported ones."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: {where} must be a mapping, got {mapping!r}")
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{source}: {where}.{key} is not a key the PaddleClas translator knows; "
                              f"supported in {where}: {', '.join(allowed)}")


def one_entry(entry, where, source):
    """``{Name: {options}}`` (options may be empty) -> (name, options)."""
    if isinstance(entry, str):
        entry = {entry: None}
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ConfigError(f"{source}: {where} must be one 'Name: {{options}}' mapping, got {entry!r}")
    (name, options), = entry.items()
    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"{source}: {where}: the options of {name} must be a mapping, got {options!r}")
    return name, dict(options or {})


def _normalize_layout(options, layout, where, source, notes):
    """NormalizeImage's ``order`` must describe the layout PaddleClas's image has there (its mean broadcasts by it)."""
    order = options.get("order", "chw")
    if (order == "chw") != (layout == "chw"):
        raise ConfigError(f"{source}: {where}.NormalizeImage.order={order!r} but the image is {layout.upper()} at that "
                          f"point; use order: {'chw' if layout == 'chw' else 'hwc'}")
    if options.pop("output_fp16", False):
        notes.add(f"{where}.NormalizeImage.output_fp16", True, "ppnorm feeds float32 images")


def _layout_after(name, options, layout, where, source, in_dataset):
    """The layout after op ``name``; in a data set a transpose is refused (PaddleClas's dataset transposes itself)."""
    to_chw = name == "ToCHWImage" or (name == "DecodeImage" and options.get("channel_first", False))
    if not to_chw:
        return layout
    if in_dataset:
        what = "ToCHWImage" if name == "ToCHWImage" else "DecodeImage.channel_first: true"
        raise ConfigError(f"{source}: {where}: {what} in a dataset's transform_ops makes PaddleClas transpose the "
                          f"images twice (ImageNetDataset turns HWC into CHW itself); remove it")
    return "chw"


def translate_ops(ops, where, source, notes, in_dataset=True):
    """A PaddleClas op list -> ppnorm ``transforms`` (same names and options), checked for order and layout."""
    if not isinstance(ops, list) or not ops:
        raise ConfigError(f"{source}: {where} must be a non-empty list of ops, e.g. "
                          f"[DecodeImage: {{to_rgb: true}}, ...]")
    out, layout, normalized = [], "hwc", False
    for index, entry in enumerate(ops):
        name, options = one_entry(entry, f"{where}[{index}]", source)
        if name not in OP_NAMES:
            raise ConfigError(f"{source}: {where}[{index}]: op '{name}' is not supported; supported ops: "
                              f"{', '.join(OP_NAMES)}")
        if index == 0 and name != "DecodeImage":
            raise ConfigError(f"{source}: {where} must start with DecodeImage (PaddleClas decodes the file first), "
                              f"got {name}")
        if normalized and name != "ToCHWImage":
            raise ConfigError(f"{source}: {where}[{index}]: {name} after NormalizeImage is not supported (the ops "
                              f"work on 8-bit pixels); put NormalizeImage after it")
        if name == "NormalizeImage":
            _normalize_layout(options, layout, where, source, notes)
            normalized = True
        layout = _layout_after(name, options, layout, where, source, in_dataset)
        try:  # the op's own checks, named by where it is in the PaddleClas file
            build_transforms([{name: options}], f"{where}[{index}]")
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{source}: {error}") from None
        out.append({name: options})
    if not normalized:
        out.append({"NormalizeImage": {"scale": 1.0, "mean": [0.0] * 3, "std": [1.0] * 3, "order": layout}})
        notes.add(f"{where}", "no NormalizeImage", "PaddleClas feeds 0..255 pixel values; so does ppnorm "
                                                   "(NormalizeImage scale 1, mean 0, std 1 appended)")
    return out


def _dataset(spec, where, source, notes):
    """``ImageNetDataset`` -> (ppnorm ``file_list`` spec, transforms)."""
    check_keys(spec, ("name", "image_root", "cls_label_path", "delimiter", "relabel", "transform_ops",
                      "batch_transform_ops"), where, source)
    if spec.get("batch_transform_ops") is not None:
        ops = ", ".join(str(next(iter(op))) if isinstance(op, dict) else str(op) for op in spec["batch_transform_ops"])
        raise ConfigError(f"{source}: {where}.batch_transform_ops ({ops}) is not supported: ppnorm mixes no samples "
                          f"within a batch; to train without it: -o {where}.batch_transform_ops=null")
    if spec.get("name") != "ImageNetDataset":
        raise ConfigError(f"{source}: {where}.name={spec.get('name')!r} is not supported; supported: ImageNetDataset")
    for key in ("image_root", "cls_label_path"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise ConfigError(f"{source}: {where}.{key} must be a path, got {spec.get(key)!r}; "
                              f"e.g. -o {where}.{key}=./dataset/...")
    if spec.get("relabel"):
        raise ConfigError(f"{source}: {where}.relabel=true is not supported; number the labels 0..K-1 in "
                          f"{spec['cls_label_path']}")
    dataset = {"name": "file_list", "list_file": spec["cls_label_path"], "root": spec["image_root"]}
    if spec.get("delimiter") not in (None, " "):  # PaddleClas's default; ppnorm's default splits at any whitespace
        dataset["delimiter"] = spec["delimiter"]
    return dataset, translate_ops(spec.get("transform_ops"), f"{where}.transform_ops", source, notes)


def _sampler(spec, where, source):
    check_keys(spec, ("name", "batch_size", "drop_last", "shuffle"), where, source)
    if spec.get("name", SAMPLERS[0]) not in SAMPLERS:
        raise ConfigError(f"{source}: {where}.name={spec.get('name')!r} is not supported; supported: "
                          f"{', '.join(SAMPLERS)}")
    if "batch_size" not in spec:
        raise ConfigError(f"{source}: {where}.batch_size is missing (samples per device per step)")
    # Paddle's batch samplers neither shuffle nor drop the last batch unless told (ppnorm's Train does both)
    return {"batch_size": spec["batch_size"], "drop_last": spec.get("drop_last", False),
            "shuffle": spec.get("shuffle", False)}


def _loader(spec, where, source, notes):
    check_keys(spec, ("num_workers", "use_shared_memory"), where, source)
    if spec.get("use_shared_memory"):
        notes.add(f"{where}.use_shared_memory", True, "ppnorm's loader passes batches its own way (same values)")
    return {"num_workers": spec["num_workers"]} if "num_workers" in spec else {}


def translate_loader(spec, where, source, notes):
    """One ``DataLoader.Train`` / ``Eval`` section -> ppnorm's (dataset, transforms, batch_size, ...)."""
    if isinstance(spec, dict) and any(key in spec for key in LEGACY_KEYS):
        raise ConfigError(f"{source}: {where} uses PaddleClas's old reader keys (file_list, data_dir, batch_size, "
                          f"...); write it as dataset / sampler / loader like ppcls/configs/ImageNet today")
    check_keys(spec, ("dataset", "sampler", "loader"), where, source)
    dataset, transforms = _dataset(spec.get("dataset"), f"{where}.dataset", source, notes)
    out = {"dataset": dataset, "transforms": transforms}
    out.update(_sampler(spec.get("sampler"), f"{where}.sampler", source))
    out.update(_loader(spec.get("loader") or {}, f"{where}.loader", source, notes))
    return out


def translate_dataloader(section, source, notes):
    check_keys(section, ("Train", "Eval"), "DataLoader", source)
    return {mode: translate_loader(spec, f"DataLoader.{mode}", source, notes) for mode, spec in section.items()}
