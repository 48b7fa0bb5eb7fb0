"""Sigmoid, tanh and ReLU MLPs with and without BatchNorm: speed of training and the pre-activation distribution."""
import dataclasses
import math

import numpy as np
import paddle

from ..models import build_model
from .bands import plot_band
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval
from .training import EveryNSteps, check_eval_every, fit, optimizer_section

QUESTION = ("Does BatchNorm speed up training for sigmoid, tanh and ReLU networks, does it rescue sigmoid "
            "networks, and how does it change the distribution of pre-activations (the BN paper's figure 1)?")
QUESTION_ZH = ("BatchNorm 能否加速 sigmoid、tanh、ReLU 网络的训练？能否“救活”sigmoid 网络？"
               "它如何改变激活前（pre-activation）的分布（BN 论文图 1）？")
DEFAULTS = {"acts": ["sigmoid", "tanh", "relu"], "hidden": [100, 100, 100], "epochs": 30, "batch_size": 32,
            "lr": 0.1, "eval_every": 15, "target": 0.95, "seeds": 10}
DATA = True  # any image data set (ctx.data)
QUICK = {"acts": ["sigmoid", "relu"], "epochs": 2, "seeds": 2}
NEAR_CHANCE = 5.0  # points: "at chance" means within 5 points of 1 / classes (18 of the 360 held-out digits)
COLORS = {"sigmoid": "C0", "tanh": "C1", "relu": "C2"}
PERCENTILES = ("p15_curve", "p50_curve", "p85_curve")


def cell(ctx, setting, seed):
    """One MLP: final held-out top-1 %, steps to the target (never reached: censored, nan; ``reached`` 0/1), and its
    accuracy curve and 15/50/85th percentiles of the last hidden layer's pre-activation."""
    prm, info, train, test = ctx.params, ctx.data_info, ctx.data("train"), ctx.data("test")
    model = build_model("mlp", in_features=info.features, hidden=prm["hidden"], num_classes=info.num_classes,
                        act=setting["activation"], norm=setting["norm"], init="xavier")
    captured, store = {}, []
    hook = model.layers[-1].act.register_forward_pre_hook(lambda layer, inputs: captured.update(x=inputs[0]))

    def record(loop):
        model.eval()
        with paddle.no_grad():
            model(test[0][:200])
        model.train()
        store.append(np.percentile(captured["x"].numpy(), [15, 50, 85]))

    section = optimizer_section(name="SGD", lr={"name": "Constant", "learning_rate": prm["lr"]})
    history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
                  eval_every=prm["eval_every"], hooks=[EveryNSteps(prm["eval_every"], record)])
    hook.remove()
    reached = history.steps_to(prm["target"])
    return {"top1_pct": 100 * history.test_accuracy[-1], "steps_to_target": math.nan if reached is None else reached,
            "reached": float(reached is not None), "top1_curve": [100 * a for a in history.test_accuracy],
            **{name: [float(p[i]) for p in store] for i, name in enumerate(PERCENTILES)}}


def _claims(params):
    """Steps to the target per activation, sigmoid at chance, BN rescuing sigmoid, BN hurting sigmoid / ReLU."""
    acts, target, claims = params["acts"], f"{params['target']:.0%}", {}
    pair = lambda act: ({"activation": act, "norm": "bn"}, {"activation": act, "norm": "none"})  # noqa: E731
    for act in acts:
        claims[f"speeds_{act}"] = Claim(
            f"BN always speeds training ({act}): fewer steps to {target} held-out accuracy with BN than without",
            f"BN 总能加速训练（{act}）：有 BN 达到 {target} 留出集准确率所需的步数少于无 BN", "steps_to_target",
            *pair(act)[::-1], digits=0,
            evidence=f"steps without BN minus with BN, per seed, evaluated every {{eval_every}} steps; a run that "
                     f"never reaches {target} in {{budget}} steps is censored: its seed counts as failed here and in "
                     f"reaches_more_{act}; margin 0")
        claims[f"reaches_more_{act}"] = Claim(
            f"With BN more runs reach {target} held-out accuracy ({act})",
            f"有 BN 时更多的运行达到 {target} 留出集准确率（{act}）", "reached", *pair(act), digits=0, scale=100,
            evidence=f"share of seeds reaching {target} within {{budget}} steps, with BN minus without (points), "
                     "paired by seed; margin 0")
    if "sigmoid" in acts:
        claims["sigmoid_at_chance"] = Claim(
            "Without BN the sigmoid MLP stays at chance: final held-out top-1 within {margin:g} points of "
            "{chance:.3g}%",
            "无 BN 的 sigmoid MLP 停留在随机水平：最终留出集 top-1 与 {chance:.3g}% 相差不超过 {margin:g} 个百分点", "top1_pct",
            None, side="within", margin=NEAR_CHANCE,  # measured in _after: over seeds, minus chance of the data
            evidence="final top-1 minus {chance:.3g}% after {epochs} epochs; {margin:g} points = {near:g} of "
                     "{test_size} test images")
        claims["bn_rescues_sigmoid"] = Claim(
            "BN rescues the sigmoid MLP: higher final top-1 with BN", "BN 救活 sigmoid MLP：有 BN 的最终 top-1 更高",
            "top1_pct", *pair("sigmoid"), evidence="final top-1 with BN minus without, per seed; margin 0")
    for act in (a for a in ("sigmoid", "relu") if a in acts):
        claims[f"bn_hurts_{act}"] = Claim(
            f"BN hurts {act} networks: lower final top-1 with BN", f"BN 对 {act} 网络有害：有 BN 的最终 top-1 更低",
            "top1_pct", *pair(act), side="less", evidence="final top-1 with BN minus without, per seed; margin 0")
    return claims


