"""PaddleClas's preprocessing ops on ppnorm's CHW images, each checked against PaddleClas's semantics re-computed
in numpy on the HWC uint8 array PaddleClas decodes (exact pixels; the random ops with the same Generator draws)."""
import math

import numpy as np
import pytest
from PIL import Image

from ppnorm.data import DataError, build_dataset, build_transforms
from ppnorm.data.folder import load_image_file
from ppnorm.paddleclas.ops import (CropImage, DecodeImage, NormalizeImage, RandCropImage, RandFlipImage,
                                        ResizeImage, ToCHWImage, parse_scale)
from ppnorm.paddleclas.resize import cv2_linear

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def pixels(height, width, seed=0):
    """A random HWC uint8 image (PaddleClas's decoded array) and ppnorm's CHW float32 form of it."""
    hwc = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return hwc, hwc.transpose(2, 0, 1).astype("float32") / 255.0


def as_pixels(chw):
    return np.rint(chw * 255.0).astype(np.int64).transpose(1, 2, 0)


def test_decode_keeps_rgb_or_gives_bgr_and_refuses_grey():
    hwc, chw = pixels(5, 6)
    assert np.array_equal(as_pixels(DecodeImage(to_rgb=True)(chw, None)), hwc)
    assert np.array_equal(as_pixels(DecodeImage(to_rgb=False)(chw, None)), hwc[:, :, ::-1])  # cv2's BGR
    with pytest.raises(DataError, match="3-channel"):
        DecodeImage()(chw[:1], None)
    with pytest.raises(ValueError, match="to_np"):
        DecodeImage(to_np=False)


def test_resize_halving_is_cv2s_rounded_2x2_mean():
    # cv2 INTER_LINEAR at scale 1/2 samples between 4 pixels with weights 1/2: ((a+b+c+d) + 2) >> 2
    hwc, chw = pixels(40, 48)
    out = ResizeImage(resize_short=20)(chw, None)
    blocks = hwc.astype(np.int64).reshape(20, 2, 24, 2, 3).sum(axis=(1, 3))
    assert out.shape == (3, 20, 24)
    assert np.array_equal(as_pixels(out), (blocks + 2) >> 2)


def test_resize_short_rounds_like_paddleclas_and_size_is_width_height():
    _, chw = pixels(30, 45)
    assert ResizeImage(resize_short=20)(chw, None).shape == (3, 20, 30)  # 45 * 20/30 = 30
    _, chw = pixels(7, 10)
    assert ResizeImage(resize_short=4)(chw, None).shape == (3, 4, 6)  # round(10 * 4/7 = 5.71) = 6
    assert ResizeImage(size=[24, 10])(chw, None).shape == (3, 10, 24)  # [width, height], as cv2.resize takes it
    with pytest.raises(ValueError, match="resize_short"):
        ResizeImage()


def float_bilinear(hwc, width, height):
    """Textbook half-pixel bilinear in float64 (what cv2's fixed point approximates to within one level)."""
    def taps(src, dst):
        pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
        first = np.floor(pos).astype(int)
        return first, np.minimum(first + 1, src - 1), pos - first
    x0, x1, fx = taps(hwc.shape[1], width)
    y0, y1, fy = taps(hwc.shape[0], height)
    src = hwc.astype(np.float64)
    rows = src[:, x0] * (1 - fx)[None, :, None] + src[:, x1] * fx[None, :, None]
    return rows[y0] * (1 - fy)[:, None, None] + rows[y1] * fy[:, None, None]


@pytest.mark.parametrize("size", [(37, 53, 24, 24), (32, 32, 36, 36), (20, 30, 61, 77)])
def test_cv2_backend_is_half_pixel_bilinear_within_one_level(size):
    hwc, _ = pixels(size[0], size[1])
    out = cv2_linear(hwc, size[3], size[2]).astype(np.float64)
    assert out.shape == (size[2], size[3], 3)
    assert np.abs(out - float_bilinear(hwc, size[3], size[2])).max() <= 1.0


def test_cv2_backend_equals_opencv_when_installed():
    cv2 = pytest.importorskip("cv2", reason="opencv-python is not installed (the op does not need it)")
    for height, width, out_h, out_w in [(50, 60, 32, 32), (224, 256, 224, 224), (37, 53, 24, 24)]:
        hwc, _ = pixels(height, width)
        assert np.array_equal(cv2_linear(hwc, out_w, out_h), cv2.resize(hwc, (out_w, out_h)))


def test_pil_backend_is_pils_resize():
    hwc, chw = pixels(30, 45)
    out = ResizeImage(resize_short=20, interpolation="bicubic", backend="pil")(chw, None)
    expected = np.asarray(Image.fromarray(hwc).resize((30, 20), Image.BICUBIC))
    assert np.array_equal(as_pixels(out), expected)
    with pytest.raises(ValueError, match="backend: pil"):
        ResizeImage(resize_short=20, interpolation="bicubic")  # cv2's bicubic is not re-done


