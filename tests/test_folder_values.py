"""image_folder and file_list on tiny trees: the pixels and labels each sample gets (labels silently wrong would train a
wrong model), the summary line, what a list line may look like, and every refusal word for word."""
import os
from collections import Counter

import numpy as np
import pytest
from helpers import assert_says
from PIL import Image

from ppnorm.data import DataError
from ppnorm.data import folder as F


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype="uint8"), mode).save(path)
    return path


RGB = np.array([[[255, 0, 51], [0, 102, 255]]], dtype="uint8")  # 1 x 2 pixels


# --- decoding --------------------------------------------------------------------------------------------------------

def test_an_rgb_file_is_chw_float32_in_unit_range(tmp_path):
    image = F.load_image_file(str(_png(tmp_path / "a.png", RGB)))
    assert image.dtype == np.float32 and image.shape == (3, 1, 2)
    np.testing.assert_allclose(image[:, 0, 0], [1.0, 0.0, 0.2], rtol=1e-6)
    np.testing.assert_allclose(image[:, 0, 1], [0.0, 0.4, 1.0], rtol=1e-6)


def test_modes_are_converted_to_the_data_sets_mode(tmp_path):
    gray = F.load_image_file(str(_png(tmp_path / "g.png", [[0, 255, 51]], "L")), "RGB")
    assert gray.shape == (3, 1, 3)
    np.testing.assert_allclose(gray[:, 0, 2], [0.2] * 3, rtol=1e-6)
    as_l = F.load_image_file(str(_png(tmp_path / "c.png", RGB)), "L")
    assert as_l.shape == (1, 1, 2)
    np.testing.assert_allclose(as_l[0, 0, 0], round(0.299 * 255 + 0.114 * 51) / 255, atol=1 / 255)


@pytest.mark.parametrize("mode, array", [("I;16", np.array([[0, 60000]], "uint16")), ("F", np.zeros((1, 2), "float32")),
                                         ("I", np.zeros((1, 2), "int32"))])
def test_16_and_32_bit_images_are_refused(tmp_path, mode, array):
    path = tmp_path / "deep.tif"
    Image.fromarray(array).save(path)
    assert Image.open(path).mode == mode
    with pytest.raises(DataError) as error:
        F.load_image_file(str(path))
    assert str(error.value) == f"image {path} has mode {mode} (16/32-bit); save it as 8-bit RGB or L"


def test_missing_and_damaged_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError) as error:
        F.load_image_file(str(tmp_path / "gone.png"))
    assert str(error.value) == f"image file not found: {tmp_path}/gone.png"
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError) as error:
        F.load_image_file(str(tmp_path / "bad.png"))
    assert_says(str(error.value), f"{tmp_path}/bad.png (UnidentifiedImageError: ", ", ".join(F.IMAGE_EXTENSIONS))


def test_an_error_without_text_still_names_its_type(tmp_path, monkeypatch):
    path = _png(tmp_path / "a.png", RGB)

    def failing(*args, **kwargs):
        raise OSError()
    monkeypatch.setattr(F.Image, "open", failing)
    with pytest.raises(DataError) as error:
        F.load_image_file(str(path))
    assert str(error.value).startswith(f"cannot decode image {path} (OSError: ); expected an intact .jpg, ")

    def two_lines(*args, **kwargs):
        raise ValueError(f"broken '{path}'\nsecond line")
    monkeypatch.setattr(F.Image, "open", two_lines)
    with pytest.raises(DataError, match=r"\(ValueError: broken\); expected"):
        F.load_image_file(str(path))


# --- image_folder ----------------------------------------------------------------------------------------------------

