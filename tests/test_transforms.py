"""Transforms in pixels against numpy, and every parameter check with its message (ppnorm/data/transforms.py)."""
import re

import numpy as np
import pytest

from ppnorm.data import DataError, build_transforms
from ppnorm.data.transforms import CenterCrop, Normalize, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, Resize


def _bilinear(image, height, width):
    """Half-pixel-centre bilinear interpolation, edges clamped (what PIL's BILINEAR does when enlarging)."""
    def axis(n_in, n_out):
        x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(x).astype(int)
        return low, np.minimum(low + 1, n_in - 1), x - low
    (top, bottom, fy), (left, right, fx) = axis(image.shape[1], height), axis(image.shape[2], width)
    rows = image[:, top] * (1 - fy)[:, None] + image[:, bottom] * fy[:, None]
    return rows[:, :, left] * (1 - fx) + rows[:, :, right] * fx


def _ramps(height, width):
    """Channel 0 holds the row index, channel 1 the column index: a crop's box can be read off its pixels."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([rows, cols]).astype("float32")


def _box(out):
    """(top, left, h, w) of the crop that an enlarged crop of _ramps came from (bilinear keeps the end values)."""
    top, left = int(round(out[0].min())), int(round(out[1].min()))
    return top, left, int(round(out[0].max())) - top + 1, int(round(out[1].max())) - left + 1


# ------------------------------------------------------------------ RandomResizedCrop
def test_random_resized_crop_is_the_bilinear_enlargement_of_the_crop_it_chose():
    image = _ramps(6, 8) + np.random.default_rng(1).random((2, 6, 8)).astype("float32") * 0.01
    ramps, crop = _ramps(6, 8), RandomResizedCrop([8, 9], scale=(0.2, 1.0))
    for seed in range(40):
        top, left, h, w = _box(crop(ramps, np.random.default_rng(seed)))
        out = crop(image, np.random.default_rng(seed))
        assert out.shape == (2, 8, 9) and out.dtype == np.float32
        np.testing.assert_allclose(out, _bilinear(image[:, top:top + h, left:left + w], 8, 9), atol=1e-5)


def _reference_box(rng, height, width, scale, ratio):
    """torchvision's rule: up to 10 tries of an area uniform in scale, an aspect log-uniform in ratio."""
    for _ in range(10):
        area = rng.uniform(scale[0], scale[1]) * height * width
        aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        w, h = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
        if 1 <= w <= width and 1 <= h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    return 0, 0, height, width


@pytest.mark.parametrize("scale,ratio", [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.3, 0.6), (0.5, 2.0)),
                                         ((0.9, 1.0), (1.5, 3.0))])
def test_random_resized_crop_draws_its_box_from_the_rng_like_torchvision(scale, ratio):
    crop = RandomResizedCrop([12, 12], scale=scale, ratio=ratio)
    for seed in range(60):
        rng, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        assert _box(crop(_ramps(10, 12), rng)) == _reference_box(ref, 10, 12, scale, ratio)
        assert rng.random() == ref.random()  # the same draws were taken: later transforms see the same rng


def test_random_resized_crop_reaches_every_offset_and_respects_scale_and_ratio():
    fixed = RandomResizedCrop(8, scale=(0.25, 0.25), ratio=(1.0, 1.0))  # always 4x4 of an 8x8 image
    boxes = {_box(fixed(_ramps(8, 8), np.random.default_rng(s))) for s in range(400)}
    assert boxes == {(t, c, 4, 4) for t in range(5) for c in range(5)}
    wide = RandomResizedCrop(8, scale=(2 / 3, 2 / 3), ratio=(2.0, 2.0))  # 8 wide, 4 high: the full width is taken
    assert {_box(wide(_ramps(6, 8), np.random.default_rng(s))) for s in range(60)} == {(t, 0, 4, 8) for t in range(3)}
    crop, areas, logs = RandomResizedCrop(40, scale=(0.2, 0.6), ratio=(0.5, 2.0)), [], []
    for seed in range(300):
        _, _, h, w = _box(crop(_ramps(40, 40), np.random.default_rng(seed)))
        areas.append(h * w / 1600)
        logs.append(np.log(w / h))
    assert 0.17 < min(areas) < 0.25 and 0.5 < max(areas) < 0.64 and 0.37 < np.mean(areas) < 0.43
    assert min(logs) < -0.5 and max(logs) > 0.5 and abs(np.mean(logs)) < 0.1 and max(np.abs(logs)) < np.log(2) + 0.1


