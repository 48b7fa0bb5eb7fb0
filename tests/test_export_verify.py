"""The export's checks and descriptions, and infer's inputs, without training: what the verifier refuses (a diff
over the tolerance, NaN or Inf logits), what inference.yml says for NCHW, NHWC and sequences, which directories
an export may replace, and how .npy images and sequences are read. Fake predictors and tiny arrays: fast."""
import os

import numpy as np
import pytest
from helpers import assert_says
import yaml

from ppnorm.data import DataError
from ppnorm.deploy import export as X
from ppnorm.deploy import inputs as I

LOGITS = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], dtype="float32")
IMAGES = np.zeros((2, 1, 4, 4), dtype="float32")


class Images:
    """Stands for the eval batch (a paddle Tensor): ``verify`` calls ``.numpy()``."""

    def numpy(self):
        return IMAGES


def _verify(exported, tolerance=1e-4, lines=None):
    seen = []

    def predictor(images):
        seen.append(images)
        return exported
    diff = X.verify(predictor, "paddle.inference", Images(), LOGITS, tolerance, "/out/inference",
                    log=(lines if lines is not None else []).append)
    assert len(seen) == 1 and seen[0] is IMAGES
    return diff


# --- the verifier -------------------------------------------------------------------------------------------------

def test_verify_returns_the_largest_difference_and_logs_it():
    lines = []
    exported = LOGITS.copy()
    exported[1, 2] += 2e-5
    exported[0, 0] -= 5e-5
    assert _verify(exported, lines=lines) == pytest.approx(5e-5, rel=1e-3)
    assert lines == ["[Export] paddle.inference vs the unfolded eval-mode model on 2 eval images: max abs diff 5e-05 "
                     "(tolerance 0.0001)"]


def test_a_difference_equal_to_the_tolerance_passes_and_a_larger_one_is_refused():
    exported = LOGITS.copy()
    exported[0, 1] += 0.25
    assert _verify(exported, tolerance=0.25) == 0.25
    with pytest.raises(X.ExportError) as error:
        _verify(exported, tolerance=0.125)
    assert_says(str(error.value), "(paddle.inference)", " 0.25 > Export.tolerance=0.125;",
                "nothing was written to /out/inference")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_exported_logits_are_refused_at_any_tolerance(bad):
    exported = LOGITS.copy()
    exported[1, 0] = bad
    with pytest.raises(X.ExportError, match=r"differ from the trained model's by (nan|inf) > Export.tolerance=1e\+30"):
        _verify(exported, tolerance=1e30)


def test_nan_reference_logits_are_refused_too():
    reference = LOGITS.copy()
    reference[0, 0] = np.nan
    with pytest.raises(X.ExportError):
        X.verify(lambda images: reference.copy(), "onnxruntime", Images(), reference, 1e30, "/out", log=[].append)


# --- inference.yml --------------------------------------------------------------------------------------------------

CONFIG = {"Arch": {"name": "resnet20", "class_num": 3}, "Global": {"pretrained_model": "out/best_model"},
          "Export": {}, "DataLoader": {"Eval": {"transforms": [{"Normalize": {"mean": [0.5], "std": [0.5]}}]}},
          "Metric": {"topk": [1, 2]}}


@pytest.mark.parametrize("layout, shape, kind, channels", [
    ("NCHW", [3, 8, 6], "image", 3), ("NHWC", [8, 6, 3], "image", 3), ("NHWC", [8, 6, 1], "image", 1),
    ("NCHW", [1, 8, 8], "image", 1), ("NCHW", [2, 50], "sequence", 2)])
def test_inference_yml_gives_the_channels_of_every_layout_and_input_kind(layout, shape, kind, channels):
    description = X.describe(CONFIG, layout, shape, [0, "cat", 2], 4, {"paddle": 1.5e-6}, kind)
    assert description == {
        "arch": {"name": "resnet20", "class_num": 3}, "weights": "out/best_model", "format": "paddle",
        "data_format": layout, "input_kind": kind, "input_shape": shape, "channels": channels,
        "transforms": [{"Normalize": {"mean": [0.5], "std": [0.5]}}], "classes": ["0", "cat", "2"], "topk": [1, 2],
        "folded_batch_norms": 4, "max_abs_diff": 1.5e-6}
    assert description["arch"] is not CONFIG["Arch"]


