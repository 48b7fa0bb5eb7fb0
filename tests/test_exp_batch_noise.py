"""batch_noise: the loss-noise measure against numpy, and its verdicts against its runs."""

import numpy as np
import pytest

from ppnorm.experiments.batch_noise import step_noise

from experiment_runs import read_runs, run_quick, seed_interval


def test_step_noise_by_hand():
    assert step_noise([3.0, 2.0, 1.0]) == pytest.approx(0.0)  # a straight descent has no noise
    losses = [1.0, 2.0, 1.0, 2.0]  # changes +1, -1, +1: std (ddof 1) = sqrt(4/3), mean 1.5
    assert step_noise(losses) == pytest.approx(np.sqrt(4 / 3) / 1.5)


@pytest.mark.slow
def test_batch_noise_verdicts_follow_from_its_runs(tmp_path):
    ctx = run_quick("batch_noise", tmp_path)
    runs = read_runs(tmp_path)
    noise = {(r["batch"], r["seed"]): float(r["loss noise"]) for r in runs}
    logs = [np.log10(noise[("8", s)] / noise[("1437", s)]) for s in ("0", "1")]
    mean, half = seed_interval(logs)
    claim = next(c for c in ctx.claims if c["claim_en"].startswith("Batch 8 gives a noisier"))
    assert (claim["mean"], claim["high"]) == pytest.approx((mean, mean + half))
    assert claim["raw_verdict"] == ("confirmed" if mean - half > 0 else "refuted" if mean + half <= 0 else "inconclusive")
    assert (tmp_path / "batch_noise.png").stat().st_size > 10_000
