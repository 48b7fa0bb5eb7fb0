"""input_scaling: z-score and PCA whitening against numpy, and its verdicts against its runs."""

import numpy as np
import pytest

from ppnorm.experiments.input_scaling import pca_whiten, zscore

from experiment_runs import read_runs, run_quick, seed_interval


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


@pytest.mark.slow
def test_input_scaling_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("input_scaling", tmp_path)
    runs = read_runs(tmp_path)
    acc = {(r["model"], r["input"], r["seed"]): float(r["final accuracy"]) for r in runs}
    diff = [100 * (acc[("shallow", "zscore", s)] - acc[("shallow", "raw", s)]) for s in ("0", "1")]
    mean, half = seed_interval(diff)
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("Standardizing inputs (z-score) raises"))
    assert (claim["mean"], claim["high"]) == pytest.approx((mean, mean + half))
    assert claim["raw_verdict"] == ("confirmed" if mean - half > 0 else "refuted" if mean + half <= 0 else "inconclusive")
    assert all(int(r["features"]) < 64 for r in runs if r["input"] == "whiten")  # constant pixels dropped
    assert (tmp_path / "input_scaling.png").stat().st_size > 10_000