def test_an_onnx_export_describes_both_differences_and_images_are_the_default_kind():
    config = dict(CONFIG, Export={"format": "onnx"})
    description = X.describe(config, "NCHW", [3, 4, 4], ["a"], 0, {"paddle": 1e-6, "onnx": 2e-6})
    assert description["format"] == "onnx" and description["onnx_max_abs_diff"] == 2e-6
    assert description["input_kind"] == "image" and description["max_abs_diff"] == 1e-6


# --- where an export may write -----------------------------------------------------------------------------------

def _previous_export(path, mark=True, extra=()):
    path.mkdir()
    text = (X.EXPORT_MARK + "\n" if mark else "") + "input_shape: [1, 4, 4]\n"
    (path / "inference.yml").write_text(text)
    for name in ("inference.json", "inference.pdiparams", *extra):
        (path / name).write_text("x")
    return path


def test_a_new_empty_or_previous_export_directory_may_be_written(tmp_path):
    X.check_target(str(tmp_path / "new"))
    (tmp_path / "empty").mkdir()
    X.check_target(str(tmp_path / "empty"))
    X.check_target(str(_previous_export(tmp_path / "old", extra=["model.onnx", "inference.pdmodel"])))


def test_a_file_a_foreign_directory_or_foreign_files_are_never_replaced(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    foreign = _previous_export(tmp_path / "foreign", mark=False)
    (foreign / "inference.yml").write_text("name: someone else's\n")
    extra = _previous_export(tmp_path / "extra", extra=["b.txt", "a.txt"])
    where = f"Export.save_dir={tmp_path}"
    messages = {}
    for name in ("file", "other", "foreign", "extra"):
        with pytest.raises(X.ExportError) as error:
            X.check_target(str(tmp_path / name))
        messages[name] = str(error.value)
    assert messages == {
        "file": f"{where}/file is an existing file; give a new directory (or a previous export's) instead",
        "other": f"{where}/other is an existing directory that no export wrote (it has no inference.yml); nothing "
                 f"was changed: give a new directory, e.g. {tmp_path}/other/inference",
        "foreign": f"{where}/foreign holds an inference.yml that ppnorm's export did not write (another tool's "
                   f"model?); nothing was changed: give a new directory",
        "extra": f"{where}/extra holds files an export does not write (e.g. a.txt); nothing was changed: move them "
                 f"away or give a new directory"}
    assert sorted(os.listdir(extra)) == ["a.txt", "b.txt", "inference.json", "inference.pdiparams", "inference.yml"]


@pytest.mark.parametrize("text, ours", [
    (X.EXPORT_MARK + "\nanything: 1\n", True),
    ("folded_batch_norms: 2\nmax_abs_diff: 0.0\ninput_shape: [3, 8, 8]\nclasses: [a]\n", True),  # an older export
    ("folded_batch_norms: 2\nmax_abs_diff: 0.0\n", False), ("- folded_batch_norms\n- max_abs_diff\n- input_shape\n", False),
    ("a: [\n", False), ("a: 1\na: 2\nfolded_batch_norms: 1\nmax_abs_diff: 0\ninput_shape: []\n", False),
    ("# written by ppnorm export\n", False)])
def test_which_inference_yml_an_export_wrote(tmp_path, text, ours):
    path = tmp_path / "inference.yml"
    path.write_text(text)
    assert X.written_by_export(str(path)) is ours


def test_a_missing_or_binary_inference_yml_is_not_an_exports(tmp_path):
    assert X.written_by_export(str(tmp_path / "none.yml")) is False
    (tmp_path / "bin.yml").write_bytes(b"\xff\xfe\x00binary")
    assert X.written_by_export(str(tmp_path / "bin.yml")) is False


def test_only_the_first_mebibyte_is_read_for_the_mark(tmp_path):
    path = tmp_path / "inference.yml"
    path.write_text("a: '" + "x" * (1 << 20) + "'\nfolded_batch_norms: 1\nmax_abs_diff: 0\ninput_shape: []\n")
    assert X.written_by_export(str(path)) is False


def test_stage_makes_a_private_directory_beside_the_target_and_checks_the_free_space(tmp_path):
    target = tmp_path / "deep" / "inference"
    staging = X.stage(str(target), needed_bytes=1)
    assert os.path.dirname(staging) == str(tmp_path / "deep")
    assert os.path.basename(staging).startswith("inference.tmp-") and os.listdir(staging) == []
    with pytest.raises(X.ExportError, match=r"^Export.save_dir=.*/deep/inference: .*/deep has [0-9.]+ MiB free, the "
                                            r"exported model needs about 1048576.0 MiB; free space or choose another"):
        X.stage(str(target), needed_bytes=1 << 40)


def test_stage_in_an_unwritable_place_is_an_export_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(X.ExportError) as error:
        X.stage(str(tmp_path / "file" / "inference"))
    assert str(error.value).startswith(f"Export.save_dir={tmp_path}/file/inference: cannot create a directory in "
                                       f"{tmp_path}/file (")
    assert str(error.value).endswith("); choose a writable directory")


def test_publish_replaces_a_previous_export_and_leaves_nothing_else(tmp_path):
    old = _previous_export(tmp_path / "inference")
    staging = X.stage(str(old))
    (tmp_path / "unrelated").mkdir()
    open(os.path.join(staging, "inference.yml"), "w").write(X.EXPORT_MARK + "\nnew: 1\n")
    mask = os.umask(0o027)
    try:
        X.publish(staging, str(old))
    finally:
        os.umask(mask)
    assert sorted(os.listdir(tmp_path)) == ["inference", "unrelated"]
    assert os.listdir(old) == ["inference.yml"] and "new: 1" in (old / "inference.yml").read_text()
    assert os.stat(old).st_mode & 0o777 == 0o750


def test_publish_to_a_new_directory(tmp_path):
    staging = X.stage(str(tmp_path / "inference"))
    X.publish(staging, str(tmp_path / "inference"))
    assert os.listdir(tmp_path) == ["inference"]


def test_weight_bytes_counts_parameters_and_buffers():
    import paddle
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 2), paddle.nn.BatchNorm1D(2))
    assert X.weight_bytes(model) == (6 + 2 + 4 * 2) * 4


