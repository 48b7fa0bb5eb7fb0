"""norm_axes: each norm's statistics against numpy over its axes, the from-scratch versions against paddle.nn, the
statistics counts, and the two identities as checks (no claims)."""
import csv
from types import SimpleNamespace

import numpy as np
import paddle
import pytest

from experiment_runs import read_runs, run_quick
from ppnorm.engine.config import ConfigError
from ppnorm.experiments import norm_axes

KINDS = tuple(norm_axes.AXES)


def _tensor(shape=(2, 4, 3, 3), seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3 + 2).astype("float32")


def _by_loops(x, kind, groups, eps=1e-5):
    """Normalization written out per statistic (float64): which values share one mean and variance."""
    x, out = x.astype("float64"), np.empty(x.shape)
    n, c = x.shape[:2]
    blocks = {"BatchNorm2D": [np.s_[:, j] for j in range(c)], "LayerNorm": [np.s_[i] for i in range(n)],
              "InstanceNorm2D": [np.s_[i, j] for i in range(n) for j in range(c)],
              "GroupNorm": [np.s_[i, g * c // groups:(g + 1) * c // groups] for i in range(n) for g in range(groups)]}
    for block in blocks[kind]:
        out[block] = (x[block] - x[block].mean()) / np.sqrt(x[block].var() + eps)
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_numpy_norm_and_paddle_nn_average_over_the_declared_axes(kind):
    x = _tensor()
    by_loops = _by_loops(x, kind, groups=2)
    assert np.abs(norm_axes.numpy_norm(x, kind, 2, 1e-5) - by_loops).max() < 1e-5
    layer = norm_axes.layers(kind, x.shape, 2, 1e-5)[0]
    assert np.abs(layer(paddle.to_tensor(x)).numpy() - by_loops).max() < 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_from_scratch_matches_paddle_nn_and_the_formula(kind):
    """compare: paddle.nn's output is gamma * x_hat + beta (numpy); the from-scratch output and x, gamma, beta
    gradients equal paddle.nn's to float32 rounding."""
    x = _tensor()
    reference, ours = norm_axes.compare(kind, x, 2, 1e-5)
    rng = np.random.default_rng(1)  # the gamma, beta compare draws
    affine = list(x.shape[1:]) if kind == "LayerNorm" else [x.shape[1]]
    gamma, beta = rng.uniform(0.5, 1.5, affine), rng.standard_normal(affine)
    if kind != "LayerNorm":
        gamma, beta = gamma[:, None, None], beta[:, None, None]
    assert np.abs(reference[0] - (_by_loops(x, kind, 2) * gamma + beta)).max() < 1e-5
    assert [a.shape for a in reference] == [b.shape for b in ours]
    for a, b in zip(reference, ours):
        assert np.abs(a - b).max() < 1e-5 * max(1.0, np.abs(a).max())


def test_the_cell_states_float32_epsilons():
    ctx = SimpleNamespace(params={"shape": [2, 4, 3, 3], "groups": 2, "epsilon": 1e-5})
    found = norm_axes.cell(ctx, {"norm": "GroupNorm"}, 0)
    x = _tensor()
    plain = paddle.nn.GroupNorm(2, 4)(paddle.to_tensor(x)).numpy()
    assert found["axes_eps"] == pytest.approx(np.abs(plain - norm_axes.numpy_norm(x, "GroupNorm", 2, 1e-5)).max()
                                              / np.finfo("float32").eps)
    assert set(found) == {"axes_eps", "output_eps", "dx_eps", "dgamma_eps", "dbeta_eps"}
    assert all(0 <= value < 100 for value in found.values())


def test_statistics_counts():
    params = {"shape": [2, 4, 3, 5], "groups": 2}
    counts = {kind: norm_axes._extra({"norm": kind}, params) for kind in KINDS}
    assert {k: (v["values per statistic"], v["number of statistics"]) for k, v in counts.items()} == {
        "BatchNorm2D": (2 * 3 * 5, 4), "LayerNorm": (4 * 3 * 5, 2), "InstanceNorm2D": (3 * 5, 2 * 4),
        "GroupNorm": (2 * 3 * 5, 2 * 2)}


def test_the_axes_check_would_catch_the_wrong_axes():
    """The yardstick: BatchNorm2D's output differs by ~1 from a per-sample (LayerNorm axes) numpy version."""
    x = _tensor()
    y = paddle.nn.BatchNorm2D(4)(paddle.to_tensor(x)).numpy()
    assert np.abs(y - norm_axes.numpy_norm(x, "LayerNorm", 2, 1e-5)).max() > 0.1


@pytest.mark.parametrize("params, message", [({"shape": [1, 2], "groups": 1}, "params.shape must be [N, C, H, W]"),
                                             ({"shape": [2, 6, 3, 3], "groups": 4}, "must divide the 6 channels")])
def test_bad_params_are_refused(params, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        norm_axes.EXPERIMENT.resolve(dict(norm_axes.DEFAULTS, **params))


@pytest.mark.slow
def test_quick_preset_checks_pass_on_every_tensor(tmp_path):
    ctx = run_quick("norm_axes", tmp_path)
    runs = read_runs(tmp_path)
    assert sorted((r["norm"], int(r["seed"])) for r in runs) == sorted((k, s) for k in KINDS for s in (0, 1))
    first = next(r for r in runs if r["norm"] == "BatchNorm2D" and r["seed"] == "0")
    assert float(first["axes_eps"]) == pytest.approx(
        norm_axes.cell(SimpleNamespace(params=ctx.params), {"norm": "BatchNorm2D"}, 0)["axes_eps"])
    with open(tmp_path / "claims.csv", newline="", encoding="utf-8") as handle:
        claims = list(csv.DictReader(handle))
    assert [(c["kind"], c["verdict"]) for c in claims] == [("check", "passed")] * 2
    worst = max(float(r[f"{name}_eps"]) for r in runs for name in norm_axes.ERRORS) * np.finfo("float32").eps
    assert claims[1]["deciding"].startswith(f"{worst:.2g} ")
    assert (tmp_path / "norm_axes.png").is_file()


@pytest.mark.slow
def test_norm_axes_in_chinese(tmp_path):
    run_quick("norm_axes", tmp_path, "lang=zh")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 归一化 | 求统计量的轴 | 每个统计量用到的值数 | 统计量个数 |" in report and "| 通过 |" in report
