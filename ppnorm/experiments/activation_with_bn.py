"""Sigmoid, tanh and ReLU MLPs with and without BatchNorm: speed of training and the pre-activation distribution."""
import numpy as np
import paddle

from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import EveryNSteps, check_eval_every, fit, optimizer_section

QUESTION = ("Does BatchNorm speed up training for sigmoid, tanh and ReLU networks, does it rescue sigmoid "
            "networks, and how does it change the distribution of pre-activations (the BN paper's figure 1)?")
QUESTION_ZH = ("BatchNorm 能否加速 sigmoid、tanh、ReLU 网络的训练？能否“救活”sigmoid 网络？"
               "它如何改变激活前（pre-activation）的分布（BN 论文图 1）？")
DEFAULTS = {"acts": ["sigmoid", "tanh", "relu"], "hidden": [100, 100, 100], "epochs": 30, "batch_size": 32,
            "lr": 0.1, "eval_every": 15, "target": 0.95, "seeds": 8}
DATA = True  # any image data set (ctx.data)
QUICK = {"acts": ["sigmoid", "relu"], "epochs": 2, "seeds": 2}
NEAR_CHANCE = 5.0  # points: "at chance" means within 5 points of 1 / classes (18 of the 360 held-out digits)
COLORS = {"sigmoid": "C0", "tanh": "C1", "relu": "C2"}


def _percentile_probe(model, probe, store):
    """Record the 15/50/85th percentiles of the last hidden layer's input to its activation."""
    captured = {}
    hook = model.layers[-1].act.register_forward_pre_hook(lambda layer, inputs: captured.update(x=inputs[0]))

    def record(loop):
        model.eval()
        with paddle.no_grad():
            model(probe)
        model.train()
        store.append(np.percentile(captured["x"].numpy(), [15, 50, 85]))

    return record, hook


def _train_one(ctx, act, norm, seed, data):
    """Train one MLP; returns its History and the pre-activation percentiles ``[[p15, p50, p85] per eval]``."""
    prm, (train, test) = ctx.params, data
    ctx.seed_everything(seed)
    info = ctx.data_info
    model = build_model("mlp", in_features=info.features, hidden=prm["hidden"], num_classes=info.num_classes, act=act,
                        norm=norm, init="xavier")
    store = []
    record, hook = _percentile_probe(model, test[0][:200], store)
    section = optimizer_section(name="SGD", lr={"name": "Constant", "learning_rate": prm["lr"]})
    history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
                  eval_every=prm["eval_every"], hooks=[EveryNSteps(prm["eval_every"], record)])
    hook.remove()
    return history, np.array(store)