# --- infer's inputs: .npy images ----------------------------------------------------------------------------------

def _npy(tmp_path, array, name="x.npy"):
    path = str(tmp_path / name)
    with open(path, "wb") as handle:  # np.save(path) would add ".npy" to "UP.NPY"
        np.save(handle, array)
    return path


@pytest.mark.parametrize("array, expected", [
    (np.array([[[0, 51], [255, 102]]], dtype="uint8"), [[[0.0, 0.2], [1.0, 0.4]]]),
    (np.array([[[0, 1], [1, 0]]], dtype="int64"), [[[0.0, 1 / 255], [1 / 255, 0.0]]]),  # integers: 0-255
    (np.array([[[0.0, 0.5], [1.0, 0.25]]]), [[[0.0, 0.5], [1.0, 0.25]]]),  # floats in [0, 1]: kept
    (np.array([[[0.0, 2.0], [255.0, 51.0]]], dtype="float32"), [[[0.0, 2 / 255], [1.0, 0.2]]])])  # floats above 1
def test_npy_images_are_read_in_unit_range(tmp_path, array, expected):
    [(name, image)] = I.read_images(_npy(tmp_path, array), 1)
    assert name.endswith("x.npy[0]") and image.dtype == np.float32
    np.testing.assert_allclose(image, np.array(expected, dtype="float32"), rtol=1e-6)


