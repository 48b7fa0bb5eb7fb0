"""Every experiment in its quick setting: the numerical facts it reports, and the files it writes."""
import ast
import copy
import csv
import os

import numpy as np
import paddle
import pytest

import ppnorm
from ppnorm.engine.config import ConfigError
from ppnorm.experiments import NAMES, experiments
from ppnorm.experiments.cli import experiment_main
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.runner import Context, run_experiment
from ppnorm.nn.precise_bn import update_bn_stats


def _run(name, tmp_path, **params):
    module, settings, resolved = load_experiment_config(
        f"configs/experiments/{name}.yaml", [f"output_dir={tmp_path / name}", "quick=true"], experiments())
    resolved.update(params)
    return run_experiment(name, module, settings, resolved, log=lambda *a: None)


def _table(ctx, name):
    return ctx.tables[name]["rows"]


def _claims(ctx):
    return {c["claim"]: c["verdict"] for c in ctx.claims}


def test_every_experiment_has_a_config_and_the_module_contract():
    for name, module in experiments().items():
        assert os.path.isfile(f"configs/experiments/{name}.yaml")
        assert module.QUESTION.endswith("?") and set(module.QUICK) <= set(module.DEFAULTS) and callable(module.run)
    assert len(NAMES) == 11


def test_batchnorm_basics_reproduces_paddle_s_numbers(tmp_path):
    ctx = _run("batchnorm_basics", tmp_path)
    running = _table(ctx, "running")
    assert running[0]["running_mean"] == pytest.approx(0.55, abs=1e-6)
    assert running[0]["running_var (Paddle)"] == pytest.approx(2.0916667, abs=1e-6)
    assert running[0]["PyTorch (unbiased)"] == pytest.approx(2.2, abs=1e-6)
    for row in running:
        assert row["running_mean"] == pytest.approx(5.5 * (1 - 0.9 ** row["k"]), abs=1e-5)
    assert max(r["max abs diff vs numpy"] for r in _table(ctx, "examples")) < 1e-5
    table = {(r["use_global_stats"], r["mode"]): (r["normalizes with"], r["running stats updated"])
             for r in _table(ctx, "global_stats")}
    assert table[("None", "train")] == ("batch", True) and table[("None", "eval")] == ("running", False)
    assert table[("True", "train")] == ("running", False) and table[("False", "eval")][0] == "batch"
    assert all(r["output == input"] for r in _table(ctx, "one_value"))
    assert set(_claims(ctx).values()) == {"confirmed"}
    files = set(os.listdir(tmp_path / "batchnorm_basics"))
    assert {"results.csv", "claims.csv", "report.md", "running_statistics.png"} <= files
    report = (tmp_path / "batchnorm_basics" / "report.md").read_text()
    assert "**Question.**" in report and "**Verdict.**" in report and "2.091667" in report
    with open(tmp_path / "batchnorm_basics" / "results.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 4


def test_norm_axes_matches_paddle_nn(tmp_path):
    ctx = _run("norm_axes", tmp_path)
    rows = {r["norm"]: r for r in _table(ctx, "axes")}
    n, c, h, w = ctx.params["shape"]
    assert rows["BatchNorm2D"]["values per statistic"] == n * h * w and rows["BatchNorm2D"]["statistics"] == c
    assert rows["LayerNorm"]["values per statistic"] == c * h * w
    assert rows["InstanceNorm2D"]["statistics"] == n * c
    assert rows["GroupNorm"]["statistics"] == n * ctx.params["groups"]
    for row in rows.values():
        assert max(row["paddle.nn vs numpy over these axes"], row["output err"], row["dx err"],
                   row["dgamma err"], row["dbeta err"]) < 1e-4


def test_dropout_modes_formulas_expectation_and_exact_weight_scaling(tmp_path):
    ctx = _run("dropout_modes", tmp_path)
    mc = _table(ctx, "monte_carlo")
    assert all(r["max z-score"] < 5 for r in mc)
    axis = {r["dropout"]: r for r in _table(ctx, "axis")}
    assert axis["channel (axis=[0, 1])"]["values inside a kept channel all equal"]
    assert axis["element (axis=None)"]["fully zeroed channels"] < 0.01
    exact = _table(ctx, "equivalence")[0]
    assert exact["max rel diff W_down*(1-p) vs W_up"] < 1e-4 and exact["max abs logit difference"] < 1e-4
    assert exact["top1 upscale"] == exact["top1 downscale (scaled start, lr/(1-p)^2)"]


def test_init_stats_tanh_collapse_and_bn_rescue(tmp_path):
    ctx = _run("init_stats", tmp_path)
    rows = {r["case"]: r for r in _table(ctx, "activations")}
    last = f"L{ctx.params['layers']} std"
    assert rows["tanh normal 0.01"][last] < 0.01 * rows["tanh normal 0.01"]["L1 std"]
    assert rows["relu kaiming"][last] > rows["relu xavier"][last]
    assert all(r[last] > 0.3 for label, r in rows.items() if label.endswith("+ BN"))


def test_training_experiments_run_and_report(tmp_path):
    for name in ("residual_vs_plain", "dropout_with_bn"):
        ctx = _run(name, tmp_path)
        assert ctx.verdict and ctx.tables and os.path.isfile(tmp_path / name / "results.csv")
        assert [f for f in os.listdir(tmp_path / name) if f.endswith(".png")]
    imbalanced = _table(ctx, "grid")  # dropout_with_bn (last run): every cell is a held-out accuracy
    assert all(0.0 <= r["top1"] <= 1.0 for r in imbalanced)


def test_precise_bn_recomputes_the_equal_weight_average_of_batch_statistics():
    paddle.seed(0)
    model = ppnorm.build_model("resnet20", in_channels=1, num_classes=10)
    for layer in model.sublayers():  # stale statistics, as after a high-learning-rate phase
        if ppnorm.nn.is_batch_norm(layer):
            layer._mean.set_value(paddle.full(layer._mean.shape, 3.0))
    x = paddle.randn([96, 1, 8, 8])
    batches = [x[i * 32:(i + 1) * 32] for i in range(3)]
    frozen = copy.deepcopy(model)
    frozen.eval()
    assert update_bn_stats(frozen, iter(batches + batches), num_batches=3) == 3
    assert not frozen.training and frozen.bn1._momentum == 0.9  # mode and momentum restored
    with paddle.no_grad():
        out = frozen.conv1(x).numpy()
    expected_mean = np.mean([out[i * 32:(i + 1) * 32].mean(axis=(0, 2, 3)) for i in range(3)], axis=0)
    expected_var = np.mean([out[i * 32:(i + 1) * 32].var(axis=(0, 2, 3)) for i in range(3)], axis=0)
    np.testing.assert_allclose(frozen.bn1._mean.numpy(), expected_mean, atol=1e-5)
    np.testing.assert_allclose(frozen.bn1._variance.numpy(), expected_var, rtol=1e-4, atol=1e-6)
    for a, b in zip(model.parameters(), frozen.parameters()):  # trainable weights untouched
        if not a.stop_gradient:
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_precise_bn_experiment_reports_both_accuracies(tmp_path):
    ctx = _run("precise_bn", tmp_path)
    rows = _table(ctx, "precise_bn")
    assert len(rows) == ctx.params["epochs"]
    for row in rows:
        assert row["gain (points)"] == pytest.approx(100 * (row["top1 PreciseBN"] - row["top1 EMA stats"]))


def test_experiment_config_errors_and_cli(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown key 'params.epoch' for precise_bn.*did you mean 'epochs'"):
        load_experiment_config("configs/experiments/precise_bn.yaml", ["params.epoch=3"], experiments())
    with pytest.raises(ConfigError, match="params.epochs must be like its default 8"):
        load_experiment_config("configs/experiments/precise_bn.yaml", ["params.epochs=many"], experiments())
    with pytest.raises(ConfigError, match="experiment must be one of"):
        load_experiment_config("configs/experiments/precise_bn.yaml", ["experiment=precise"], experiments())
    assert experiment_main(["--list"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 11
    code = experiment_main(["-c", "configs/experiments/norm_axes.yaml", "-o", f"output_dir={tmp_path}", "quick=true"])
    assert code == 0 and os.path.isfile(tmp_path / "norm_axes.png")
    assert experiment_main(["-c", "configs/experiments/norm_axes.yaml", "-o", "params.groups=x"]) == 2
    assert "params.groups must be like its default" in capsys.readouterr().err


def test_bad_experiment_params_are_one_line_errors(tmp_path, capsys):
    cases = [("batch_size_sweep", "params.norms=[xx]", "unknown norm kind 'xx'; valid kinds: bn, sync_bn"),
             ("group_sweep", "params.groups=[3]", "params.groups [3] do not divide params.channels=32"),
             ("norm_axes", "params.shape=[1,2]", "params.shape must be [N, C, H, W]")]
    for name, override, message in cases:
        code = experiment_main(["-c", f"configs/experiments/{name}.yaml", "-o", override, "quick=true",
                                f"output_dir={tmp_path / name}"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and message in err, err


def test_context_seeds_and_curve(tmp_path):
    settings = {"seed": 7, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}
    ctx = Context("x", None, settings, {}, log=lambda *a: None)
    recorded = []
    ctx.scalar = lambda tag, value, step: recorded.append((tag, value, step))
    assert list(ctx.seeds(3)) == [7, 8, 9] and list(ctx.seeds(0)) == []
    ctx.curve("a/top1", [10, 20, 30], [0.5, 0.75])  # pairs only: the extra step has no value
    assert recorded == [("a/top1", 0.5, 10), ("a/top1", 0.75, 20)]


def test_experiment_functions_are_short():
    """The standard of the package: every function of an experiment module fits in 50 lines."""
    folder = os.path.dirname(ppnorm.experiments.__file__)
    long = []
    for file in sorted(os.listdir(folder)):
        if file.endswith(".py"):
            with open(os.path.join(folder, file), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            long += [f"{file}:{node.name}" for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and node.end_lineno - node.lineno + 1 > 50]
    assert long == []
