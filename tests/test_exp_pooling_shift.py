"""pooling_shift: the shift measurements against numpy, and its verdicts against its runs."""

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments.pooling_shift import measure, padded, shift
from ppnorm.experiments.stats import t_quantile

from experiment_runs import read_runs, run_quick


def _model(kind):
    paddle.seed(1)
    model = ppnorm.build_model("simple_cnn", widths=[4, 4], convs_per_stage=1, in_channels=1, num_classes=10,
                               norm="bn", downsample=kind)
    model.eval()
    return model


def test_padding_and_shift_keep_every_stroke():
    images, labels = padded("test", 2)
    assert images.shape[2:] == [12, 12] and len(labels) == 360
    moved = shift(images, 2, 3).numpy()
    np.testing.assert_array_equal(moved[..., 2:], images.numpy()[..., :-2])
    np.testing.assert_array_equal(moved[..., :2], images.numpy()[..., -2:])  # only the empty border wraps
    assert np.all(images.numpy()[..., -2:] == images.numpy().min())


def test_measure_against_numpy_max_pooling():
    model, (images, _) = _model("max"), padded("test", 2)
    images = images[:16]
    unchanged, change, stable = measure(model, images, 1)
    model.eval()  # measure() hands the model back in training mode
    results = []
    for axis in (3, 2):
        with paddle.no_grad():
            base = model.features[0](images).numpy()
            moved = model.features[0](shift(images, 1, axis)).numpy()
        pool = [a.reshape(16, 4, 6, 2, 6, 2).max(axis=(3, 5)) for a in (base, moved)]
        active = (pool[0] != 0) | (pool[1] != 0)
        same = np.abs(pool[1] - pool[0]) <= 1e-6 * np.abs(pool[0]).max()
        results.append((same[active].mean(), np.linalg.norm(pool[1] - pool[0]) / np.linalg.norm(pool[0])))
    assert unchanged == pytest.approx(np.mean([r[0] for r in results]), abs=1e-6)
    assert change == pytest.approx(np.mean([r[1] for r in results]), rel=1e-4)
    assert 0.0 <= stable <= 1.0


def test_a_blank_image_is_unchanged_by_any_shift():
    model = _model("conv")
    blank = paddle.full([3, 1, 12, 12], -0.81)
    assert measure(model, blank, 2)[2] == 1.0  # the same prediction
    assert measure(model, blank, 2)[1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow
def test_pooling_shift_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("pooling_shift", tmp_path, "params.shifts=[1, 2]")
    runs = read_runs(tmp_path)

    def values(kind, pixels, key):
        return [float(r[key]) for r in runs if r["downsample"] == kind and r["shift"] == str(pixels)]

    differences = np.subtract(values("conv", 1, "relative change"), values("max", 1, "relative change"))
    mean, half = differences.mean(), t_quantile(2) * differences.std(ddof=1) / np.sqrt(2)
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("max pooling's output changes less"))
    assert (claim["mean"], claim["low"]) == pytest.approx((mean, mean - half))
    assert claim["raw_verdict"] == ("confirmed" if mean - half > 0 else "refuted" if mean + half <= 0 else "inconclusive")