def test_a_stack_is_read_as_one_input_per_image_and_non_finite_pixels_are_warned_per_image(tmp_path):
    stack = np.full((3, 2, 2, 2), 0.5, dtype="float32")
    stack[1, 0, 0, 0], stack[1, 1, 1, 1], stack[2, 0, 1, 0] = np.nan, np.inf, 200.0
    warnings = []
    path = _npy(tmp_path, stack)
    images = I.read_images(path, 2, warn=warnings.append)
    assert [name for name, _ in images] == [f"{path}[0]", f"{path}[1]", f"{path}[2]"]
    assert warnings == [f"warning: {path}[1] has 2 non-finite value(s) (NaN/Inf) of 8; its prediction is not "
                        f"meaningful"]
    np.testing.assert_allclose(images[0][1], np.full((2, 2, 2), 0.5 / 255), rtol=1e-6)  # one scale for the file
    assert len(I.read_images(path, 2)) == 3  # without a warn callback: read all the same


@pytest.mark.parametrize("array, message", [
    (np.array([[[-0.5, 0.5]]]), "values range from -0.5 to 0.5; expected raw pixels in [0, 1] or [0, 255] (the model's "
                                  "eval transforms normalize them)"),
    (np.array([[[0.0, 256.0]]]), "values range from 0 to 256; expected raw pixels in [0, 1] or [0, 255] (the model's eval "
                                 "transforms normalize them)"),
    (np.zeros((2, 4, 4)), "expected an array [C, H, W] or [N, C, H, W] with C=1, got shape [1, 2, 4, 4]"),
    (np.zeros((4, 4)), "expected an array [C, H, W] or [N, C, H, W] with C=1, got shape [4, 4]"),
    (np.zeros((0, 1, 4, 4)), "the array holds no images (shape [0, 1, 4, 4])"),
    (np.zeros((1, 1, 0, 4)), "the array holds no images (shape [1, 1, 0, 4])"),
    (np.array([[["a"]]]), "expected numbers (uint8 0-255 or float 0-1), got dtype <U1")])
def test_npy_images_that_are_not_raw_pixels_are_refused(tmp_path, array, message):
    path = _npy(tmp_path, array)
    with pytest.raises(DataError) as error:
        I.read_images(path, 1)
    assert str(error.value) == f"{path}: {message}"


def test_an_npy_of_only_non_finite_values_is_read_as_is(tmp_path):
    [(_, image)] = I.read_images(_npy(tmp_path, np.full((1, 2, 2), np.nan, dtype="float32")), 1, warn=[].append)
    assert np.isnan(image).all()


def test_an_unreadable_npy_is_a_data_error(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match=r"^cannot read .*bad.npy as a .npy array \("):
        I.read_images(str(tmp_path / "bad.npy"), 1)
    with pytest.raises(DataError, match=r"^cannot read .*bad.npy as a .npy array \("):
        I.read_sequences(str(tmp_path / "bad.npy"), 1)


# --- infer's inputs: sequences --------------------------------------------------------------------------------------

def _sequences(n=2, length=5):
    array = np.arange(n * 2 * length, dtype="float64").reshape(n, 2, length)
    array[:, -1] = 1.0
    array[1, -1, 3:] = 0.0
    return array


def test_sequences_are_read_as_they_are_one_per_row(tmp_path):
    path = _npy(tmp_path, _sequences())
    read = I.read_sequences(path, 2)
    assert [name for name, _ in read] == [f"{path}[0]", f"{path}[1]"]
    for (_, got), want in zip(read, _sequences()):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want.astype("float32"))
    [(name, one)] = I.read_sequences(_npy(tmp_path, _sequences()[0], "one.npy"), 2)
    assert name.endswith("one.npy[0]") and one.shape == (2, 5)


@pytest.mark.parametrize("change, message", [
    (lambda a: a[:, :1], "expected numbers [C, L] or [N, C, L] with C=2 (the last channel the padding mask), got "
                         "float64 [2, 1, 5]"),
    (lambda a: a[:, :, :0], "expected numbers [C, L] or [N, C, L] with C=2 (the last channel the padding mask), got "
                            "float64 [2, 2, 0]"),
    (lambda a: a[None], "expected numbers [C, L] or [N, C, L] with C=2 (the last channel the padding mask), got "
                        "float64 [1, 2, 2, 5]"),
    (lambda a: a.astype("complex64"), "expected numbers [C, L] or [N, C, L] with C=2 (the last channel the padding "
                                      "mask), got complex64 [2, 2, 5]"),
    (lambda a: np.where(np.arange(5) == 2, np.nan, a), "4 NaN/Inf value(s); sequences must be finite"),
    (lambda a: np.where((np.arange(2)[:, None, None] == 1) & (np.arange(2)[None, :, None] == 1)
                        & (np.arange(5) >= 3), 0.5, a),
     "the last channel is the padding mask and must hold only 0 and 1, got 0.5 in sequence 1 at step 3 (2 such "
     "value(s))"),
    (lambda a: np.where((np.arange(2)[:, None, None] == 1) & (np.arange(2)[None, :, None] == 1), 0.0, a),
     "sequence 1 has no real time step (its mask channel is all 0; 1 such sequence(s))")])
