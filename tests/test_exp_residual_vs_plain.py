"""residual_vs_plain's science: the networks' depth and shortcuts, the cell's errors against numpy, its claims.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import paddle
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments, residual_vs_plain
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.residual_vs_plain import DEFAULTS, _model
from ppnorm.experiments.training import digits

from experiment_runs import quick_context, run_quick


@pytest.mark.parametrize("depth", [8, 26])
def test_depth_counts_the_weighted_layers_and_plain_nets_have_no_shortcut(depth):
    for residual in (False, True):
        model = _model(depth, residual, [4, 8, 8])
        layers = [l for name, l in model.named_sublayers() if isinstance(l, (paddle.nn.Conv2D, paddle.nn.Linear))
                  and "downsample" not in name]
        assert len(layers) == depth  # 6n + 1 convolutions and the classifier
        shortcuts = [name for name, _ in model.named_sublayers() if name.endswith("downsample")]
        assert len(shortcuts) == (2 if residual else 0)  # the two stage transitions


def test_the_claims_compare_the_deepest_with_the_shallowest_net_of_each_kind():
    claims = residual_vs_plain._claims({"depths": [8, 14, 26]})
    plain, residual = claims["degradation"], claims["residual_removes_it"]
    assert (plain.metric, plain.a, plain.b, plain.side, plain.margin) == (
        "train_error_pct", {"network": "plain", "depth": 26}, {"network": "plain", "depth": 8}, "greater", 0.0)
    assert (residual.a, residual.b, residual.side, residual.margin) == (
        {"network": "resnet", "depth": 26}, {"network": "resnet", "depth": 8}, "less", 1.0)
    assert residual.text(residual.en, {}).endswith("resnet8's by less than 1 point")


def test_depths_must_be_6n_plus_2(tmp_path):
    with pytest.raises(ConfigError, match=r"params.depths must hold >= 2 depths of the form 6n\+2.*\[8, 10\]"):
        run_quick("residual_vs_plain", tmp_path, "params.depths=[8, 10]")


def test_full_preset_is_he_et_al_s_depths_with_more_seeds():
    _, settings, params = load_experiment_config("configs/experiments/residual_vs_plain_full.yaml", [], experiments())
    assert (params["depths"], params["widths"]) == ([20, 56], [16, 32, 64]) and params["seeds"] > DEFAULTS["seeds"]
    assert settings["output_dir"].endswith("residual_vs_plain_full") and params["lr"] == 0.1  # the rest inherited


@pytest.mark.slow
@pytest.mark.parametrize("network", ["plain", "resnet"])
def test_the_cell_is_the_eval_mode_error_of_the_trained_net(network, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(residual_vs_plain, "_model", lambda *a, **k: built.append(_model(*a, **k)) or built[-1])
    ctx = quick_context(residual_vs_plain, tmp_path, epochs=2)
    ctx.seed_everything(0)
    metrics = residual_vs_plain.cell(ctx, {"network": network, "depth": 8}, 0)
    (model,) = built
    shortcuts = [name for name, _ in model.named_sublayers() if name.endswith("downsample")]
    assert len(shortcuts) == (2 if network == "resnet" else 0)
    model.eval()
    for split, key in (("train", "train_error_pct"), ("test", "test_error_pct")):
        images, labels = digits(split)
        wrong = (model(images).numpy().argmax(axis=1) != labels.numpy()).mean()
        assert metrics[key] == pytest.approx(100 * wrong, abs=1e-9)
    assert len(metrics["train_curve"]) == 2 and metrics["train_curve"][-1] == metrics["train_error_pct"]
    assert metrics["test_curve"][-1] == metrics["test_error_pct"]
