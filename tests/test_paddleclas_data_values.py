"""PaddleClas's DataLoader sections translated value by value: the dataset, the op list (layout, order, the appended
identity NormalizeImage, notes) and every refusal, named by its key and file. Starts from the DataLoader of
PaddleClas's ResNet50.yaml (ppcls/configs/ImageNet/ResNet/ResNet50.yaml, copied in tests/data/paddleclas)."""
import copy

import pytest
import yaml

from ppnorm.engine.config import ConfigError
from ppnorm.paddleclas.translator import Notes
from ppnorm.paddleclas.dataloader import OP_NAMES, translate_dataloader, translate_ops

SOURCE = "ResNet50.yaml"
TRAIN = "DataLoader.Train.dataset"
AT = TRAIN + ".transform_ops"
DECODE = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
NORMALIZE = {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                "order": ""}}
IDENTITY = {"scale": 1.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}  # the NormalizeImage appended


def _resnet50():
    with open("tests/data/paddleclas/ResNet50.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["DataLoader"]


def run(section):
    """(translated DataLoader, the note lines)."""
    notes = Notes(SOURCE)
    return translate_dataloader(copy.deepcopy(section), SOURCE, notes), notes.lines


def with_dataset(**changes):
    """ResNet50's DataLoader, its Train dataset changed (a value None removes the key)."""
    section = _resnet50()
    dataset = section["Train"]["dataset"]
    for key, value in changes.items():
        if value is None:
            dataset.pop(key, None)
        else:
            dataset[key] = value
    return section


def train_ops(*ops):
    return with_dataset(transform_ops=list(ops))


def refusal(section):
    """The ConfigError's message; every refusal starts with the file's name."""
    with pytest.raises(ConfigError) as info:
        run(section)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: ")
    return message


def infer(ops):
    """Ops outside a dataset (Infer.transforms): ToCHWImage and channel_first are allowed there."""
    notes = Notes(SOURCE)
    return translate_ops(copy.deepcopy(ops), "Infer.transforms", SOURCE, notes, in_dataset=False), notes.lines


# --- what passes ------------------------------------------------------------------------------------------------------

def test_resnet50s_loaders_keep_their_ops_and_note_no_op():
    out, lines = run(_resnet50())
    for mode, listing in (("Train", "train_list.txt"), ("Eval", "val_list.txt")):
        source = _resnet50()[mode]["dataset"]
        assert out[mode]["dataset"] == {"name": "file_list", "list_file": f"./dataset/ILSVRC2012/{listing}",
                                        "root": "./dataset/ILSVRC2012/"}
        assert out[mode]["transforms"] == source["transform_ops"]
    assert [line for line in lines if "transform_ops" in line] == []


def test_bare_op_names_are_ops_without_options():
    out, _ = run(train_ops("DecodeImage", {"RandCropImage": {"size": 224}}, "RandFlipImage", NORMALIZE))
    assert out["Train"]["transforms"] == [{"DecodeImage": {}}, {"RandCropImage": {"size": 224}},
                                          {"RandFlipImage": {}}, NORMALIZE]


def test_a_decode_without_channel_first_keeps_the_image_hwc():
    out, _ = run(train_ops({"DecodeImage": {"to_rgb": True}}, NORMALIZE))
    assert out["Train"]["transforms"] == [{"DecodeImage": {"to_rgb": True}}, NORMALIZE]


@pytest.mark.parametrize("order", ["", "hwc"])
def test_hwc_orders_pass_in_a_dataset(order):
    normalize = {"NormalizeImage": dict(NORMALIZE["NormalizeImage"], order=order)}
    out, _ = run(train_ops(DECODE, normalize))
    assert out["Train"]["transforms"][-1] == normalize


def test_without_normalize_a_dataset_gets_the_identity_in_hwc_and_a_note():
    out, lines = run(train_ops(DECODE, {"RandFlipImage": {"flip_code": 1}}))
    assert out["Train"]["transforms"] == [DECODE, {"RandFlipImage": {"flip_code": 1}},
                                          {"NormalizeImage": dict(IDENTITY, order="hwc")}]
    assert lines.count(f"  {AT} = 'no NormalizeImage': PaddleClas feeds 0..255 pixel values; so does ppnorm "
                       f"(NormalizeImage scale 1, mean 0, std 1 appended)") == 1


@pytest.mark.parametrize("ops, translated", [
    ([{"DecodeImage": {"channel_first": True}}, {"CropImage": {"size": 224}}], None),
    ([DECODE, {"CropImage": {"size": 224}}, {"ToCHWImage": None}],
     [DECODE, {"CropImage": {"size": 224}}, {"ToCHWImage": {}}]),
])
def test_outside_a_dataset_a_transpose_makes_the_image_chw(ops, translated):
    out, lines = infer(ops)
    assert out == (translated or ops) + [{"NormalizeImage": dict(IDENTITY, order="chw")}]
    assert lines == ["  Infer.transforms = 'no NormalizeImage': PaddleClas feeds 0..255 pixel values; so does ppnorm "
                     "(NormalizeImage scale 1, mean 0, std 1 appended)"]
    normalize = {"NormalizeImage": dict(NORMALIZE["NormalizeImage"], order="chw")}
    assert infer(ops + [normalize])[0] == out[:-1] + [normalize]


def test_output_fp16_is_dropped_with_a_note_only_when_true():
    normalize = {"NormalizeImage": dict(NORMALIZE["NormalizeImage"], output_fp16=True)}
    out, lines = run(train_ops(DECODE, normalize))
    assert out["Train"]["transforms"][-1] == NORMALIZE
    assert [line for line in lines if "transform_ops" in line] == [
        f"  {AT}.NormalizeImage.output_fp16 = True: ppnorm feeds float32 images"]
    normalize["NormalizeImage"]["output_fp16"] = False
    out, lines = run(train_ops(DECODE, normalize))
    assert out["Train"]["transforms"][-1] == NORMALIZE
    assert [line for line in lines if "transform_ops" in line] == []


# --- the dataset ------------------------------------------------------------------------------------------------------

def test_a_delimiter_other_than_a_space_is_kept_and_relabel_false_passes():
    out, _ = run(with_dataset(delimiter="\t", relabel=False, batch_transform_ops=None))
    assert out["Train"]["dataset"] == {"name": "file_list", "list_file": "./dataset/ILSVRC2012/train_list.txt",
                                       "root": "./dataset/ILSVRC2012/", "delimiter": "\t"}
    section = with_dataset(delimiter=" ")
    section["Train"]["dataset"]["batch_transform_ops"] = None  # as -o ...batch_transform_ops=null leaves it
    out, _ = run(section)
    assert out["Train"]["dataset"] == {"name": "file_list", "list_file": "./dataset/ILSVRC2012/train_list.txt",
                                       "root": "./dataset/ILSVRC2012/"}


def test_an_unknown_dataset_key_is_named_with_the_supported_ones():
    message = refusal(with_dataset(sampler_name="x"))
    assert f"{TRAIN}.sampler_name " in message
    assert message.split(f"supported in {TRAIN}: ")[1].split(", ") == [
        "name", "image_root", "cls_label_path", "delimiter", "relabel", "transform_ops", "batch_transform_ops"]


def test_a_dataset_that_is_no_mapping_is_named():
    section = _resnet50()
    section["Train"]["dataset"] = "ImageNetDataset"
    message = refusal(section)
    assert message.startswith(f"{SOURCE}: {TRAIN} ") and "'ImageNetDataset'" in message


def test_batch_transform_ops_are_refused_with_their_names():
    message = refusal(with_dataset(batch_transform_ops=[{"MixupOperator": {"alpha": 0.2}}, "CutmixOperator"]))
    assert f"{TRAIN}.batch_transform_ops (MixupOperator, CutmixOperator) " in message
    assert message.endswith(f"-o {TRAIN}.batch_transform_ops=null")


@pytest.mark.parametrize("changes, named", [
    ({"name": "MultiLabelDataset"}, f"{TRAIN}.name='MultiLabelDataset' "),
    ({"image_root": None}, f"{TRAIN}.image_root must"),
    ({"image_root": 123}, f"{TRAIN}.image_root must be a path, got 123;"),
    ({"image_root": ""}, f"{TRAIN}.image_root must be a path, got '';"),
    ({"cls_label_path": None}, f"{TRAIN}.cls_label_path must"),
    ({"relabel": True}, f"{TRAIN}.relabel=true "),
])
def test_dataset_refusals_name_the_key(changes, named):
    assert named in refusal(with_dataset(**changes))


def test_relabel_names_the_label_file():
    assert refusal(with_dataset(relabel=True)).endswith(" ./dataset/ILSVRC2012/train_list.txt")


# --- the op list ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ops", [None, [], {"DecodeImage": None}])
def test_an_op_list_must_be_a_non_empty_list(ops):
    assert refusal(with_dataset(transform_ops=ops)).startswith(f"{SOURCE}: {AT} must")


@pytest.mark.parametrize("entry, named", [
    ({"RandCropImage": {"size": 224}, "RandFlipImage": None}, f"{AT}[1] must"),
    (5, f"{AT}[1] must"),
    ({"RandCropImage": 224}, f"{AT}[1]: the options of RandCropImage must be a mapping, got 224"),
    ({"AutoAugment": None}, f"{AT}[1]: op 'AutoAugment' is not supported"),
    ({"RandCropImage": {"size": 0}}, f"{AT}[1]: RandCropImage: size"),
    ({"RandCropImage": {"size": 224, "sizes": 1}}, f"{AT}[1] RandCropImage"),
])
def test_a_bad_op_is_named_by_its_index(entry, named):
    assert named in refusal(train_ops(DECODE, entry, NORMALIZE))


def test_an_unsupported_op_lists_the_supported_ones():
    message = refusal(train_ops(DECODE, {"AutoAugment": None}, NORMALIZE))
    assert message.split("supported ops: ")[1].split(", ") == list(OP_NAMES)


def test_the_first_op_must_decode_and_no_op_may_follow_normalize():
    message = refusal(train_ops({"RandCropImage": {"size": 224}}, NORMALIZE))
    assert message.startswith(f"{SOURCE}: {AT} must") and message.endswith(" RandCropImage")
    message = refusal(train_ops(DECODE, NORMALIZE, {"RandFlipImage": {"flip_code": 1}}))
    assert f"{AT}[2]: RandFlipImage " in message


@pytest.mark.parametrize("entry, what", [({"ToCHWImage": None}, "ToCHWImage"),
                                         ({"DecodeImage": {"channel_first": True}}, "DecodeImage.channel_first: true")])
def test_a_transpose_inside_a_dataset_is_refused_by_name(entry, what):
    ops = [DECODE, entry, NORMALIZE] if "ToCHWImage" in entry else [entry, NORMALIZE]
    assert f"{SOURCE}: {AT}: {what} in " in refusal(train_ops(*ops))


@pytest.mark.parametrize("options", [{}, {"order": "chw"}])
def test_a_chw_normalize_on_an_hwc_image_is_refused(options):
    normalize = {"NormalizeImage": dict({"mean": [0.0] * 3}, **options)}
    message = refusal(train_ops(DECODE, normalize))
    assert f"{AT}.NormalizeImage.order='chw' " in message and " HWC " in message
    assert message.endswith("use order: hwc")


@pytest.mark.parametrize("order", ["", "hwc"])
def test_an_hwc_normalize_on_a_chw_image_is_refused(order):
    with pytest.raises(ConfigError) as info:
        infer([DECODE, {"ToCHWImage": None}, {"NormalizeImage": {"order": order}}])
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: Infer.transforms.NormalizeImage.order={order!r} ")
    assert " CHW " in message and message.endswith("use order: chw")
