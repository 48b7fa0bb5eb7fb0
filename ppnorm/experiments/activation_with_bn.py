"""Sigmoid, tanh and ReLU MLPs with and without BatchNorm: speed of training and the pre-activation distribution."""
import dataclasses
import math

import numpy as np
import paddle

from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval
from .training import EveryNSteps, check_eval_every, fit, optimizer_section

ORDER = 60  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does BatchNorm speed up training for sigmoid, tanh and ReLU networks, does it rescue sigmoid "
            "networks, and how does it change the distribution of pre-activations (the BN paper's figure 1)?")
QUESTION_ZH = ("BatchNorm 能否加速 sigmoid、tanh、ReLU 网络的训练？能否“救活”sigmoid 网络？"
               "它如何改变激活前（pre-activation）的分布（BN 论文图 1）？")
DEFAULTS = {"acts": ["sigmoid", "tanh", "relu"], "hidden": [100, 100, 100], "epochs": 30, "batch_size": 32,
            "lr": 0.1, "eval_every": 15, "target": 0.95, "seeds": 10}
DATA = True  # any image data set (ctx.data)
QUICK = {"acts": ["sigmoid", "relu"], "epochs": 2, "seeds": 2}
NEAR_CHANCE = 5.0  # points: "at chance" means within 5 points of 1 / classes (18 of the 360 held-out digits)
PERCENTILES = ("p15_curve", "p50_curve", "p85_curve")
EVALUATIONS = ("evaluation (every eval_every steps)", "评估次序（每 eval_every 步一次）")


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
    """Sigmoid at chance (final top-1 minus 100 / classes, per seed); runs that reached the target and the mean
    pre-activation percentiles at the end."""
    prm, rows, plain = ctx.params, [], {"activation": "sigmoid", "norm": "none"}
    if "sigmoid_at_chance" in results.claims:
        results.estimates["sigmoid_at_chance"] = mean_interval(np.subtract(results.values("top1_pct", plain),
                                                                           results.params["chance"]))
    for act, norm in ((act, norm) for act in prm["acts"] for norm in ("none", "bn")):
        mine = [r for r in results.runs if (r["activation"], r["norm"]) == (act, norm)]
        p15, p50, p85 = (np.mean([r[p] for r in mine], axis=0) for p in PERCENTILES)
        rows.append({"activation": act, "norm": norm, "reached": f"{sum(r['reached'] for r in mine):.0f}/{len(mine)}",
                     "pre-act p15/p50/p85 at end": f"{p15[-1]:.2f} / {p50[-1]:.2f} / {p85[-1]:.2f}"})
    ctx.table("pre_activations", rows, title=ctx.tr(
        f"Runs that reached {prm['target']:.0%} and the last hidden layer's pre-activation percentiles at the end "
        "(mean over seeds)", f"达到 {prm['target']:.0%} 的运行数，以及最后时刻最后一层隐藏层激活前的分位数（各种子平均）"))


def _summary(ctx, results):
    never = ctx.tr("never", "未达到")
    by = {(r["activation"], r["norm"]): r["steps to target"] or never for r in results.rows}
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
                 Stat("steps to target", "steps_to_target", 0))),
    charts=(Chart("curves", "activation_with_bn", ("top1_curve",), (
        "held-out top-1 during training, with and without BN (mean, 95% band over seeds)",
        "训练过程中的留出集 top-1，有无 BN（各种子的均值与 95% 区间）"), ("held-out top-1 (%)", "留出集 top-1（%）"), EVALUATIONS,
                  by="norm", panel="activation", bounds=(0.0, 100.0), labels={"top1_curve": ("top-1", "top-1")}),
            Chart("curves", "pre_activation_percentiles", PERCENTILES, (
                "15th, 50th and 85th percentiles of the last hidden layer's pre-activation (the BN paper's figure 1; "
                "mean, 95% band over seeds)", "最后一层隐藏层激活前的第 15、50、85 百分位数（BN 论文图 1；各种子的均值与 95% 区间）"),
                  ("pre-activation", "激活前值"), EVALUATIONS, by="norm", panel="activation",
                  labels={p: (p[:3], p[:3]) for p in PERCENTILES})))
run = EXPERIMENT.run