def _before(ctx, results):
    """Evaluations must happen; the claims' units in the report's language; the data's numbers their texts use."""
    prm, info = ctx.params, ctx.data_info
    steps = len(ctx.data("train")[1]) // prm["batch_size"]
    check_eval_every(prm["eval_every"], prm["epochs"], steps, info.name)
    units = {"steps_to_target": " steps", "top1_pct": " points", "reached": " points"}
    results.claims = {cid: dataclasses.replace(c, unit=units[c.metric]) for cid, c in results.claims.items()}
    margin = results.claims["sigmoid_at_chance"].margin if "sigmoid_at_chance" in results.claims else 0.0
    results.params = dict(results.params, budget=prm["epochs"] * steps, chance=100 / info.num_classes,
                          test_size=info.test_size, near=margin / 100 * info.test_size)


def _after(ctx, results):
    """Runs that reached the target and the pre-activation percentiles at the end; per activation, the accuracy
    (mean ± 95% band over seeds, top) and the pre-activation percentiles (p50, p15-p85 band, bottom)."""
    prm, rows, plain = ctx.params, [], {"activation": "sigmoid", "norm": "none"}
    if "sigmoid_at_chance" in results.claims:  # final top-1 minus chance (100 / classes), per seed
        results.estimates["sigmoid_at_chance"] = mean_interval(np.subtract(results.values("top1_pct", plain),
                                                                           results.params["chance"]))
    fig, axes = ctx.figure(len(prm["acts"]), 2, width=4.4, height=3.4)
    for col, act in enumerate(prm["acts"]):
        top, bottom, color = axes[0][col], axes[1][col], COLORS.get(act, "C3")
        for norm, name, line in (("none", ctx.chart_text("no BN", "无 BN"), "--"),
                                 ("bn", ctx.chart_text("BN", "有 BN"), "-")):
            mine = [r for r in results.runs if (r["activation"], r["norm"]) == (act, norm)]
            p15, p50, p85 = (np.mean([r[p] for r in mine], axis=0) for p in PERCENTILES)
            rows.append({"activation": act, "norm": norm, "reached": f"{sum(r['reached'] for r in mine)}/{len(mine)}",
                         "pre-act p15/p50/p85 at end": f"{p15[-1]:.2f} / {p50[-1]:.2f} / {p85[-1]:.2f}"})
            steps = prm["eval_every"] * np.arange(1, len(p50) + 1)
            plot_band(top, steps, [r["top1_curve"] for r in mine], color, f"{act} {name}", ctx.chart_text(
                f"{name}: 95% interval over seeds", f"{name}：95% 区间（多个种子）"), line)
            bottom.plot(steps, p50, line, color=color, label=f"{act} {name} p50")
            bottom.fill_between(steps, p15, p85, linewidth=0, facecolor=color if norm == "bn" else "none",
                                edgecolor=color, hatch=None if norm == "bn" else "///", alpha=0.25 if norm == "bn"
                                else 0.6, label=f"{act} {name} p15-p85")
        top.axhline(100 * prm["target"], color="grey", linestyle=":", linewidth=1,
                    label=ctx.chart_text(f"target {prm['target']:.0%}", f"目标 {prm['target']:.0%}"))
        top.set(ylim=(0, 100), ylabel=ctx.chart_text("held-out top-1 (%)", "留出集 top-1（%）"))
        bottom.set_ylabel(ctx.chart_text("last hidden pre-activation", "最后一层隐藏层的激活前值"))
        for ax in (top, bottom):
            ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
            ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)  # off the data
    ctx.save_figure(fig, "activation_with_bn", ctx.tr("accuracy curves and pre-activation percentiles",
                                                      "准确率曲线与激活前分位数"))
    ctx.table("pre_activations", rows, title=ctx.tr(
        f"Runs that reached {prm['target']:.0%} and the last hidden layer's pre-activation percentiles at the end "
        "(mean over seeds)", f"达到 {prm['target']:.0%} 的运行数，以及最后时刻最后一层隐藏层激活前的分位数（各种子平均）"))


def _summary(ctx, results):
    by = {(r["activation"], r["norm"]): r["steps to target"] for r in results.rows}
    listed = ", ".join(f"{a} {by[(a, 'bn')]} vs {by[(a, 'none')]}" for a in ctx.params["acts"])
    return ctx.tr(f"Steps to {ctx.params['target']:.0%} with vs without BN: {listed}.",
                  f"达到 {ctx.params['target']:.0%} 所需步数（有 BN vs 无 BN）：{listed}。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"activation": a, "norm": n} for a in params["acts"] for n in ("none", "bn")], cell=cell,
    metrics=("top1_pct", "steps_to_target", "reached", "top1_curve", *PERCENTILES), claims=_claims, before=_before,
    after=_after, summary=_summary,
    table=Table("activations", (
        "MLP {hidden} on {data}, SGD lr {lr}, batch {batch_size}, {epochs} epochs, Xavier init, mean ± 95% interval "
        "over {seeds} seeds; steps to {target:.0%} evaluated every {eval_every} steps, over the runs that reached it",
        "MLP {hidden}，{data}，SGD 学习率 {lr}，batch {batch_size}，{epochs} 轮，Xavier 初始化，{seeds} 个种子的均值 ± "
        "95% 区间；每 {eval_every} 步评估达到 {target:.0%} 所需步数，只统计达到的运行"),
                ("activation", "norm", Stat("final top1 %", "top1_pct"),
                 Stat("steps to target", "steps_to_target", 0))))
run = EXPERIMENT.run
