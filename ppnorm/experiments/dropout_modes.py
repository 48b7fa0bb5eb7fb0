"""Paddle's two Dropout modes: the formulas, their expectations, channel dropout, and training with each."""
import numpy as np

from ..engine.config import ConfigError
from ..models import build_model
from .charts import Chart
from .claims import Claim
from .dropout_formulas import MODES, axis_table, formulas
from .framework import Experiment, Stat, Table
from .training import fit, optimizer_section

ORDER = 30  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Do upscale_in_train and downscale_in_infer give the same expected output, and do networks trained "
            "with either mode behave the same, with weights related by the factor (1 - p)?")
QUESTION_ZH = ("upscale_in_train 与 downscale_in_infer 的训练输出期望是否相同？用两种模式训练的网络是否表现一样，"
               "权重是否差一个 (1 - p) 因子？")
DATA = True  # any image data set (ctx.data)
DEFAULTS = {"p": 0.5, "mc_samples": 20000, "seeds": 20, "epochs": 20, "hidden": [256, 256], "lr": 0.05}
QUICK = {"mc_samples": 2000, "seeds": 2, "epochs": 2}
EXPECTATION_MARGIN = 2.0  # %: a wrong formula is off by p/(1-p) or more (100% at p = 0.5)
SAME_MARGIN = 1.0  # points of held-out top-1: under 4 of the 360 digits, well below a "trains differently"
RATIO_MARGIN = 0.1  # relative: the same-lr norm ratio counts as 1/(1-p) when within 10% of it
METRICS = ("top1 % upscale_in_train", "top1 % downscale_in_infer", "difference (points)",
           "norm ratio W_down/W_up after dropout", "error % upscale_in_train", "error % downscale_in_infer")


def _before(ctx, results):
    """Formulas (a check), the Monte Carlo expectations (two claims over masks, not seeds), the axis table."""
    formulas(ctx, ctx.params["p"], ctx.params["mc_samples"], results.estimates)
    axis_table(ctx, ctx.params["p"])


def _pair(ctx, seed, scaled=False):
    """The MLP trained in both modes with ``seed`` (the same init and masks): per mode the model, its after-dropout
    weights, held-out top-1 (%) and error curve. ``scaled``: downscale_in_infer starts from W / (1 - p) after every
    dropout, trained with lr / (1 - p)^2, and so computes exactly what upscale_in_train computes."""
    p, trained = ctx.params["p"], []
    for mode in MODES:
        ctx.seed_everything(seed)
        model = build_model("mlp", **ctx.data_info.mlp_options, hidden=ctx.params["hidden"], dropout=p,
                            dropout_mode=mode)
        weights = [layer.linear.weight for layer in list(model.layers)[1:]] + [model.fc.weight]  # inputs: a dropout's
        for param in weights if scaled and mode == MODES[1] else []:
            param.set_value(param / (1 - p))
            param.optimize_attr["learning_rate"] = 1.0 / (1 - p) ** 2
        # cosine decay: the last epoch is a settled model, not a snapshot of a noisy constant-lr walk
        history = fit(model, ctx.data("train"), ctx.data("test"), ctx.params["epochs"], 32, seed=seed,
                      optimizer=optimizer_section("Momentum", ctx.params["lr"], "Cosine"))
        trained.append((model, [w.numpy() for w in weights], 100 * history.test_accuracy[-1],
                        [100 * (1 - a) for a in history.test_accuracy]))
    return trained


def cell(ctx, setting, seed):
    """Both modes trained alike: top-1 (%), their difference, and the mean after-dropout ||W_down|| / ||W_up||."""
    (_, ups, up_top1, up_curve), (_, downs, down_top1, down_curve) = _pair(ctx, seed)
    ratio = float(np.mean([np.linalg.norm(b) / np.linalg.norm(a) for a, b in zip(ups, downs)]))
    return dict(zip(METRICS, (up_top1, down_top1, down_top1 - up_top1, ratio, up_curve, down_curve)))


def _after(ctx, results):
    """The exact correspondence: downscale trained from W_up / (1 - p) with lr / (1 - p)^2 ends at W_up / (1 - p)."""
    p, images = ctx.params["p"], ctx.data("test")[0]
    (up, ups, up_top1, _), (down, downs, down_top1, _) = _pair(ctx, ctx.seed, scaled=True)
    ctx.run_done(f"{MODES[0]} and {MODES[1]}_scaled seed={ctx.seed}", f"top-1 {up_top1:.2f}%, {down_top1:.2f}%")
    exact = max(float(np.abs(b * (1 - p) - a).max() / np.abs(a).max()) for a, b in zip(ups, downs))
    up.eval(), down.eval()
    gap = float((up(images) - down(images)).abs().max())
    ctx.table("equivalence", [{"top1 % upscale": up_top1, "top1 % downscale (scaled start, lr/(1-p)^2)": down_top1,
                               "max rel diff W_down*(1-p) vs W_up": exact, "max abs logit difference": gap}],
              title=ctx.tr("Exact correspondence: W_down = W_up / (1 - p) when trained from W_up/(1-p) with lr/(1-p)^2",
                           "精确对应：从 W_up/(1-p) 出发、学习率 lr/(1-p)^2 训练时 W_down = W_up / (1 - p)"))
    ctx.check(("Downscale weights equal upscale weights / (1-p) when trained from W_up/(1-p) with lr/(1-p)^2",
               "从 W_up/(1-p) 出发、学习率乘 1/(1-p)^2 训练时，downscale 的权重等于 upscale 的权重 / (1-p)"),
              exact, 1e-5, f"max relative |W_down*(1-p) - W_up| after training; max logit difference {gap:.2g}")


