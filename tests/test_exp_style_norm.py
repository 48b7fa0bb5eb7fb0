"""style_norm's science: the style transforms against per-image numpy loops, the in / ln axes on [N, C, H, W], the
brightness leak through the zero padding against numpy, the cell against its trained model, the claims it declares and
the summary built from their verdicts. (The framework's seeding, runs, aggregation and verdicts:
tests/test_experiment_framework.py.)"""
import numpy as np
import paddle
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments, style_norm
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.context import Context
from ppnorm.experiments.framework import Results
from ppnorm.experiments.styles import brightness, contrast, gamma, invert, random_style, shifted, style_label_task
from ppnorm.experiments.training import digits
from ppnorm.nn.norm import build_norm

from experiment_runs import capture_models, quick_context


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
    from ppnorm.experiments.style_norm import DIGITS_MEAN, DIGITS_STD, brightness_leak
    images = np.random.default_rng(4).uniform(0, 1, size=(3, 1, 6, 6))
    paddle.seed(0)
    conv = paddle.nn.Conv2D(1, 3, 3, padding=padding)
    weight, bias = conv.weight.numpy().astype("float64"), conv.bias.numpy().astype("float64")
    standardize = lambda x: (x - DIGITS_MEAN) / DIGITS_STD  # noqa: E731
    before = _numpy_conv_in(standardize(images), weight, bias, padding)
    after = _numpy_conv_in(standardize(images + 0.25), weight, bias, padding)
    expected = np.abs(after - before).max() / np.abs(before).max()
    assert brightness_leak(conv, images, 0.25) == pytest.approx(expected, rel=1e-3, abs=1e-5)
    assert (expected < 1e-9) == (padding == 0)  # without padding IN removes the shift exactly


def test_full_preset_is_wider_longer_with_more_seeds():
    _, settings, params = load_experiment_config("configs/experiments/style_norm_full.yaml", [], experiments())
    assert (params["widths"], params["groups"], params["epochs"], params["seeds"]) == ([32, 64], 8, 30, 30)
    assert settings["output_dir"].endswith("style_norm_full") and params["norms"] == ["bn", "gn", "ln", "in"]


def _config(*overrides):
    return load_experiment_config("configs/experiments/style_norm.yaml", list(overrides), experiments())


def test_the_claims_compare_in_with_bn_per_shift_and_on_clean_images_and_in_with_chance_per_label_task():
    _, settings, params = _config()
    claims = style_norm.EXPERIMENT.resolve(params, settings["claims"])
    assert list(claims) == ["in_loses_less_contrast", "in_loses_less_brightness", "in_loses_less_invert",
                            "in_loses_less_gamma", "in_keeps_clean_accuracy", "in_at_chance_brightness",
                            "in_at_chance_contrast", "in_at_chance_invert"]
    loses = claims["in_loses_less_invert"]
    assert (loses.metric, loses.a, loses.b, loses.side) == ("invert_drop", {"task": "shift", "norm": "bn"},
                                                            {"task": "shift", "norm": "in"}, "greater")
    clean = claims["in_keeps_clean_accuracy"]
    assert (clean.metric, clean.a["norm"], clean.b["norm"], clean.side, clean.margin) == ("top1_pct", "in", "bn",
                                                                                          "within", 1.0)
    chance = claims["in_at_chance_contrast"]
    assert (chance.a, chance.center, chance.side, chance.margin) == ({"task": "label: contrast", "norm": "in"}, 50.0,
                                                                     "within", 5.0)
    assert all(c.expected is not None for c in claims.values())
    assert all(c.sesoi > 0 for cid, c in claims.items() if c.side != "within")
    assert "normal / inverted" in claims["in_at_chance_invert"].en and "inverted" in loses.en
    assert list(style_norm._claims({**params, "norms": ["bn", "gn"]})) == []  # no IN: nothing to claim


@pytest.mark.parametrize("override", ["params.shifts=[[contrast, 2.0], [contrast, 3.0]]",
                                      "params.label_tasks=[[blur, 0, 1]]"])
def test_each_style_kind_at_most_once_and_known(override):
    with pytest.raises(ConfigError, match=r"params.shifts, label_tasks: each of contrast, brightness, invert, gamma"):
        _config(override)


def test_the_summary_lists_the_claims_by_their_verdicts(tmp_path):
    _, _, params = _config()
    claims = style_norm.EXPERIMENT.resolve(params)
    verdicts = dict.fromkeys(claims, "inconclusive")
    verdicts.update(in_loses_less_brightness="confirmed", in_loses_less_contrast="refuted",
                    in_keeps_clean_accuracy="no effect")
    results = Results(params, claims, verdicts=verdicts)
    for lang, words in (("en", ("confirmed: ", "refuted: ", "no effect: ", "inconclusive: ")),
                        ("zh", ("成立：", "不成立：", "无效应：", "不确定："))):
        ctx = Context("style_norm", style_norm, {"seed": 0, "quick": True, "output_dir": str(tmp_path),
                                                  "use_visualdl": False, "lang": lang}, params)
        text = style_norm._summary(ctx, results)
        starts = [text.index(word) for word in words]
        assert starts == sorted(starts) and starts[0] == 0  # in the order of the verdict words, confirmed first
        said = {cid: ctx.tr(c.text(c.en, params), c.text(c.zh, params)) for cid, c in claims.items()}
        assert said["in_loses_less_brightness"] in text[:starts[1]]
        assert said["in_loses_less_contrast"] in text[starts[1]:starts[2]]
        assert said["in_keeps_clean_accuracy"] in text[starts[2]:starts[3]]
        assert all(text.count(sentence) == 1 for sentence in said.values())


@pytest.mark.slow
def test_the_cell_measures_its_trained_model(tmp_path, monkeypatch):
    """shift: top-1 is the trained model's clean accuracy (numpy argmax) and each drop is clean minus shifted
    accuracy; label: top-1 on the style-as-label test set drawn after the training set from the seed's generator."""
    built = capture_models(monkeypatch, style_norm)
    ctx = quick_context(style_norm, tmp_path)
    params = ctx.params

    def top1(model, images, labels):
        model.eval()
        x = paddle.to_tensor(((images - style_norm.DIGITS_MEAN) / style_norm.DIGITS_STD).astype("float32"))
        return 100 * np.mean(model(x).numpy().argmax(axis=1) == labels)

    test, labels = digits("test", normalize=False)
    test, labels = test.numpy().astype("float64"), labels.numpy()
    ctx.seed_everything(1)
    m = style_norm.cell(ctx, {"task": "shift", "norm": "in"}, 1)
    assert m["top1_pct"] == pytest.approx(top1(built[-1], test, labels))
    for kind, value in params["shifts"]:
        assert m[f"{kind}_drop"] == pytest.approx(m["top1_pct"] - top1(built[-1], shifted(test, kind, value), labels))
    ctx.seed_everything(1)
    m = style_norm.cell(ctx, {"task": "label: contrast", "norm": "bn"}, 1)
    rng = np.random.default_rng(1)
    style_label_task(digits("train", normalize=False)[0].numpy().astype("float64"), rng, "contrast", 0.5, 1.5)
    assert m["top1_pct"] == pytest.approx(top1(built[-1], *style_label_task(test, rng, "contrast", 0.5, 1.5)))
    assert all(np.isnan(m[drop]) for drop in style_norm.DROPS)