def test_sequences_that_do_not_fit_the_model_are_refused(tmp_path, change, message):
    path = _npy(tmp_path, change(_sequences()))
    with pytest.raises(DataError) as error:
        I.read_sequences(path, 2)
    assert str(error.value) == f"{path}: {message}"


def test_a_sequence_model_refuses_image_files(tmp_path):
    with pytest.raises(DataError) as error:
        I.read_sequences(str(tmp_path / "a.PNG"), 3)
    assert str(error.value) == f"{tmp_path}/a.PNG: this model reads sequences; give .npy arrays [C, L] or [N, C, L] " \
                               f"with C=3"
    assert I.read_sequences(_npy(tmp_path, _sequences(), "UP.NPY"), 2)[0][0].endswith("UP.NPY[0]")


def test_sequences_are_padded_with_zeros_to_the_longest():
    short, long = np.ones((2, 2), dtype="float32"), np.full((2, 4), 2.0, dtype="float32")
    batch = I.pad_to_longest([short, long])
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, [[[1, 1, 0, 0], [1, 1, 0, 0]], [[2, 2, 2, 2], [2, 2, 2, 2]]])


# --- infer's inputs: paths and preprocessing ------------------------------------------------------------------------

def test_folders_give_their_visible_image_and_npy_files_sorted_and_count_the_rest(tmp_path):
    for name in ("b.png", "a.NPY", "sub/c.jpg", ".hidden.png", ".ipynb_checkpoints/d.png", "notes.txt", "README"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    notes = []
    found = I.expand_paths([str(tmp_path), str(tmp_path / "notes.txt")], notice=notes.append)
    assert found == [str(tmp_path / "a.NPY"), str(tmp_path / "b.png"), str(tmp_path / "sub" / "c.jpg"),
                     str(tmp_path / "notes.txt")]
    assert notes == ["[Infer] --input folders: 4 input file(s); skipped 2 files (1 .txt, 1 no extension)"]
    assert I.expand_paths([str(tmp_path / "sub")], notice=notes.append) == [str(tmp_path / "sub" / "c.jpg")]
    assert len(notes) == 1  # nothing skipped: no line


def test_missing_paths_and_folders_without_inputs_are_data_errors(tmp_path):
    with pytest.raises(DataError) as error:
        I.expand_paths([str(tmp_path / "gone.png")])
    assert str(error.value) == f"--input: {tmp_path}/gone.png not found (give image files, folders of images, or " \
                               f".npy files)"
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError) as error:
        I.expand_paths([str(tmp_path)])
    assert str(error.value).endswith(", .npy; skipped 1 file (1 .txt))")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        I.expand_paths([str(tmp_path / "empty")])
    assert str(error.value) == f"--input: no image or .npy files in {tmp_path}/empty (extensions: " \
                               f"{', '.join(I.IMAGE_EXTENSIONS)}, .npy)"


@pytest.mark.parametrize("layout, shape", [("NCHW", [1, 4, 6]), ("NHWC", [4, 6, 1])])
def test_preprocess_resizes_to_the_models_size_and_gives_its_layout(layout, shape):
    description = {"data_format": layout, "input_shape": shape, "transforms": [{"Normalize": {"mean": [0.5],
                                                                                               "std": [0.25]}}]}
    prepare = I.Preprocess(description)
    image = np.full((1, 8, 12), 0.75, dtype="float32")
    out = prepare(image)
    assert out.shape == ((1, 4, 6) if layout == "NCHW" else (4, 6, 1))
    np.testing.assert_allclose(out, 1.0, rtol=1e-5)  # (0.75 - 0.5) / 0.25
    same = prepare(np.full((1, 4, 6), 0.5, dtype="float32"))
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