def paddleclas_randcrop(hwc, size, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """PaddleClas's RandCropImage re-computed: aspect, then area, then x, then y; crop; resize to size."""
    img_h, img_w = hwc.shape[:2]
    aspect = rng.uniform(*ratio)
    bound = min((img_w / img_h) / aspect, (img_h / img_w) * aspect)
    area = img_w * img_h * rng.uniform(min(scale[0], bound), min(scale[1], bound))
    w, h = int(math.sqrt(area * aspect)), int(math.sqrt(area / aspect))
    x, y = rng.integers(0, img_w - w + 1), rng.integers(0, img_h - h + 1)
    return cv2_linear(hwc[y:y + h, x:x + w], size, size), (x, y, w, h)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_randcrop_draws_and_crops_as_paddleclas(seed):
    hwc, chw = pixels(40, 48)
    expected, window = paddleclas_randcrop(hwc, 16, np.random.default_rng(seed))
    out = RandCropImage(size=16)(chw, np.random.default_rng(seed))
    assert out.shape == (3, 16, 16) and np.array_equal(as_pixels(out), expected)
    assert RandCropImage(size=16).window(48, 40, np.random.default_rng(seed)) == window


def test_randcrop_whole_image_when_scale_and_ratio_are_one():
    hwc, chw = pixels(24, 24)
    out = RandCropImage(size=24, scale=[1.0, 1.0], ratio=[1.0, 1.0])(chw, np.random.default_rng(0))
    assert np.array_equal(as_pixels(out), hwc)
    with pytest.raises(ValueError, match="progress_size"):
        RandCropImage(size=24, progress_size=[16, 24])


@pytest.mark.parametrize("code,axes", [(1, (1,)), (0, (0,)), (-1, (0, 1))])
def test_randflip_flips_when_the_draw_is_one(code, axes):
    hwc, chw = pixels(5, 7)
    flipped = 0
    for seed in range(8):
        draw = np.random.default_rng(seed).integers(0, 2)
        out = as_pixels(RandFlipImage(flip_code=code)(chw, np.random.default_rng(seed)))
        assert np.array_equal(out, np.flip(hwc, axes) if draw == 1 else hwc)
        flipped += int(draw)
    assert 0 < flipped < 8  # both outcomes were checked
    with pytest.raises(ValueError, match="flip_code"):
        RandFlipImage(flip_code=2)


def test_crop_image_is_paddleclass_centre_crop():
    hwc, chw = pixels(7, 9)
    out = CropImage(size=[4, 3])(chw, None)  # [width, height]
    assert np.array_equal(as_pixels(out), hwc[2:5, 2:6])  # top (7-3)//2, left (9-4)//2
    with pytest.raises(DataError, match="larger than the image"):
        CropImage(size=10)(chw, None)


@pytest.mark.parametrize("scale", ["1.0/255.0", "1./255.", 1 / 255])
def test_normalize_is_float32_scale_minus_mean_over_std(scale):
    hwc, chw = pixels(6, 5)
    mean, std = np.float32(MEAN), np.float32(STD)
    expected = (hwc.astype("float32") * np.float32(1.0 / 255.0) - mean) / std  # PaddleClas, HWC
    out = NormalizeImage(scale=scale, mean=MEAN, std=STD, order="")(chw, None)
    assert out.dtype == np.float32 and np.array_equal(out, expected.transpose(2, 0, 1))


def test_normalize_scale_one_and_four_channels():
    hwc, chw = pixels(4, 4)
    out = NormalizeImage(scale=1.0, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         order="chw", channel_num=4)(chw, None)
    expected = (hwc.astype("float32") - np.float32([123.675, 116.28, 103.53])) / np.float32([58.395, 57.12, 57.375])
    assert out.shape == (4, 4, 4) and np.array_equal(out[:3], expected.transpose(2, 0, 1))
    assert not out[3].any()


def test_scale_text_is_parsed_never_evaluated():
    assert parse_scale("0.5") == 0.5 and parse_scale(".5/2") == 0.25 and parse_scale(None) == 1.0 / 255.0
    for bad in ("__import__('os')", "1/0", "2**8", "1.0/255.0/2"):
        with pytest.raises(ValueError, match="scale"):
            parse_scale(bad)


def test_to_chw_passes_ppnorms_chw_image_through():
    _, chw = pixels(3, 4)
    assert ToCHWImage()(chw, None) is chw


def test_eval_pipeline_from_a_list_file_equals_paddleclass_on_the_decoded_file(tmp_path):
    hwc, _ = pixels(40, 50, seed=5)
    Image.fromarray(hwc).save(tmp_path / "a b.png")
    (tmp_path / "val.txt").write_text("a b.png,1\n")  # delimiter ',' (a path with a space)
    data = build_dataset({"name": "file_list", "list_file": str(tmp_path / "val.txt"), "root": str(tmp_path),
                          "delimiter": ","})
    ops = build_transforms([{"DecodeImage": {"to_rgb": True}}, {"ResizeImage": {"resize_short": 20}},
                            {"CropImage": {"size": 16}}, {"NormalizeImage": {"scale": "1.0/255.0", "order": ""}}])
    image, label = data[0]
    decoded = np.asarray(Image.open(tmp_path / "a b.png").convert("RGB"))
    resized = cv2_linear(decoded, 25, 20)  # shorter side 40 -> 20, so 50 -> 25
    crop = resized[2:18, 4:20]
    expected = ((crop.astype("float32") * np.float32(1 / 255) - np.float32(MEAN)) / np.float32(STD)).transpose(2, 0, 1)
    assert label == 1 and np.array_equal(image, load_image_file(str(tmp_path / "a b.png")))
    assert np.array_equal(ops(image, np.random.default_rng(0)), expected)
