"""pooling_shift's science: padding and shifts, the shift measurements against numpy, the cell (one training per
downsample and seed serves every shift) and the claims it declares. (The framework's seeding, runs, aggregation and
verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.experiments import pooling_shift
from ppnorm.experiments.pooling_shift import measure, padded, shift

from experiment_runs import quick_context, read_runs, run_quick


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


def test_the_claims_compare_each_pooling_with_a_strided_conv_at_the_smallest_and_largest_shift():
    claims = pooling_shift._claims({"downsamples": ["max", "avg", "conv"], "shifts": [1, 2, 3]})
    assert list(claims) == ["max_mostly_unchanged", "max_changes_less_than_conv", "max_keeps_more_predictions_than_conv",
                            "avg_mostly_unchanged", "avg_changes_less_than_conv", "avg_keeps_more_predictions_than_conv"]
    mostly, less, more = (claims[f"avg_{name}"] for name in ("mostly_unchanged", "changes_less_than_conv",
                                                             "keeps_more_predictions_than_conv"))
    assert (mostly.metric, mostly.a, mostly.b, mostly.margin) == ("unchanged", {"downsample": "avg", "shift": 1}, None, 0.5)
    assert (less.metric, less.a, less.b) == ("relative change", {"downsample": "conv", "shift": 1},
                                             {"downsample": "avg", "shift": 1})
    assert (more.metric, more.a, more.b) == ("stable predictions", {"downsample": "avg", "shift": 3},
                                             {"downsample": "conv", "shift": 3})
    assert list(pooling_shift._claims({"downsamples": ["max"], "shifts": [1]})) == ["max_mostly_unchanged"]


def test_the_cell_trains_once_per_downsample_and_seed_and_measures_each_shift(tmp_path, monkeypatch):
    trained = []

    def train_one(ctx, kind, seed):
        trained.append((kind, seed))
        return _model(kind), 0.25

    monkeypatch.setattr(pooling_shift, "train_one", train_one)
    ctx = quick_context(pooling_shift, tmp_path, quick=False, pad=2)
    cells = {(kind, pixels): pooling_shift.cell(ctx, {"downsample": kind, "shift": pixels}, 0)
             for kind in ("max", "conv") for pixels in (1, 2)}
    assert trained == [("max", 0), ("conv", 0)]
    for (kind, pixels), metrics in cells.items():
        expected = measure(_model(kind), padded("test", 2, ctx.data)[0], pixels)
        assert (metrics["unchanged"], metrics["relative change"], metrics["stable predictions"]) == expected
        assert metrics["top1"] == 0.25


@pytest.mark.slow
def test_quick_preset_measures_one_training_under_every_shift(tmp_path):
    ctx = run_quick("pooling_shift", tmp_path)
    runs = read_runs(tmp_path)
    assert [(r["downsample"], r["shift"], r["seed"]) for r in runs][:4] == [  # the config's block starts at 1000
        ("max", "1", "1000"), ("max", "1", "1001"), ("max", "2", "1000"), ("max", "2", "1001")]
    for r in runs:  # the same training under both shifts
        assert r["top1"] == next(o["top1"] for o in runs if o["downsample"] == r["downsample"] and o["seed"] == r["seed"])
    assert len(ctx.claims) == 6 and all((tmp_path / f"pooling_shift_{m}.png").is_file()
                                        for m in ("unchanged", "relative_change", "stable_predictions"))
