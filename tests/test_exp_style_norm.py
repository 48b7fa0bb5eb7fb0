"""style_norm: the style transforms against per-image numpy loops, the in / ln axes on [N, C, H, W], and the
experiment's verdicts recomputed from its runs.csv."""
import csv

import numpy as np
import paddle
import pytest

from ppnorm.experiments.stats import t_quantile
from ppnorm.experiments.styles import brightness, contrast, gamma, invert, random_style, shifted, style_label_task
from ppnorm.nn.norm import build_norm

from experiment_runs import read_runs, run_quick


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 1, size=(5, 1, 4, 3))


def test_contrast_brightness_invert_gamma_match_a_loop_over_images(images):
    factors, shifts = np.array([0.5, 1.0, 2.0, 3.0, 0.0]), np.array([-0.2, 0.0, 0.1, 0.8, 1.0])
    flips, powers = np.array([True, False, True, False, True]), np.array([0.4, 1.0, 2.0, 3.0, 0.5])
    for i, x in enumerate(images):
        np.testing.assert_allclose(contrast(images, factors)[i], x.mean() + factors[i] * (x - x.mean()), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(brightness(images, shifts)[i], x + shifts[i])
        np.testing.assert_array_equal(invert(images, flips)[i], 1 - x if flips[i] else x)
        np.testing.assert_allclose(gamma(images, powers)[i], x ** powers[i], rtol=1e-15, atol=0)  # numpy's x ** 2 squares
    assert contrast(images, 0.0).std(axis=(1, 2, 3)) == pytest.approx(np.zeros(5), abs=1e-12)  # flat at its mean
    np.testing.assert_array_equal(invert(images), 1 - images)
    np.testing.assert_array_equal(gamma(images - 0.5, 2.0), np.maximum(images - 0.5, 0) ** 2)
    np.testing.assert_array_equal(shifted(images, "clean", None), images)


def test_random_style_and_label_task_draw_per_image_values(images):
    got = random_style(images, np.random.default_rng(3), (0.5, 1.5), (-0.2, 0.2))
    rng = np.random.default_rng(3)
    factors, shifts = rng.uniform(0.5, 1.5, 5), rng.uniform(-0.2, 0.2, 5)
    for i, x in enumerate(images):
        np.testing.assert_allclose(got[i], x.mean() + factors[i] * (x - x.mean()) + shifts[i], rtol=0, atol=1e-12)
    styled, labels = style_label_task(images, np.random.default_rng(1), "brightness", -0.25, 0.25)
    np.testing.assert_allclose(styled - images, np.where(labels == 1, 0.25, -0.25).reshape(-1, 1, 1, 1) + 0 * images)
    assert set(labels) <= {0, 1}


@pytest.mark.parametrize("kind, axes", [("in", (2, 3)), ("ln", (1, 2, 3))])
def test_in_and_ln_normalize_the_expected_axes_of_nchw(kind, axes):
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(3, 4, 5, 5)).astype("float32")
    out = build_norm(kind, 4, epsilon=1e-5)(paddle.to_tensor(x)).numpy()  # fresh affine: gamma 1, beta 0
    expected = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, expected, atol=1e-4)


def _column(runs, task, norm, key):
    return np.array([float(r[key]) for r in runs if (r["task"], r["norm"]) == (task, norm)])


def _interval(values):
    half = t_quantile(len(values)) * np.std(values, ddof=1) / np.sqrt(len(values))
    return values.mean() - half, values.mean() + half


@pytest.mark.slow
def test_style_norm_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("style_norm", tmp_path)
    runs = read_runs(tmp_path)
    assert len(runs) == 8  # 2 norms x 2 seeds x (style shifts + 1 label task)
    drop = {n: 100 * (_column(runs, "shift", n, "clean") - _column(runs, "shift", n, "inverted")) for n in ("bn", "in")}
    low, high = _interval(drop["bn"] - drop["in"])
    claim = next(c for c in ctx.claims if c["claim_en"].endswith("training: inverted"))
    assert (claim["low"], claim["high"]) == pytest.approx((low, high))
    assert claim["raw_verdict"] == ("confirmed" if low > 0 else "refuted" if high <= 0 else "inconclusive")
    low, high = _interval(100 * (_column(runs, "label: brightness", "in", "accuracy") - 0.5))
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("IN fails when the style is the label (brightness"))
    assert (claim["low"], claim["high"]) == pytest.approx((low, high))
    assert claim["raw_verdict"] == ("confirmed" if -5 < low and high < 5 else
                                "refuted" if low >= 5 or high <= -5 else "inconclusive")
    leak = next(c for c in ctx.claims if c["claim_en"].startswith("A 3x3 conv without padding followed by IN"))
    assert leak["verdict"] == "passed"
    assert (tmp_path / "style_norm.png").stat().st_size > 10_000


def _numpy_conv_in(x, weight, bias, padding):
    """Cross-correlation with zero padding, then per-sample, per-channel standardization (numpy)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k, h, w = weight.shape[-1], x.shape[2] - weight.shape[-1] + 1, x.shape[3] - weight.shape[-1] + 1
    out = np.stack([np.einsum("nkij,ckij->nc", x[:, :, i:i + k, j:j + k], weight) for i in range(h) for j in range(w)],
                   axis=-1).reshape(len(x), -1, h, w) + bias.reshape(1, -1, 1, 1)
    mean, var = out.mean(axis=(2, 3), keepdims=True), out.var(axis=(2, 3), keepdims=True)
    return (out - mean) / np.sqrt(var + 1e-5)


@pytest.mark.parametrize("padding", [0, 1])
def test_brightness_leak_matches_numpy(padding):
    from ppnorm.experiments.style_norm import DIGITS_MEAN, DIGITS_STD, brightness_leak, random_conv
    images = np.random.default_rng(4).uniform(0, 1, size=(3, 1, 6, 6))
    conv = random_conv(padding, channels=3)
    weight, bias = conv.weight.numpy().astype("float64"), conv.bias.numpy().astype("float64")
    standardize = lambda x: (x - DIGITS_MEAN) / DIGITS_STD  # noqa: E731
    before = _numpy_conv_in(standardize(images), weight, bias, padding)
    after = _numpy_conv_in(standardize(images + 0.25), weight, bias, padding)
    expected = np.abs(after - before).max() / np.abs(before).max()
    assert brightness_leak(conv, images, 0.25) == pytest.approx(expected, rel=1e-3, abs=1e-5)
    assert (expected < 1e-9) == (padding == 0)  # without padding IN removes the shift exactly


def test_full_preset_is_wider_longer_with_more_seeds():
    from ppnorm.experiments import experiments
    from ppnorm.experiments.config import load_experiment_config
    _, settings, params = load_experiment_config("configs/experiments/style_norm_full.yaml", [], experiments())
    assert (params["widths"], params["groups"], params["epochs"], params["seeds"]) == ([32, 64], 8, 30, 10)
    assert settings["output_dir"].endswith("style_norm_full") and params["norms"] == ["bn", "gn", "ln", "in"]