def test_preprocess_keeps_the_exported_resizing_and_takes_no_transforms():
    crop = I.Preprocess({"data_format": "NCHW", "input_shape": [1, 2, 2], "transforms": [{"CenterCrop": {"size": 2}}]})
    assert crop.resize is None
    image = np.arange(16, dtype="float32").reshape(1, 4, 4)
    np.testing.assert_array_equal(crop(image), image[:, 1:3, 1:3])
    for named in ("Resize", "RandomResizedCrop", "RandomCrop"):
        assert I.Preprocess({"data_format": "NCHW", "input_shape": [1, 2, 2],
                             "transforms": [{named: {"size": 2}}]}).resize is None
    plain = I.Preprocess({"data_format": "NHWC", "input_shape": [2, 2, 1], "transforms": None})
    np.testing.assert_allclose(plain(np.ones((1, 4, 4), dtype="float32")), np.ones((2, 2, 1)), rtol=1e-6)


# --- kills of the first mutation run ----------------------------------------------------------------------------------

def test_paddleclas_resizing_ops_in_inference_yml_are_not_preceded_by_a_forced_resize():
    from ppnorm.data import build_transforms
    specs = [{"ResizeImage": {"resize_short": 8}}, {"CropImage": {"size": 4}}]
    prepare = I.Preprocess({"data_format": "NCHW", "input_shape": [1, 4, 4], "transforms": specs})
    image = np.random.default_rng(0).random((1, 16, 12)).astype("float32")
    alone = build_transforms(specs, "t")(image, np.random.default_rng(0))
    np.testing.assert_array_equal(prepare(image), alone)  # not squeezed to 4x4 first


def test_preprocess_draws_from_a_fixed_generator_so_predictions_repeat():
    description = {"data_format": "NCHW", "input_shape": [1, 1, 2], "transforms": ["RandomHorizontalFlip"]}
    image = np.array([[[0.0, 1.0]]], dtype="float32")
    rng = np.random.default_rng(0)
    expected = [image[..., ::-1] if rng.random() < 0.5 else image for _ in range(8)]
    for _ in range(2):
        prepare = I.Preprocess(description)
        got = [prepare(image) for _ in range(8)]
        assert [g.tolist() for g in got] == [e.tolist() for e in expected]
    assert len({str(e.tolist()) for e in expected}) == 2


def test_image_files_are_read_in_the_models_colour_mode(tmp_path):
    from PIL import Image
    Image.fromarray(np.array([[[255, 0, 0], [0, 0, 255]]], dtype="uint8")).save(tmp_path / "c.png")
    [(name, rgb)] = I.read_images(str(tmp_path / "c.png"), 3)
    assert name == str(tmp_path / "c.png") and rgb.shape == (3, 1, 2)
    np.testing.assert_allclose(rgb[:, 0, 0], [1, 0, 0]) and np.testing.assert_allclose(rgb[:, 0, 1], [0, 0, 1])
    [(_, gray)] = I.read_images(str(tmp_path / "c.png"), 1)
    assert gray.shape == (1, 1, 2) and 0 < gray[0, 0, 0] < 1 and gray[0, 0, 0] != gray[0, 0, 1]


def test_a_pickled_npy_is_refused_without_unpickling(tmp_path):
    path = str(tmp_path / "obj.npy")
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError) as error:
        I.read_images(path, 1)
    assert str(error.value) == f"cannot read {path} as a .npy array (Object arrays cannot be loaded when " \
                               f"allow_pickle=False)"


def test_one_finite_pixel_above_one_and_floats_up_to_two_are_read_as_0_255(tmp_path):
    [(_, one)] = I.read_images(_npy(tmp_path, np.array([[[np.nan, 51.0]]])), 1, warn=[].append)
    np.testing.assert_allclose(one[0, 0, 1], 0.2, rtol=1e-6)
    [(_, small)] = I.read_images(_npy(tmp_path, np.array([[[0.0, 1.5]]]), "s.npy"), 1)
    np.testing.assert_allclose(small, [[[0.0, 1.5 / 255]]], rtol=1e-6)


