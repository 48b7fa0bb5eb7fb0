"""Where BatchNorm goes: conv/linear -> BN -> act versus conv/linear -> act -> BN, for ReLU and sigmoid."""
from ..models import build_model
from .charts import Chart, draw
from .claims import Claim, matches
from .framework import Experiment, Stat, Table
from .training import fit, optimizer_section

ORDER = 140  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does BatchNorm work better between the linear/conv layer and the activation (the BN paper's order) "
            "than after the activation, for ReLU and for sigmoid networks, at the same training budget?")
QUESTION_ZH = ("BatchNorm 放在线性层/卷积层与激活函数之间（BN 论文的顺序），是否比放在激活函数之后更好？"
               "ReLU 与 sigmoid 网络分别如何（训练预算相同）？")
DEFAULTS = {"models": ["mlp", "simple_cnn"], "acts": ["relu", "sigmoid"], "epochs_mlp": 30,
            "epochs_simple_cnn": 8, "epochs_resnet20": 10, "batch_size": 32, "lr": 0.05, "seeds": 20}
QUICK = {"models": ["mlp", "simple_cnn"], "epochs_mlp": 2, "epochs_simple_cnn": 1, "seeds": 2}
DATA = True  # any image data set (ctx.data)
POSITIONS = ("before_act", "after_act")
MODEL_OPTIONS = {"mlp": {"hidden": [100, 100, 100]}, "simple_cnn": {}, "resnet20": {}}


def _shape_options(model_name, info):
    """The data's input and class counts, as the model takes them."""
    if model_name == "mlp":
        return {"in_features": info.features, "num_classes": info.num_classes}
    return info.model_options


def cell(ctx, setting, seed):
    """Held-out top-1 (%) once per epoch of ``model`` with BN in ``position`` and activation ``activation``."""
    prm, name = ctx.params, setting["model"]
    model = build_model(name, norm="bn", act=setting["activation"], norm_position=setting["position"],
                        **MODEL_OPTIONS[name], **_shape_options(name, ctx.data_info))
    section = optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]})
    history = fit(model, ctx.data("train"), ctx.data("test"), prm[f"epochs_{name}"], prm["batch_size"], seed=seed,
                  optimizer=section)
    curve = [100 * a for a in history.test_accuracy]
    return {"top1_pct": float(curve[-1]), "top1_curve": curve}


def _pairs(params):
    return [(model_name, act) for model_name in params["models"] for act in params["acts"]]


def _claims(params):
    """One claim per (model, activation): BN before the activation ends with a higher top-1 than after, by seed."""
    return {f"before_beats_after_{m}_{act}": Claim(
        f"BN before the activation beats BN after it ({act}, {m}): higher final held-out top-1",
        f"BN 放在激活之前优于放在激活之后（{act}，{m}）：最终留出集 top-1 更高", "top1_pct",
        {"model": m, "activation": act, "position": "before_act"}, {"model": m, "activation": act,
                                                                     "position": "after_act"}, unit=" points",
        evidence="final held-out top-1 with BN before the activation minus BN after it, paired by seed, same epochs, "
                 "optimizer and initialization; margin 0. Anchor: CaffeNet-128 on ImageNet, BN before ReLU 47.4% vs "
                 "after ReLU 49.9% top-1 (after was better)") for m, act in _pairs(params)}


def _after(ctx, results):
    """Held-out top-1 per epoch, both orders, one curves chart per (model, activation)."""
    for m, act in _pairs(ctx.params):
        chart = Chart("curves", f"norm_position_{m}_{act}", ("top1_curve",), (
            f"held-out top-1 during training, BN before vs after the activation ({m}, {act})",
            f"训练过程中的留出集 top-1：BN 在激活之前 vs 之后（{m}，{act}）"),
                      ("held-out top-1 (%), mean, 95% band", "留出集 top-1（%），均值与 95% 区间"), ("epoch", "轮"),
                      by="position", bounds=(0.0, 100.0), labels={"top1_curve": (f"{m}, {act}", f"{m}，{act}")})
        draw(ctx, chart, [run for run in results.runs if matches(run, {"model": m, "activation": act})])


def _summary(ctx, results):
    listed = ", ".join(f"{m} {act} {results.estimates[f'before_beats_after_{m}_{act}'].format(2)}"
                       for m, act in _pairs(ctx.params))
    return ctx.tr(f"Final top-1, BN before minus after the activation (points): {listed}.",
                  f"最终 top-1，BN 在激活之前减去之后（个百分点）：{listed}。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"model": m, "activation": act, "position": p} for m, act in _pairs(params)
                         for p in POSITIONS],
    cell=cell, metrics=("top1_pct", "top1_curve"), claims=_claims, after=_after, summary=_summary,
    table=Table("norm_position", (
        "{data}, BatchNorm, Momentum 0.9 lr {lr} (constant), batch {batch_size}, Kaiming init, final held-out top-1 "
        "(%), mean ± 95% interval over {seeds} seeds", "{data}，BatchNorm，Momentum 0.9，学习率 {lr}（常数），batch "
        "{batch_size}，Kaiming 初始化，最终留出集 top-1（%），{seeds} 个种子的均值 ± 95% 区间"),
                ("model", "activation", "position", "epochs", Stat("top1 %", "top1_pct")),
                extra=lambda setting, params: {"epochs": params[f"epochs_{setting['model']}"]}))
run = EXPERIMENT.run