def _claims(params):
    p, target = params["p"], 1 / (1 - params["p"])
    claims = {f"expectation_{mode}": Claim(
        f"{mode}: the expectation of the train output is the eval output (within ±{{margin:g}}%)",
        f"{mode}：训练输出的期望等于推理输出（相对偏差在 ±{{margin:g}}% 以内）", "relative deviation %", side="within",
        margin=EXPECTATION_MARGIN, unit=" %", evidence=f"train output / eval output - 1 over {{mc_samples}} masks and 5 "
        f"nonzero x; a wrong scale would be off by {100 * p / (1 - p):.0f}% or more") for mode in MODES}
    claims["modes_train_alike"] = Claim(
        "The two modes train equally well (same init, masks and lr; top-1 within ±{margin:g} point)",
        "两种模式训练得一样好（初始化、mask、学习率相同；top-1 相差在 ±{margin:g} 个百分点以内）", "difference (points)", {},
        side="within", margin=SAME_MARGIN, unit=" points", evidence="downscale minus upscale held-out top-1 per seed "
        f"(paired); {SAME_MARGIN:g} point is {3.6 * SAME_MARGIN:.1f} of 360 held-out images (digits' test split)")
    claims["same_lr_weight_ratio"] = Claim(
        f"With the same lr, downscale weights are upscale weights / (1-p) (norm ratio within {RATIO_MARGIN:.0%} of "
        f"{target:g})", f"学习率相同时，downscale 的权重是 upscale 的权重 / (1-p)（范数比在 {target:g} 的 {RATIO_MARGIN:.0%} "
        "以内）", "norm ratio W_down/W_up after dropout", {}, side="within", margin=RATIO_MARGIN * target, center=target,
        evidence=f"per seed, mean over the after-dropout matrices of ||W_down|| / ||W_up||, minus {target:g}")
    return claims


def _summary(ctx, results):
    (row,), diff, target = results.rows, results.estimates["modes_train_alike"].format(2), 1 / (1 - ctx.params["p"])
    up, down, ratio = row[METRICS[0]], row[METRICS[1]], row[f"{METRICS[3]} mean"]
    return ctx.tr(f"Both modes have the eval output as their mean; trained the same way they reach {up}% vs {down}% "
                  f"top-1 (difference {diff} points); downscale_in_infer's weights are upscale_in_train's / (1-p) exactly "
                  f"when its lr is scaled by 1/(1-p)^2 (with the same lr the norm ratio is {ratio:.2f}, not {target:g}).",
                  f"两种模式训练输出的均值都等于推理输出；同样训练时 top-1 分别为 {up}% 与 {down}%（差 {diff} 个百分点）；"
                  f"downscale_in_infer 的学习率乘 1/(1-p)^2 时其权重正好是 upscale_in_train 的权重除以 (1-p)"
                  f"（学习率相同时范数比为 {ratio:.2f}，不是 {target:g}）。")


def _validate(params):
    if not 0.0 <= params["p"] < 1.0:
        raise ConfigError(f"params.p must be a drop probability in [0, 1), got {params['p']!r} (p = 1 drops everything)")


EXPERIMENT = Experiment(
    grid=lambda params: [{}], cell=cell, metrics=METRICS, claims=_claims, before=_before, after=_after,
    summary=_summary, validate=_validate, extra_runs=lambda params: 1,
    table=Table("training", (
        "MLP {hidden} with dropout {p} after each hidden layer on {data}, {epochs} epochs (cosine lr {lr}), the same "
        "init, masks and lr in both modes; held-out top-1 (%), mean ± 95% interval over {seeds} seeds",
        "MLP {hidden}，每个隐藏层后接 p = {p} 的 dropout，{data} 上训练 {epochs} 轮（cosine 学习率 {lr}），两种模式的初始化、"
        "mask 和学习率相同；{seeds} 个种子的留出集 top-1（%）均值 ± 95% 区间"), tuple(Stat(m, m) for m in METRICS[:4])),
    charts=(Chart("curves", "training", METRICS[4:], ("both modes trained alike: held-out error per epoch",
                                                       "两种模式同样训练：每轮的留出集错误率"),
                  ("held-out error (%)", "留出集错误率（%）"), ("epoch", "轮"), bounds=(0.0, 100.0),
                  labels={m: (m[8:], m[8:]) for m in METRICS[4:]}),))
run = EXPERIMENT.run
