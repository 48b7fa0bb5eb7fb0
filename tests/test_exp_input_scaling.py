"""input_scaling's science: z-score and PCA whitening against numpy, the cell against the trained model, the claims
it declares. (The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import pytest

from ppnorm.experiments import input_scaling
from ppnorm.experiments.input_scaling import pca_whiten, zscore
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, read_runs, run_quick


def test_zscore_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(3.0, 2.0, size=(50, 4)), rng.normal(size=(7, 4))
    train[:, 2] = 5.0  # a constant feature is only centred
    a, b = zscore(train, test)
    mean, std = train.mean(0), train.std(0)
    keep = [0, 1, 3]
    np.testing.assert_allclose(a[:, keep], (train[:, keep] - mean[keep]) / std[keep])
    np.testing.assert_allclose(b[:, 0], (test[:, 0] - mean[0]) / std[0])
    np.testing.assert_allclose(b[:, 2], test[:, 2] - 5.0)


def test_pca_whitening_gives_identity_covariance_and_mahalanobis_geometry():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5)) + 2.0
    test = rng.normal(size=(9, 5))
    a, b = pca_whiten(train, test)
    np.testing.assert_allclose(np.cov(a, rowvar=False, bias=True), np.eye(5), atol=1e-8)
    centred = test - train.mean(0)
    inverse = np.linalg.inv(np.cov(train, rowvar=False, bias=True))
    np.testing.assert_allclose(b @ b.T, centred @ inverse @ centred.T, rtol=1e-6, atol=1e-8)  # Mahalanobis products


def test_pca_whitening_drops_constant_directions():
    train = np.zeros((20, 3))
    train[:, 0] = np.arange(20.0)
    assert pca_whiten(train, train[:2])[0].shape == (20, 1)


def test_the_claims_are_in_points_of_top1_and_paired_within_each_model():
    claims = input_scaling._claims(input_scaling.DEFAULTS)
    assert list(claims) == ["zscore_raises_shallow_accuracy", "zscore_speeds_up_shallow", "whitening_adds_nothing_shallow",
                            "whitening_adds_nothing_deep_bn", "bn_needs_no_standardizing"]
    raises, faster, deep = (claims[k] for k in ("zscore_raises_shallow_accuracy", "zscore_speeds_up_shallow",
                                                "bn_needs_no_standardizing"))
    assert (raises.a, raises.b, raises.scale, raises.side) == ({"model": "shallow", "input": "zscore"},
                                                               {"model": "shallow", "input": "raw"}, 100, "greater")
    assert (faster.metric, faster.a["input"], faster.b["input"], faster.scale) == ("steps to target", "raw", "zscore", 1)
    assert (deep.a, deep.side, deep.margin, deep.scale) == ({"model": "deep_bn", "input": "zscore"}, "within", 1.0, 100)
    assert list(input_scaling._claims({"transforms": ["raw", "whiten"]})) == []


@pytest.mark.slow
@pytest.mark.parametrize("model, transform", [("shallow", "whiten"), ("deep_bn", "raw")])
def test_the_cell_measures_the_trained_model(tmp_path, monkeypatch, model, transform):
    """Evaluated at the end of each epoch (eval_every = the steps of an epoch): the last is the trained model's."""
    built = capture_models(monkeypatch, input_scaling)
    ctx = quick_context(input_scaling, tmp_path, target=0.5, epochs=2)
    steps = ctx.params["eval_every"] = ctx.data_info.train_size // 32
    ctx.seed_everything(0)
    m = input_scaling.cell(ctx, {"model": model, "input": transform}, 0)
    (net,) = built
    net.eval()
    images, labels = input_scaling.inputs(ctx, transform)[1]
    assert m["final accuracy"] == pytest.approx((net(images).numpy().argmax(axis=1) == labels.numpy()).mean())
    assert m["features"] == (60 if transform == "whiten" else 64) == images.shape[1]  # 4 constant digit pixels dropped
    assert len(net.sublayers()) > 2 if model == "deep_bn" else len(net.sublayers()) <= 2
    reached = [steps * (i + 1) for i, a in enumerate(m["test accuracy"]) if a >= 0.5]
    assert len(m["test accuracy"]) == 2 and m["reached"] == bool(reached)
    assert m["steps to target"] == (reached or [2 * steps])[0]
    assert np.allclose(input_scaling.inputs(ctx, "raw")[1][0].numpy(), 16 * digits("test", normalize=False)[0]
                       .numpy().reshape(360, -1))


@pytest.mark.slow
def test_quick_preset_reports_the_table_and_the_chart(tmp_path):
    ctx = run_quick("input_scaling", tmp_path)
    runs, rows = read_runs(tmp_path), ctx.tables["input_scaling"]["rows"]
    assert [(r["model"], r["input"]) for r in rows] == [(m, t) for m in ("shallow", "deep_bn")
                                                        for t in ("raw", "zscore", "whiten")]
    shallow_raw = [float(r["final accuracy"]) for r in runs if (r["model"], r["input"]) == ("shallow", "raw")]
    assert rows[0]["final top1 %"].startswith(f"{100 * np.mean(shallow_raw):.1f} ± ")
    assert rows[0]["reached"] == sum(r["reached"] == "True" for r in runs[:2])
    assert (tmp_path / "input_scaling.png").stat().st_size > 10_000