def _tree(root):
    _png(root / "cat" / "2.png", RGB)
    _png(root / "cat" / "1.png", RGB[:, ::-1])
    _png(root / "ant" / "x.png", RGB // 5)
    (root / "ant" / "notes.txt").write_text("x")
    (root / ".ipynb_checkpoints").mkdir()
    return root


def test_image_folder_labels_classes_alphabetically_and_reads_each_path(tmp_path):
    data = F.ImageFolder(str(_tree(tmp_path / "data")))
    assert data.classes == ["ant", "cat"] and data.num_classes == 2 and len(data) == 3
    assert data.paths == [str(tmp_path / "data" / name) for name in ("ant/x.png", "cat/1.png", "cat/2.png")]
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [0, 1, 1]
    image, label = data[1]
    assert label == 1 and type(label) is int
    np.testing.assert_array_equal(image, F.load_image_file(data.paths[1]))
    assert data.describe(2) == f"file {tmp_path}/data/cat/2.png" and data.source == str(tmp_path / "data")
    assert data.summary("train") == (f"image_folder train ({tmp_path}/data): 2 classes (ant, cat), 3 images; "
                                     f"skipped 1 file (1 .txt)")
    assert F.ImageFolder(str(tmp_path / "data"), mode="L")[0][0].shape == (1, 1, 2)


def test_a_summary_lists_ten_classes_then_dots_and_nothing_skipped_says_nothing(tmp_path):
    for index in range(11):
        _png(tmp_path / f"c{index:02d}" / "a.png", RGB)
    data = F.ImageFolder(str(tmp_path))
    assert data.summary("eval") == (f"image_folder eval ({tmp_path}): 11 classes (c00, c01, c02, c03, c04, c05, c06, "
                                    f"c07, c08, c09, ...), 11 images")
    ten = tmp_path / "ten"
    for index in range(10):
        _png(ten / f"c{index}" / "a.png", RGB)
    assert F.ImageFolder(str(ten)).summary("t").endswith("(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9), 10 images")


@pytest.mark.parametrize("mode", ["rgb", "RGBA", "l", None])
def test_other_modes_are_refused(tmp_path, mode):
    with pytest.raises(ValueError) as error:
        F.ImageFolder(str(_tree(tmp_path / "d")), mode=mode)
    assert str(error.value) == f"image mode must be 'RGB' or 'L', got '{mode}'"


# --- file_list --------------------------------------------------------------------------------------------------------

def _list(tmp_path, text, name="list.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


@pytest.fixture
def images(tmp_path):
    for name in ("a.png", "b c.png", "sub/d.png"):
        _png(tmp_path / name, RGB)
    return tmp_path


def test_a_list_gives_paths_under_the_root_and_labels_in_file_order(images):
    listing = _list(images, "\ufeffb c.png 2\n\n  sub/d.png\t0  \r\na.png 1\n   \n")
    data = F.FileList(listing, root=str(images))
    assert data.paths == [str(images / "b c.png"), str(images / "sub" / "d.png"), str(images / "a.png")]
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [2, 0, 1]
    assert data.classes == ["0", "1", "2"] and data.skipped == Counter() and data.source == listing
    assert data[0][1] == 2 and data.summary("train") == f"file_list train ({listing}): 3 classes (0, 1, 2), 3 images"


def test_class_names_name_the_labels_and_must_cover_them(images):
    listing = _list(images, "a.png 0\nsub/d.png 1\n")
    assert F.FileList(listing, str(images), class_names=("cat", "dog", "eel")).classes == ["cat", "dog", "eel"]
    with pytest.raises(DataError) as error:
        F.FileList(listing, str(images), class_names=["cat"])
    assert_says(str(error.value), f"file_list: {listing} ", "(1 class_names)", "sample 1 ", "label 1", "0..0")


def test_a_delimiter_splits_at_its_last_occurrence_and_keeps_spaces_in_paths(images):
    listing = _list(images, " b c.png,1\na.png , 0\n")
    data = F.FileList(listing, str(images), delimiter=",")
    assert data.paths == [str(images / "b c.png"), str(images / "a.png")] and data.labels.tolist() == [1, 0]
    with pytest.raises(DataError) as error:
        F.FileList(_list(images, "a.png 0\n", "space.txt"), str(images), delimiter=",")
    assert str(error.value) == f"file_list: {images}/space.txt line 1: expected 'path,label', got 'a.png 0'"


@pytest.mark.parametrize("delimiter", ["", 3, b","])
def test_a_delimiter_must_be_a_non_empty_string(images, delimiter):
    with pytest.raises(ValueError) as error:
        F.FileList(_list(images, "a.png 0\n"), str(images), delimiter=delimiter)
    assert str(error.value) == f"file_list: delimiter must be a non-empty string, got {delimiter!r}"


@pytest.mark.parametrize("text, message", [
    ("a.png 0\nb.png\n", "line 2: expected 'path label', got 'b.png'"),
    ("a.png 0\na.png x\n", "line 2: expected 'path label', got 'a.png x'"),
    ("a.png 1.0\n", "line 1: expected 'path label', got 'a.png 1.0'"),
    ("a.png 0\na.png -1\n", "line 2: label -1 is negative; labels are 0..K-1"),
    ("a.png --1\n", "line 1: expected 'path label', got 'a.png --1'"),  # a raw ValueError before
    ("a.png \u00b2\n", "line 1: expected 'path label', got 'a.png \u00b2'"),  # "²".isdigit() but no int
    ("a.png 0\nmissing.png 1\n", "line 2: image file not found: {root}/missing.png (paths are relative to "
                                 "root='{root}')"),
    ("\n  \n", "has no 'path label' lines")])
def test_bad_list_lines_are_named_by_number(images, text, message):
    listing = _list(images, text)
    with pytest.raises(DataError) as error:
        F.FileList(listing, str(images))
    assert str(error.value) == f"file_list: {listing} {message.format(root=images)}"


def test_hidden_paths_are_left_out_and_counted_in_lines(images):
    listing = _list(images, "a.png 0\n.ipynb_checkpoints/a.png 1\nsub/.x.png 1\n./a.png 1\n../x/__pycache__/y.png 0\n"
                            "sub\\.hidden\\z.png 0\n")
    data = F.FileList(listing, str(images))
    assert data.labels.tolist() == [0, 1] and data.skipped == Counter({"hidden path": 4})
    assert data.summary("eval").endswith("2 classes (0, 1), 2 images; skipped 4 lines (4 hidden path)")
    paths, labels = F.parse_list(listing, str(images))  # without a counter: left out all the same
    assert labels.tolist() == [0, 1] and len(paths) == 2


def test_a_list_that_is_not_utf8_names_the_line_and_byte(images):
    listing = _list(images, b"a.png 0\nb\xe9.png 1\n")
    with pytest.raises(DataError) as error:
        F.FileList(listing, str(images))
    assert str(error.value) == f"file_list: {listing} line 2 is not UTF-8 text (byte 0xe9); save the list as UTF-8"
    first = _list(images, b"\xff a.png 0\n", "first.txt")
    with pytest.raises(DataError, match=r"first.txt line 1 is not UTF-8 text \(byte 0xff\)"):
        F.read_list_lines(first)


def test_a_missing_list_file_says_where_it_was_looked_for(images, monkeypatch):
    monkeypatch.chdir(images)
    with pytest.raises(DataError) as error:
        F.FileList("nope.txt")
    assert_says(str(error.value), "file_list: ", "not found: nope.txt", f"(in {images})", "'path label'")


def test_hidden_path_looks_at_every_folder_of_the_entry():
    assert [F._hidden_path(p) for p in ("a/b.png", ".a/b.png", "a/.b.png", "./a.png", "../a.png", "a//b.png",
                                        "__MACOSX/a.png", "a\\.b\\c.png")] == [
        False, True, True, False, False, False, True, True]


def test_a_path_may_hold_the_delimiter_and_no_root_means_the_current_folder(images, monkeypatch):
    _png(images / "x,y.png", RGB)
    monkeypatch.chdir(images)
    data = F.FileList(_list(images, "x,y.png,1\nsub/d.png,0\n"), delimiter=",")
    assert data.paths == ["x,y.png", os.path.join("sub", "d.png")] and data.labels.tolist() == [1, 0]
    np.testing.assert_array_equal(data[0][0], F.load_image_file(str(images / "x,y.png")))