def test_random_resized_crop_falls_back_to_the_whole_image():
    image = np.random.default_rng(0).random((1, 6, 6)).astype("float32")
    for scale, ratio in (((1.0, 1.0), (4.0, 4.0)), ((0.001, 0.001), (1.0, 1.0))):  # too wide; rounds to 0 pixels
        out = RandomResizedCrop(9, scale=scale, ratio=ratio)(image, np.random.default_rng(3))
        np.testing.assert_allclose(out, _bilinear(image, 9, 9), atol=1e-5)
    one = RandomResizedCrop(3, scale=(1 / 9, 1 / 9), ratio=(1.0, 1.0))  # a 1x1 crop is a crop, not a fallback
    image = np.arange(9, dtype="float32").reshape(1, 3, 3)
    values = {float(one(image, np.random.default_rng(s))[0, 0, 0]) for s in range(60)}
    assert values == set(range(9)) and all(np.ptp(one(image, np.random.default_rng(s))) == 0 for s in range(5))


def test_random_resized_crop_same_size_crop_is_the_pixels():
    image = np.random.default_rng(0).random((3, 5, 5)).astype("float32")
    out = RandomResizedCrop(5, scale=(1.0, 1.0), ratio=(1.0, 1.0))(image, np.random.default_rng(0))
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("options,message", [
    ({"scale": 0.5}, "RandomResizedCrop: scale must be [low, high], got 0.5"),
    ({"scale": [0.1, 0.5, 0.9]}, "RandomResizedCrop: scale must be [low, high], got [0.1, 0.5, 0.9]"),
    ({"scale": [-0.1, 0.5]}, "RandomResizedCrop: scale must be a finite number in [0.0, 1.0], got -0.1"),
    ({"scale": [0.5, 1.01]}, "RandomResizedCrop: scale must be a finite number in [0.0, 1.0], got 1.01"),
    ({"scale": [0.6, 0.5]}, "RandomResizedCrop: scale must be [low, high] with 0 < high and low <= high, got [0.6, 0.5]"),
    ({"scale": [0, 0]}, "RandomResizedCrop: scale must be [low, high] with 0 < high and low <= high, got [0, 0]"),
    ({"scale": [0.1, True]}, "RandomResizedCrop: scale must be a finite number in [0.0, 1.0], got True"),
    ({"ratio": [0.0009, 1.0]}, "RandomResizedCrop: ratio must be a finite number in [0.001, 1000.0], got 0.0009"),
    ({"ratio": [1.0, 1001]}, "RandomResizedCrop: ratio must be a finite number in [0.001, 1000.0], got 1001"),
    ({"ratio": [2.0, 1.0]}, "RandomResizedCrop: ratio must be [low, high] with 0 < high and low <= high, got [2.0, 1.0]"),
    ({"ratio": "wide"}, "RandomResizedCrop: ratio must be [low, high], got 'wide'"),
    ({"size": [4, 0]}, "RandomResizedCrop: size must be a positive integer or [height, width], got [4, 0]"),
])
def test_random_resized_crop_parameter_errors(options, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        RandomResizedCrop(**{"size": 4, **options})


def test_random_resized_crop_parameter_edges_are_accepted():
    for scale, ratio in (([0.0, 1e-9], [1e-3, 1e3]), ((0.5, 0.5), (1.0, 1.0)), ([0, 1], [0.001, 0.001])):
        crop = RandomResizedCrop([3, 5], scale=scale, ratio=ratio)
        assert (crop.scale, crop.ratio) == (tuple(map(float, scale)), tuple(map(float, ratio)))
        assert crop(np.ones((1, 4, 4), "float32"), np.random.default_rng(0)).shape == (1, 3, 5)


# ------------------------------------------------------------------ Resize, flip, crop, Normalize
def test_resize_enlarges_bilinearly_and_keeps_the_aspect_for_an_int():
    image = np.random.default_rng(2).random((2, 3, 4)).astype("float32")
    np.testing.assert_allclose(Resize([5, 7])(image, None), _bilinear(image, 5, 7), atol=1e-5)
    np.testing.assert_allclose(Resize(6)(image, None), _bilinear(image, 6, 8), atol=1e-5)  # shorter side 3 -> 6
    np.testing.assert_allclose(Resize(6)(image[:, :, :2], None), _bilinear(image[:, :, :2], 9, 6), atol=1e-5)
    assert Resize(image.shape[1])(image, None) is image and Resize([3, 4])(image, None) is image
    assert Resize(1)(np.ones((1, 4, 6), "float32"), None).shape == (1, 1, 2)  # round(1.5)
    assert Resize(2)(np.ones((1, 4, 5), "float32"), None).shape == (1, 2, 2)  # round(2.5), half to even
    assert Resize(1)(np.ones((1, 40, 4), "float32"), None).shape == (1, 10, 1)


def test_flip_follows_the_rng_draw_and_its_probability():
    image = np.arange(12, dtype="float32").reshape(1, 3, 4)
    for prob in (0.0, 0.3, 0.5, 1.0):
        flip = RandomHorizontalFlip(prob) if prob != 0.5 else RandomHorizontalFlip()
        for seed in range(50):
            flipped = np.random.default_rng(seed).random() < prob
            out = flip(image, np.random.default_rng(seed))
            np.testing.assert_array_equal(out, image[:, :, ::-1] if flipped else image)


def test_random_crop_without_padding_and_with_a_fill():
    image = np.arange(1, 13, dtype="float32").reshape(1, 3, 4)
    crops = {RandomCrop([3, 2])(image, np.random.default_rng(s)).tobytes() for s in range(60)}
    assert crops == {np.ascontiguousarray(image[:, :, c:c + 2]).tobytes() for c in range(3)}
    out = RandomCrop(5, padding=1, fill=-2.5)(image, np.random.default_rng(0))
    expected = np.pad(image, ((0, 0), (1, 1), (1, 1)), constant_values=-2.5)
    assert any(np.array_equal(out, expected[:, :, c:c + 5]) for c in range(2))


@pytest.mark.parametrize("build,message", [
    (lambda: RandomCrop(4, padding=-1), "RandomCrop: padding must be an integer >= 0, got -1"),
    (lambda: RandomCrop(4, padding=1.0), "RandomCrop: padding must be an integer >= 0, got 1.0"),
    (lambda: RandomCrop(4, padding=True), "RandomCrop: padding must be an integer >= 0, got True"),
    (lambda: RandomCrop(4, fill=float("inf")), "RandomCrop: fill must be a finite number in [-inf, inf], got inf"),
    (lambda: RandomCrop(4, fill="0"), "RandomCrop: fill must be a finite number in [-inf, inf], got '0'"),
    (lambda: RandomCrop([4, 4, 4]), "RandomCrop: size must be a positive integer or [height, width], got [4, 4, 4]"),
    (lambda: RandomCrop([True, 4]), "RandomCrop: size must be a positive integer or [height, width], got [True, 4]"),
    (lambda: RandomCrop(2.0), "RandomCrop: size must be a positive integer or [height, width], got 2.0"),
    (lambda: RandomHorizontalFlip(-0.01), "RandomHorizontalFlip: prob must be a finite number in [0.0, 1.0], got -0.01"),
    (lambda: RandomHorizontalFlip(1.01), "RandomHorizontalFlip: prob must be a finite number in [0.0, 1.0], got 1.01"),
    (lambda: RandomHorizontalFlip(True), "RandomHorizontalFlip: prob must be a finite number in [0.0, 1.0], got True"),
    (lambda: Normalize([], [1.0]), "Normalize: mean must be a finite number or a list of them, got []"),
    (lambda: Normalize([0.5], [float("inf")]),
     "Normalize: std must be a finite number or a list of them (each >= 1e-06), got [inf]"),
    (lambda: Normalize(False, 1.0), "Normalize: mean must be a finite number or a list of them, got [False]"),
    (lambda: Normalize([0.5], [9e-7]), "Normalize: std must be a finite number or a list of them (each >= 1e-06), "
                                       "got [9e-07]"),
    (lambda: Normalize([0.1, 0.2], [1.0, 2.0, 3.0]), "Normalize: 2 mean values but 3 std values; give as many std "
                                                     "values as mean values, one per image channel"),
    (lambda: Normalize([0.5] * 3, [0.2]), "Normalize: 3 mean values but 1 std values; give as many std values as "
                                          "mean values, one per image channel"),  # no image could pass __call__
])
def test_parameter_errors_word_for_word(build, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        build()


def test_parameter_edges_are_accepted():
    assert RandomCrop(np.int64(3), padding=np.int64(0)).size == (3, 3) and RandomCrop((2, 5)).size == (2, 5)
    assert RandomHorizontalFlip(0).prob == 0.0 and RandomHorizontalFlip(np.float32(1.0)).prob == 1.0
    norm = Normalize([0.5, -1.0], [1e-6, 3.0])
    assert norm.std.dtype == np.float32 and norm.std.shape == (2, 1, 1) and norm.mean.shape == (2, 1, 1)
    assert Normalize(0.5, 2.0).mean.shape == (1, 1, 1)


def test_normalize_values_per_channel():
    image = np.random.default_rng(0).random((3, 2, 5)).astype("float32")
    mean, std = [0.485, 0.456, 0.406], (0.229, 0.224, 0.225)
    out = Normalize(mean, std)(image, None)
    np.testing.assert_allclose(out, (image - np.array(mean)[:, None, None]) / np.array(std)[:, None, None], rtol=1e-6)
    np.testing.assert_allclose(Normalize(0.5, 0.25)(image[:1], None), (image[:1] - 0.5) / 0.25, rtol=1e-6)


@pytest.mark.parametrize("mean,std,channels,message", [
    ([0.5], [0.2], 3, "Normalize: 1 mean/std value for an image with 3 channel(s); give one value per channel, e.g. "
                      "mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] (ImageNet's), or repeat one value 3 "
                      "times to treat the channels alike"),
    ([0.5] * 3, [0.2] * 3, 2, "Normalize: 3 mean/std values for an image with 2 channel(s); give one value per "
                              "channel, e.g. 2 value(s) each, or repeat one value 2 times to treat the channels alike"),
])
def test_normalize_channel_mismatch_message(mean, std, channels, message):
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        Normalize(mean, std)(np.zeros((channels, 2, 2), "float32"), None)


# ------------------------------------------------------------------ build_transforms and Compose
def test_compose_returns_contiguous_float32_in_order():
    image = np.arange(2 * 3 * 4, dtype="float64").reshape(2, 3, 4)
    compose = build_transforms([{"RandomHorizontalFlip": {"prob": 1.0}}, {"CenterCrop": {"size": [3, 2]}},
                                {"Normalize": {"mean": [1.0, 2.0], "std": [2.0, 4.0]}}])
    out = compose(image, np.random.default_rng(0))
    expected = (image[:, :, ::-1][:, :, 1:3] - np.array([1.0, 2.0])[:, None, None]) / np.array([2.0, 4.0])[:, None, None]
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    for empty in (None, []):
        same = build_transforms(empty)(image[:, :, ::-1], None)
        assert same.dtype == np.float32 and same.flags.c_contiguous
        np.testing.assert_array_equal(same, image[:, :, ::-1])


def test_build_transforms_entry_forms():
    image = np.arange(6, dtype="float32").reshape(1, 2, 3)
    for spec in ("RandomHorizontalFlip", {"RandomHorizontalFlip": None}, {"RandomHorizontalFlip": {}}):
        flip = build_transforms([spec])
        assert flip.transforms[0].prob == 0.5
        outs = {flip(image, np.random.default_rng(s)).tobytes() for s in range(20)}
        assert outs == {image.tobytes(), np.ascontiguousarray(image[:, :, ::-1]).tobytes()}


@pytest.mark.parametrize("specs,message", [
    ({"RandomCrop": {"size": 4}}, "DataLoader.Train.transforms must be a list of 'Name: {options}' entries, "
                                  "got {'RandomCrop': {'size': 4}}"),
    ([{"RandomCrop": {"size": 4}, "Resize": {"size": 4}}], "DataLoader.Train.transforms: each entry must be one "
     "'Name: {options}' mapping, got {'RandomCrop': {'size': 4}, 'Resize': {'size': 4}}"),
    ([3], "DataLoader.Train.transforms: each entry must be one 'Name: {options}' mapping, got 3"),
    ([{"RandomCrop": [4]}], "DataLoader.Train.transforms: the options of RandomCrop must be a mapping, got [4]"),
    ([{"Resize": {"size": -1}}], "DataLoader.Train.transforms: Resize: size must be a positive integer or "
                                 "[height, width], got -1"),
    ([{"RandomResizedCrop": {"size": 4, "scale": [1, 0.5]}}], "DataLoader.Train.transforms: RandomResizedCrop: "
     "scale must be [low, high] with 0 < high and low <= high, got [1, 0.5]"),
])
def test_build_transforms_errors_name_where(specs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        build_transforms(specs, where="DataLoader.Train.transforms")


def test_build_transforms_default_where_and_type_errors():
    with pytest.raises(ValueError, match=r"^transforms must be a list of 'Name: \{options\}' entries, got 'Resize'$"):
        build_transforms("Resize")
    with pytest.raises(ValueError, match=r"^transforms: RandomCrop: padding must be an integer >= 0, got -2$"):
        build_transforms([{"RandomCrop": {"size": 2, "padding": -2}}])


# ------------------------------------------------------------------ edges found by mutation testing
def test_random_resized_crop_never_takes_a_crop_of_zero_width_or_height():
    image = np.random.default_rng(0).random((1, 6, 6)).astype("float32")
    for ratio in ((0.1, 0.1), (10.0, 10.0)):  # area 1: 0 x 3 or 3 x 0 pixels after rounding, so the whole image
        out = RandomResizedCrop(9, scale=(1 / 36, 1 / 36), ratio=ratio)(image, np.random.default_rng(0))
        np.testing.assert_allclose(out, _bilinear(image, 9, 9), atol=1e-5)


def test_random_crop_default_fill_dtype_and_size_errors():
    image = np.arange(1, 36, dtype="float32").reshape(1, 5, 7)
    out = RandomCrop([7, 9], padding=1)(image, np.random.default_rng(0))  # the whole padded image
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.pad(image, ((0, 0), (1, 1), (1, 1))))
    for size in ([8, 4], [3, 10], [8, 10]):  # too high, too wide, both
        message = f"RandomCrop: size {size[0]}x{size[1]} is larger than the padded image 7x9 (padding 1); " \
                  f"use a smaller size or more padding"
        with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
            RandomCrop(size, padding=1)(image, np.random.default_rng(0))


def test_center_crop_offsets_and_errors():
    image = np.arange(10 * 9, dtype="float32").reshape(1, 10, 9)
    np.testing.assert_array_equal(CenterCrop([2, 1])(image, None), image[:, 4:6, 4:5])  # (10-2)//2, (9-1)//2
    for size in ([11, 4], [4, 10], [11, 10]):
        message = f"CenterCrop: size {size[0]}x{size[1]} is larger than the image 10x9; put a Resize before it " \
                  f"or use a smaller size"
        with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
            CenterCrop(size)(image, None)
    with pytest.raises(DataError, match=r"^CenterCrop: size 7x4 is larger than the image 5x9;"):  # too high only
        CenterCrop([7, 4])(np.zeros((1, 5, 9), "float32"), None)
    with pytest.raises(ValueError, match=r"^CenterCrop: size must be a positive integer or \[height, width\], got 0$"):
        CenterCrop(0)


def test_normalize_mismatch_message_counts_two_values_as_plural():
    message = "Normalize: 2 mean/std values for an image with 3 channel(s); give one value per channel"
    with pytest.raises(DataError, match="^" + re.escape(message)):
        Normalize([0.5, 0.5], [0.2, 0.2])(np.zeros((3, 2, 2), "float32"), None)