def _runs(ctx, data):
    """``{(act, norm): {"final", "steps", "curves", "percentiles", "eval_steps"}}`` over the seeds.
    A run that never reaches the target counts as the step budget (a lower bound of its true steps)."""
    prm = ctx.params
    budget = prm["epochs"] * (len(data[0][1]) // prm["batch_size"])
    check_eval_every(prm["eval_every"], prm["epochs"], len(data[0][1]) // prm["batch_size"], ctx.data_info.name)
    ctx.plan(len(prm["acts"]) * 2 * prm["seeds"])
    results = {}
    for act in prm["acts"]:
        for norm in ("none", "bn"):
            runs = results[(act, norm)] = {"final": [], "steps": [], "reached": [], "curves": [],
                                                 "percentiles": []}
            for seed in ctx.seeds(prm["seeds"]):
                history, store = _train_one(ctx, act, norm, seed, data)
                reached = history.steps_to(prm["target"])
                steps = budget if reached is None else reached
                runs["final"].append(100 * history.test_accuracy[-1])
                runs["steps"].append(steps)
                runs["reached"].append(reached is not None)
                runs["curves"].append(100 * np.array(history.test_accuracy))
                runs["percentiles"].append(store)
                runs["eval_steps"] = history.eval_steps
                ctx.curve(f"{act}_{norm}/seed_{seed}/test_top1", history.eval_steps, history.test_accuracy)
                ctx.run_done(f"{act} {norm} seed={seed}", f"top-1 {runs['final'][-1]:.2f}%, steps to target "
                             f"{steps if reached else f'>{budget}'}", activation=act, norm=norm, seed=seed,
                             top1_pct=runs["final"][-1], steps_to_target=steps, reached=reached is not None)
    return results, budget


def _rows(ctx, results):
    prm, rows = ctx.params, []
    for (act, norm), runs in results.items():
        final, steps = mean_interval(runs["final"]), mean_interval(runs["steps"])
        ends = np.mean([p[-1] for p in runs["percentiles"]], axis=0)
        rows.append({"activation": act, "BN": norm == "bn", "final top1 %": final.format(2),
                     f"steps to {prm['target']:.0%}": steps.format(0),
                     "reached": f"{sum(runs['reached'])}/{len(runs['steps'])}",
                     "pre-act p15/p50/p85 at end": " / ".join(f"{v:.2f}" for v in ends),
                     "top1 mean": final.mean, "top1 half-width": final.half_width,
                     "steps mean": steps.mean, "steps half-width": steps.half_width})
    return rows


def _panel(ctx, axes, act, norm, runs):
    """One activation's accuracy (mean ± 95% band over seeds) and pre-activation percentiles (p50, p15-p85 band)."""
    top, bottom = axes
    color, bn = COLORS.get(act, "C3"), norm == "bn"
    name = ctx.chart_text("BN" if bn else "no BN", "有 BN" if bn else "无 BN")
    style = {"facecolor": color, "alpha": 0.25} if bn else {"facecolor": "none", "edgecolor": color, "hatch": "///",
                                                              "alpha": 0.6}
    steps = runs["eval_steps"]
    curves = np.array(runs["curves"])
    band = [mean_interval(curves[:, i]) for i in range(curves.shape[1])]
    top.plot(steps, [b.mean for b in band], "-" if bn else "--", color=color, label=f"{act} {name}")
    top.fill_between(steps, [b.low for b in band], [b.high for b in band], linewidth=0, **style,
                     label=ctx.chart_text(f"{name}: 95% interval over seeds", f"{name}：95% 区间（多个种子）"))
    percentiles = np.mean(runs["percentiles"], axis=0)
    bottom.plot(steps, percentiles[:, 1], "-" if bn else "--", color=color, label=f"{act} {name} p50")
    bottom.fill_between(steps, percentiles[:, 0], percentiles[:, 2], linewidth=0, **style,
                        label=f"{act} {name} p15-p85")


def _chart(ctx, results):
    """Accuracy curves (top row) and pre-activation percentiles (bottom row), one column per activation,
    one colour per activation in both rows; solid = BN, dashed = no BN."""
    prm = ctx.params
    fig, axes = ctx.figure(len(prm["acts"]), 2, width=4.4, height=3.4)
    for col, act in enumerate(prm["acts"]):
        for norm in ("none", "bn"):
            _panel(ctx, (axes[0][col], axes[1][col]), act, norm, results[(act, norm)])
        top, bottom = axes[0][col], axes[1][col]
        top.axhline(100 * prm["target"], color="grey", linestyle=":", linewidth=1,
                    label=ctx.chart_text(f"target {prm['target']:.0%}", f"目标 {prm['target']:.0%}"))
        top.set_ylim(0, 100)
        top.set_ylabel(ctx.chart_text("held-out top-1 (%)", "留出集 top-1（%）"))
        bottom.set_ylabel(ctx.chart_text("last hidden pre-activation", "最后一层隐藏层的激活前值"))
        for ax in (top, bottom):
            ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
            ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)  # off the data
    ctx.save_figure(fig, "activation_with_bn", ctx.tr("accuracy curves and pre-activation percentiles",
                                                      "准确率曲线与激活前分位数"))


def _claims(ctx, results, budget):
    """Steps to the target per activation, sigmoid at chance, BN rescuing sigmoid, BN hurting sigmoid / ReLU."""
    prm, acts, target = ctx.params, ctx.params["acts"], f"{ctx.params['target']:.0%}"
    for act in acts:
        ctx.compare((f"BN always speeds training ({act}): fewer steps to {target} held-out accuracy with BN than without",
                     f"BN 总能加速训练（{act}）：有 BN 达到 {target} 留出集准确率所需的步数少于无 BN"),
                    paired_difference(results[(act, "none")]["steps"], results[(act, "bn")]["steps"]), "greater",
                    unit=ctx.tr(" steps", " 步"), digits=0,
                    evidence=f"steps without BN minus with BN, per seed, evaluated every {prm['eval_every']} steps; "
                             f"a run that never reaches {target} counts as the budget of {budget} steps (so its "
                             f"difference is a lower bound); margin 0")
    if "sigmoid" in acts:
        plain, with_bn = results[("sigmoid", "none")]["final"], results[("sigmoid", "bn")]["final"]
        chance, tested = 100 / ctx.data_info.num_classes, ctx.data_info.test_size
        ctx.compare((f"Without BN the sigmoid MLP stays at chance: final held-out top-1 within 5 points of {chance:.3g}%",
                     f"无 BN 的 sigmoid MLP 停留在随机水平：最终留出集 top-1 与 {chance:.3g}% 相差不超过 5 个点"),
                    mean_interval(np.subtract(plain, chance)), "within", NEAR_CHANCE, unit=ctx.tr(" points", " 个点"),
                    evidence=f"final top-1 minus {chance:.3g}% after {prm['epochs']} epochs; 5 points = "
                             f"{NEAR_CHANCE / 100 * tested:g} of {tested} test images")
        ctx.compare(("BN rescues the sigmoid MLP: higher final top-1 with BN", "BN 救活 sigmoid MLP：有 BN 的最终 top-1 更高"),
                    paired_difference(with_bn, plain), "greater", unit=ctx.tr(" points", " 个点"),
                    evidence="final top-1 with BN minus without, per seed; margin 0")
    for act in (a for a in ("sigmoid", "relu") if a in acts):
        ctx.compare((f"BN hurts {act} networks: lower final top-1 with BN", f"BN 对 {act} 网络有害：有 BN 的最终 top-1 更低"),
                    paired_difference(results[(act, "bn")]["final"], results[(act, "none")]["final"]), "less",
                    unit=ctx.tr(" points", " 个点"), evidence="final top-1 with BN minus without, per seed; margin 0")


def run(ctx):
    prm = ctx.params
    results, budget = _runs(ctx, (ctx.data("train"), ctx.data("test")))
    rows = _rows(ctx, results)
    key = f"steps to {prm['target']:.0%}"
    ctx.table("activations", rows, ["activation", "BN", "final top1 %", key, "reached", "pre-act p15/p50/p85 at end"],
              title=ctx.tr(f"MLP {prm['hidden']} on {ctx.data_info.name}, SGD lr {prm['lr']}, batch {prm['batch_size']}, "
                           f"{prm['epochs']} epochs ({budget} steps), Xavier init, mean ± 95% interval over "
                           f"{prm['seeds']} seeds; not reached = {budget} steps",
                           f"MLP {prm['hidden']}，{ctx.data_info.name}，SGD 学习率 {prm['lr']}，batch {prm['batch_size']}，"
                           f"{prm['epochs']} 轮（{budget} 步），Xavier 初始化，{prm['seeds']} 个种子的均值 ± 95% 区间；"
                           f"未达到目标按 {budget} 步计"))
    _chart(ctx, results)
    _claims(ctx, results, budget)
    by = {(r["activation"], r["BN"]): r[key] for r in rows}
    listed = ", ".join(f"{a} {by[(a, True)]} vs {by[(a, False)]}" for a in prm["acts"])
    return ctx.tr(f"Steps to {prm['target']:.0%} with vs without BN: {listed}.",
                  f"达到 {prm['target']:.0%} 所需步数（有 BN vs 无 BN）：{listed}。")
