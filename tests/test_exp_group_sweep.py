"""group_sweep's science: GroupNorm's two ends against numpy, its cell against numpy, its claims as declared.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import paddle
import pytest

from ppnorm.experiments import group_sweep
from ppnorm.experiments.training import digits
from ppnorm.nn import build_norm, norm_groups

from experiment_runs import capture_models, quick_context, run_quick


def _group_norm(x, groups, eps=1e-5):
    """GroupNorm by numpy: each sample's channels in ``groups`` groups, normalized over (C/groups, H, W)."""
    n, c, h, w = x.shape
    g = x.reshape(n, groups, c // groups, h, w)
    mean, var = g.mean(axis=(2, 3, 4), keepdims=True), g.var(axis=(2, 3, 4), keepdims=True)
    return ((g - mean) / np.sqrt(var + eps)).reshape(n, c, h, w)


@pytest.mark.parametrize("groups", [1, 4, 32])
def test_groupnorm_against_numpy_and_its_ends_are_ln_and_in(groups):
    x = np.random.default_rng(groups).normal(1, 3, size=(4, 32, 5, 5)).astype("float32")
    out = build_norm("gn", 32, groups=groups)(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(out, _group_norm(x.astype("float64"), groups), atol=2e-5)
    assert max(group_sweep.ends_are_ln_and_in(32)) < 1e-4


def test_the_ends_are_compared_with_the_per_seed_mean_of_the_middle_groupings():
    claims = group_sweep._claims(dict(group_sweep.DEFAULTS))
    assert (claims["ln_end_worse"].a, claims["ln_end_worse"].b) == ({"groups": 1}, {"groups": [2, 4, 8, 16]})
    assert (claims["in_end_worse"].a, claims["in_end_worse"].side) == ({"groups": 32}, "greater")
    assert group_sweep._claims(dict(group_sweep.DEFAULTS, groups=[1, 32])) == {}  # no middle: nothing to compare


@pytest.mark.slow
def test_the_cell_is_the_held_out_error_of_a_groupnorm_net(tmp_path, monkeypatch):
    built = capture_models(monkeypatch, group_sweep)
    ctx = quick_context(group_sweep, tmp_path, quick=False, epochs=1)
    ctx.seed_everything(0)
    metrics = group_sweep.cell(ctx, {"groups": 8}, 0)
    (model,) = built
    assert {norm_groups(layer) for layer in model.sublayers() if type(layer).__name__ == "GroupNorm"} == {8}
    model.eval()
    images, labels = digits("test")
    wrong = (model(images).numpy().argmax(axis=1) != labels.numpy()).mean()
    assert metrics == {"error_pct": pytest.approx(100 * wrong, abs=1e-9)}


@pytest.mark.slow
def test_group_sweep_in_chinese(tmp_path):
    ctx = run_quick("group_sweep", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 组数 | 每组通道数 | 等价于 | 错误率 % |" in report and "| 通过 |" in report
    assert ctx.claims[0]["claim"].startswith("1 组的 GroupNorm")