def test_three_channel_sequences_read_the_mask_from_the_last_channel(tmp_path):
    array = np.ones((2, 3, 4))
    array[:, 1] = 5.0  # a middle channel is data, not the mask
    assert len(I.read_sequences(_npy(tmp_path, array), 3)) == 2
    array[1, 2] = 0.0
    with pytest.raises(DataError, match="sequence 1 has no real time step"):
        I.read_sequences(_npy(tmp_path, array, "e.npy"), 3)
    array[1, 2, 0], array[0, 2, 1] = 1.0, 3.0
    with pytest.raises(DataError, match="got 3 in sequence 0 at step 1 "):
        I.read_sequences(_npy(tmp_path, array, "m.npy"), 3)


def test_one_sequence_of_three_channels_pads_to_itself():
    sequence = np.arange(6, dtype="float32").reshape(3, 2)
    np.testing.assert_array_equal(I.pad_to_longest([sequence]), sequence[None])
    batch = I.pad_to_longest([sequence, np.ones((3, 5), dtype="float32")])
    assert batch.shape == (2, 3, 5) and batch[0, :, 2:].tolist() == [[0.0] * 3] * 3


def test_several_folders_are_all_read_and_each_skipped_file_counted(tmp_path):
    for name in ("a/1.png", "b/2.png", "b/x.txt", "b/y.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    notes = []
    assert I.expand_paths([str(tmp_path / "a"), str(tmp_path / "b")], notice=notes.append) == [
        str(tmp_path / "a" / "1.png"), str(tmp_path / "b" / "2.png")]
    assert notes == ["[Infer] --input folders: 2 input file(s); skipped 2 files (2 .txt)"]
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match=f"files in {tmp_path}/c, {tmp_path}/c \\(extensions"):
        I.expand_paths([str(tmp_path / "c"), str(tmp_path / "c")])


def test_an_old_export_with_exactly_the_three_keys_is_recognised(tmp_path):
    (tmp_path / "inference.yml").write_text("folded_batch_norms: 1\nmax_abs_diff: 0.0\ninput_shape: [1, 2, 2]\n")
    assert X.written_by_export(str(tmp_path / "inference.yml")) is True


def test_a_fifo_is_refused_like_a_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(X.ExportError, match="pipe is an existing file"):
        X.check_target(str(tmp_path / "pipe"))


def test_stage_needs_the_bytes_and_says_how_many_mebibytes_are_free(tmp_path, monkeypatch):
    monkeypatch.setattr(X.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 3 << 20})())
    assert os.path.isdir(X.stage(str(tmp_path / "inference"), needed_bytes=3 << 20))
    with pytest.raises(X.ExportError) as error:
        X.stage(str(tmp_path / "inference"), needed_bytes=(3 << 20) + 1)
    assert_says(str(error.value), f"Export.save_dir={tmp_path}/inference: ", f"{tmp_path} has 3.0 MiB free",
                "about 3.0 MiB", "another Export.save_dir")
    (tmp_path / "file").write_text("x")
    with pytest.raises(X.ExportError, match=r"in .*/file \(File exists\); choose"):
        X.stage(str(tmp_path / "file" / "inference"))


def test_publish_moves_the_previous_export_aside_beside_it_not_elsewhere(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmp"))  # the system's temp dir is not used
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    old = _previous_export(tmp_path / "inference")
    staging = X.stage(str(old))
    X.publish(staging, str(old))
    assert os.listdir(tmp_path / "cwd") == [] and sorted(os.listdir(tmp_path)) == ["cwd", "inference"]


def test_a_bad_transform_in_inference_yml_is_named_as_such():
    with pytest.raises(ValueError, match=r"^inference.yml transforms: the options of Normalize must be a mapping"):
        I.Preprocess({"data_format": "NCHW", "input_shape": [1, 2, 2], "transforms": [{"Normalize": 3}]})


def test_stage_on_a_full_disk_needs_nothing_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(X.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 0})())
    assert os.path.isdir(X.stage(str(tmp_path / "inference")))
