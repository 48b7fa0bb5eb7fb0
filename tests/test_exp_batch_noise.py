"""batch_noise's science: the loss-noise measure and the cell against numpy, the claims it measures per seed pair.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import pytest

from ppnorm.experiments import batch_noise, experiments
from ppnorm.experiments.batch_noise import step_noise
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.framework import Results
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, run_quick


def _context(tmp_path, **params):
    return quick_context(batch_noise, tmp_path, **params)


def test_step_noise_by_hand():
    assert step_noise([3.0, 2.0, 1.0]) == pytest.approx(0.0)  # a straight descent has no noise
    losses = [1.0, 2.0, 1.0, 2.0]  # changes +1, -1, +1: std (ddof 1) = sqrt(4/3), mean 1.5
    assert step_noise(losses) == pytest.approx(np.sqrt(4 / 3) / 1.5)


@pytest.mark.slow
def test_the_full_batch_cell_against_numpy(tmp_path, monkeypatch):
    """Batch 0 is the whole training set: 6 steps of 6 epochs' samples; the last loss and the accuracy at the budget
    are the final model's, by numpy."""
    built = capture_models(monkeypatch, batch_noise)
    ctx = _context(tmp_path, epochs=6, noise_steps=6)
    ctx.seed_everything(0)
    m = batch_noise.cell(ctx, {"batch": 0}, 0)
    (model,) = built
    model.eval()
    (train_x, train_y), (test_x, test_y) = digits("train"), digits("test")
    logits, labels = model(train_x).numpy().astype("float64"), train_y.numpy()
    shifted = logits - logits.max(axis=1, keepdims=True)
    cross_entropy = np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(labels)), labels])
    assert m["samples per batch"] == len(labels) and len(m["loss curve"]) == 6
    assert m["final loss"] == m["loss curve"][-1] == pytest.approx(cross_entropy, rel=1e-5)
    assert m["loss noise"] == step_noise(m["loss curve"][3:])
    assert m["accuracy at budget"] == pytest.approx((model(test_x).numpy().argmax(axis=1) == test_y.numpy()).mean())
    assert list(np.diff(m["loss curve"]) < 0) == [True] * 5  # plain gradient descent on the whole set: downhill


@pytest.mark.parametrize("sizes, compared", [([1, 8, 64, 0], (1, 0, 8)), ([8, 0], (8, 0, 8)), ([1, 0], (1, 0, None)),
                                             ([8, 64], (8, 64, 8))])
def test_the_claims_compare_the_first_batch_and_the_first_middle_one_with_the_last(sizes, compared):
    assert batch_noise._compared({"batch_sizes": sizes}) == compared
    claims = batch_noise._claims({"batch_sizes": sizes, "epochs": 2})
    assert list(claims) == ["small_batch_noisier"] + ["full_batch_costly"] * (compared[2] is not None)
    assert claims["small_batch_noisier"].en.startswith(f"Batch {compared[0]} gives a noisier loss curve")


def test_the_claims_are_log_noise_ratios_and_accuracy_differences_per_seed(tmp_path):
    rng = np.random.default_rng(0)
    runs = [{"batch": b, "seed": s, "loss noise": float(rng.uniform(0.01, 1)), "accuracy at budget": float(rng.uniform())}
            for b in (8, 0) for s in range(3)]
    ctx = _context(tmp_path, seeds=3)
    results = Results(ctx.params, batch_noise.EXPERIMENT.resolve(ctx.params), runs=runs)
    batch_noise._after(ctx, results)
    by = {(r["batch"], r["seed"]): r for r in runs}
    ratio = [np.log10(by[(8, s)]["loss noise"] / by[(0, s)]["loss noise"]) for s in range(3)]
    points = [100 * (by[(8, s)]["accuracy at budget"] - by[(0, s)]["accuracy at budget"]) for s in range(3)]
    noisier, costly = results.estimates["small_batch_noisier"], results.estimates["full_batch_costly"]
    assert (noisier.mean, noisier.n, costly.mean, costly.n) == (pytest.approx(np.mean(ratio)), 3,
                                                                pytest.approx(np.mean(points)), 3)


@pytest.mark.parametrize("config", ["batch_noise", "batch_noise_full"])
def test_the_claims_are_registered_in_the_config(config):
    _, settings, params = load_experiment_config(f"configs/experiments/{config}.yaml", [], experiments())
    claims = batch_noise.EXPERIMENT.resolve(params, settings["claims"])
    assert list(claims) == list(settings["claims"]) == ["small_batch_noisier", "full_batch_costly"]
    assert {(c.side, c.margin) for c in claims.values()} == {("greater", 0.0)}
    assert (claims["small_batch_noisier"].sesoi, claims["small_batch_noisier"].expected) == (0.1, 1)


@pytest.mark.slow
def test_batch_noise_in_chinese(tmp_path):
    ctx = run_quick("batch_noise", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| batch 大小 | 损失曲线噪声 | 相同样本数下测试准确率 | 相同样本数下 CPU 秒数 |" in report
    assert ctx.claims[0]["claim"] == "batch 8 的损失曲线噪声大于整个数据集作 batch（all training images）"
    assert (tmp_path / "batch_noise.png").stat().st_size > 10_000
