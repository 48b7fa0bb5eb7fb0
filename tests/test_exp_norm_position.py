"""norm_position's science: each cell trains the order it names and is measured by numpy; the claims it declares.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import experiments, norm_position
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, run_quick


@pytest.mark.slow
@pytest.mark.parametrize("position, order", [("before_act", ["linear", "norm", "act", "dropout"]),
                                             ("after_act", ["linear", "act", "norm", "dropout"])])
def test_the_cell_trains_the_order_it_names_and_measures_it_by_numpy(tmp_path, monkeypatch, position, order):
    built = capture_models(monkeypatch, norm_position)
    ctx = quick_context(norm_position, tmp_path, epochs_mlp=1)
    ctx.seed_everything(0)
    m = norm_position.cell(ctx, {"model": "mlp", "activation": "sigmoid", "position": position}, 0)
    (model,) = built
    assert all([n for n, _ in layer.named_children()] == order for layer in model.layers)
    assert {type(layer.act).__name__ for layer in model.layers} == {"Sigmoid"}
    model.eval()
    images, labels = digits("test")
    top1 = 100 * (model(images).numpy().argmax(axis=1) == labels.numpy()).mean()
    assert m == {"top1_pct": pytest.approx(top1), "top1_curve": [pytest.approx(top1)]}


def test_each_claim_is_before_minus_after_for_one_model_and_activation_paired_by_seed():
    claims = norm_position._claims(dict(norm_position.DEFAULTS))
    assert list(claims) == ["before_beats_after_mlp_relu", "before_beats_after_mlp_sigmoid",
                            "before_beats_after_simple_cnn_relu", "before_beats_after_simple_cnn_sigmoid"]
    claim = claims["before_beats_after_simple_cnn_sigmoid"]
    assert claim.a == {"model": "simple_cnn", "activation": "sigmoid", "position": "before_act"}
    assert claim.b == dict(claim.a, position="after_act") and (claim.side, claim.margin, claim.paired) == (
        "greater", 0.0, True)
    assert "47.4%" in claim.evidence and "49.9%" in claim.evidence


@pytest.mark.parametrize("config, models", [("norm_position", ["mlp", "simple_cnn"]),
                                            ("norm_position_full", ["mlp", "simple_cnn", "resnet20"])])
def test_the_claims_are_registered_in_the_configs(config, models):
    _, settings, params = load_experiment_config(f"configs/experiments/{config}.yaml", [], experiments())
    claims = norm_position.EXPERIMENT.resolve(params, settings["claims"])
    assert params["models"] == models and len(claims) == 2 * len(models)
    registered = set(settings["claims"])
    assert registered == set(claims)
    assert {(c.side, c.margin) for c in claims.values()} == {("greater", 0.0)}
    if config == "norm_position":  # pre-registered: a point of top-1 is the smallest effect of interest
        assert {c.sesoi for c in claims.values()} == {1.0} and claims["before_beats_after_mlp_relu"].expected == -0.21


def test_a_registered_claim_the_params_drop_is_a_load_time_error(tmp_path):
    with pytest.raises(ConfigError, match=r"claims.before_beats_after_\w+_sigmoid is not a claim these params declare"):
        run_quick("norm_position", tmp_path, "params.acts=[relu]")


@pytest.mark.slow
def test_chinese_report(tmp_path):
    ctx = run_quick("norm_position", tmp_path, "lang=zh", "params.acts=[relu]", "params.epochs_mlp=1", "claims={}")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 模型 | 激活函数 | BN 的位置 | 轮数 | top-1 % |" in report
    assert ctx.claims[0]["claim"].startswith("BN 放在激活之前优于放在激活之后（relu，mlp）")
    assert (tmp_path / "norm_position_mlp_relu.png").stat().st_size > 10_000
