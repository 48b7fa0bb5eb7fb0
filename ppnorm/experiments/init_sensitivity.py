"""Initialization after training: how much final accuracy depends on the init scale with and without BN,
and whether a constant init leaves every unit of a layer identical (with BN, with dropout)."""
import numpy as np

from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section

QUESTION = ("Does BN make training insensitive to the initialization (std 0.01, 0.05, Xavier, Kaiming, 10x Kaiming), "
            "and does a constant initialization leave every unit of a layer identical after training "
            "(with and without BN, with and without dropout)?")
QUESTION_ZH = ("BN 是否让训练对初始化（std 0.01、0.05、Xavier、Kaiming、10 倍 Kaiming）不敏感？"
               "常数初始化是否让一层的所有单元在训练后仍完全相同（有无 BN、有无 dropout）？")
DEFAULTS = {"depth": 6, "width": 64, "inits": ["std 0.01", "std 0.05", "xavier", "kaiming", "10x kaiming"],
            "norms": ["none", "bn"], "epochs": 12, "batch": 64, "lr": 0.05, "target": 0.9, "seeds": 5,
            "constant": 0.015, "dropout": 0.2, "tolerance": 0.001}
DATA = True  # any image data set (ctx.data)
QUICK = {"depth": 3, "width": 16, "inits": ["std 0.01", "kaiming", "10x kaiming"], "epochs": 1, "seeds": 2, "constant": 0.06}


def init_args(name, fan_in):
    """``(init, init_std)`` of build_model for an init name; ``10x kaiming`` is N(0, 10 * sqrt(2 / fan_in)),
    exact for every layer when all layers have that fan-in (inputs = width = 64 on digits; on other data the first
    layer's fan-in is C*H*W, and its std is off by sqrt(C*H*W / width) from 10x Kaiming)."""
    if name.startswith("std "):
        return "normal", float(name[4:])
    if name == "10x kaiming":
        return "normal", 10 * float(np.sqrt(2.0 / fan_in))
    return name, 0.01


def distinct_units(weight, tolerance):
    """How many distinct units a ``[in, out]`` weight has: column j joins the first earlier representative
    whose incoming weights differ from its own by at most ``tolerance * max|weight|`` (max-abs), else it
    starts a new one (nan for a non-finite weight)."""
    weight = np.asarray(weight, dtype="float64")
    if not np.all(np.isfinite(weight)):
        return float("nan")  # a diverged run has no units to compare
    limit = tolerance * max(float(np.abs(weight).max()), 1e-30)
    representatives = []
    for column in weight.T:
        if not any(np.abs(column - rep).max() <= limit for rep in representatives):
            representatives.append(column)
    return len(representatives)


def _train(ctx, seed, norm, init, std, dropout=0.0):
    prm = ctx.params
    ctx.seed_everything(seed)
    info, train = ctx.data_info, ctx.data("train")
    model = build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"],
                        num_classes=info.num_classes, norm=norm, act="relu", init=init, init_std=std, dropout=dropout)
    steps_per_epoch = len(train[1]) // prm["batch"]
    history = fit(model, train, ctx.data("test"), prm["epochs"], prm["batch"], seed=seed,
                  eval_every=max(1, steps_per_epoch // 2),
                  optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    budget = prm["epochs"] * steps_per_epoch
    reached = history.steps_to(prm["target"])
    return model, {"final_acc": history.test_accuracy[-1], "steps_to_target": reached or budget,
                   "reached": reached is not None, "diverged": not np.all(np.isfinite(history.losses))}


def _sensitivity_runs(ctx):
    for norm in ctx.params["norms"]:
        for name in ctx.params["inits"]:
            for seed in ctx.seeds(ctx.params["seeds"]):
                _, row = _train(ctx, seed, norm, *init_args(name, ctx.params["width"]))
                ctx.run_done(f"{name} norm={norm} seed={seed}", f"top-1 {100 * row['final_acc']:.1f}%, "
                             f"steps to {ctx.params['target']:.0%}: {row['steps_to_target']}",
                             part="init", init=name, norm=norm, dropout=0.0, seed=seed, **row)


def _constant_runs(ctx):
    prm = ctx.params
    for norm in prm["norms"]:
        for dropout in (0.0, prm["dropout"]):
            for seed in ctx.seeds(prm["seeds"]):
                model, row = _train(ctx, seed, norm, "constant", prm["constant"], dropout)
                counts = [distinct_units(b.linear.weight.numpy(), prm["tolerance"]) for b in model.layers]
                ctx.run_done(f"constant norm={norm} dropout={dropout} seed={seed}", f"distinct units per layer "
                             f"{counts}, top-1 {100 * row['final_acc']:.1f}%", part="constant", init="constant",
                             norm=norm, dropout=dropout, seed=seed, distinct=float(np.mean(counts)), **row)


def _spread(ctx, norm, key):
    """Per seed: the standard deviation across the inits of ``key`` (one number per seed)."""
    table = np.array([ctx.run_values(key, part="init", init=name, norm=norm) for name in ctx.params["inits"]])
    return list(table.std(axis=0, ddof=1))


def _table(ctx):
    rows = []
    for part, name, norm, dropout in ([("init", n, nm, 0.0) for nm in ctx.params["norms"] for n in ctx.params["inits"]]
                                      + [("constant", "constant", nm, d) for nm in ctx.params["norms"]
                                         for d in (0.0, ctx.params["dropout"])]):
        match = dict(part=part, init=name, norm=norm, dropout=dropout)
        row = {"init": name, "norm": norm, "dropout": dropout,
               "top-1 %": mean_interval(ctx.run_values("final_acc", **match)).scaled(100).format(1),
               "steps to target": mean_interval(ctx.run_values("steps_to_target", **match)).format(0),
               "reached": f"{sum(ctx.run_values('reached', **match))}/{ctx.params['seeds']}",
               "diverged": f"{sum(ctx.run_values('diverged', **match))}/{ctx.params['seeds']}"}
        if part == "constant":
            row["distinct units"] = mean_interval(ctx.run_values("distinct", **match)).format(1)
        rows.append(row)
    return rows


def _claims(ctx):
    prm = ctx.params
    if "bn" in prm["norms"] and "none" in prm["norms"]:
        for key, unit, en, zh in (("final_acc", 100, "final top-1 accuracy (points)", "最终 top-1 准确率（百分点）"),
                                  ("steps_to_target", 1, f"steps to {prm['target']:.0%} test accuracy",
                                   f"达到 {prm['target']:.0%} 测试准确率的步数")):
            diff = paired_difference(_spread(ctx, "bn", key), _spread(ctx, "none", key)).scaled(unit)
            ctx.compare((f"BN makes training insensitive to the initialization: the spread of the {en} across the "
                         f"{len(prm['inits'])} inits is smaller with BN",
                         f"BN 让训练对初始化不敏感：{len(prm['inits'])} 种初始化之间{zh}的离散度有 BN 时更小"),
                        diff, "less", digits=1, evidence=ctx.tr(
                            "std across inits with BN minus without, paired by seed (never reaching the target "
                            "counts as the whole budget)", "有 BN 减无 BN 的跨初始化标准差，按种子配对（未达目标计为全部步数）"))
    for norm in prm["norms"]:
        with_bn = ctx.tr(", with BN,", "（有 BN）") if norm == "bn" else ""
        ctx.compare((f"With a constant init{with_bn} and no dropout, every hidden unit of a layer is still identical "
                     f"after training (1 distinct unit of {prm['width']})",
                     f"常数初始化{with_bn}且无 dropout，训练后每层的隐藏单元仍完全相同（{prm['width']} 个中只有 1 个不同的）"),
                    mean_interval(ctx.run_values("distinct", part="constant", norm=norm, dropout=0.0)), "less",
                    margin=1.5, digits=1, evidence=ctx.tr("distinct units per hidden layer, mean over layers",
                                                          "每个隐藏层不同单元的个数，对各层取平均"))
        ctx.compare((f"Dropout {prm['dropout']} breaks the tie of a constant init{with_bn}: more distinct units",
                     f"dropout {prm['dropout']} 打破常数初始化{with_bn}的对称：不同单元更多"),
                    paired_difference(ctx.run_values("distinct", part="constant", norm=norm, dropout=prm["dropout"]),
                                      ctx.run_values("distinct", part="constant", norm=norm, dropout=0.0)),
                    "greater", digits=1, evidence=ctx.tr("distinct units with dropout minus without, paired by seed",
                                                         "有 dropout 减无 dropout 的不同单元数，按种子配对"))
    if "kaiming" in prm["inits"]:
        ctx.compare(("A constant init (no BN, no dropout) ends with lower accuracy than Kaiming",
                     "常数初始化（无 BN、无 dropout）的最终准确率低于 Kaiming"),
                    paired_difference(ctx.run_values("final_acc", part="constant", norm="none", dropout=0.0),
                                      ctx.run_values("final_acc", part="init", init="kaiming", norm="none")).scaled(100),
                    "less", digits=1, evidence=ctx.tr("top-1 points, paired by seed", "top-1 百分点，按种子配对"))


def _chart(ctx):
    prm = ctx.params
    fig, axes = ctx.figure(2, width=5.4)
    colors, x = {"none": "tab:red", "bn": "tab:blue"}, np.arange(len(prm["inits"]))
    for offset, norm in zip((-0.15, 0.15), prm["norms"]):
        est = [mean_interval(ctx.run_values("final_acc", part="init", init=n, norm=norm)).scaled(100) for n in prm["inits"]]
        axes[0][0].errorbar(x + offset, [e.mean for e in est], yerr=[e.half_width for e in est], fmt="o", capsize=4,
                            color=colors[norm], label=ctx.chart_text(f"norm={norm}: mean ± 95% interval",
                                                                     f"norm={norm}：均值 ± 95% 区间"))
    axes[0][0].set_xticks(x, prm["inits"], fontsize=8)
    axes[0][0].set_xlabel(ctx.chart_text("initialization", "初始化"))
    axes[0][0].set_ylabel(ctx.chart_text("final test top-1 (%)", "最终测试 top-1（%）"))
    axes[0][0].set_title(ctx.chart_text(f"ReLU MLP {prm['depth']} x {prm['width']}", f"ReLU MLP {prm['depth']} x {prm['width']}"))
    axes[0][0].legend(fontsize=7, loc="lower center")
    labels, ax = [], axes[0][1]
    for i, (norm, dropout) in enumerate((n, d) for n in prm["norms"] for d in (0.0, prm["dropout"])):
        est = mean_interval(ctx.run_values("distinct", part="constant", norm=norm, dropout=dropout))
        ax.bar(i, est.mean, yerr=est.half_width, capsize=4, color=colors[norm], alpha=1.0 if dropout else 0.5,
               label=ctx.chart_text(f"norm={norm}, dropout={dropout} (bar: mean, line: 95% interval)",
                                    f"norm={norm}，dropout={dropout}（柱：均值，线：95% 区间）"))
        labels.append(f"{norm}\ndropout={dropout}")
    ax.axhline(prm["width"], color="black", linestyle="--", label=ctx.chart_text("layer width", "层宽"))
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(0, prm["width"] * 1.6)
    ax.set_ylabel(ctx.chart_text("distinct units per hidden layer", "每个隐藏层的不同单元数"))
    ax.set_title(ctx.chart_text(f"constant init {prm['constant']}", f"常数初始化 {prm['constant']}"))
    ax.legend(fontsize=7, loc="upper left")
    ctx.save_figure(fig, "init_sensitivity", ctx.tr("final accuracy per init; distinct units after a constant init",
                                                    "各初始化的最终准确率；常数初始化后的不同单元数"))


def run(ctx):
    prm = ctx.params
    ctx.plan(len(prm["norms"]) * (len(prm["inits"]) + 2) * prm["seeds"])
    _sensitivity_runs(ctx)
    _constant_runs(ctx)
    columns = ["init", "norm", "dropout", "top-1 %", "steps to target", "reached", "diverged", "distinct units"]
    rows = ctx.table("init_sensitivity", _table(ctx), columns, title=ctx.tr(
        f"ReLU MLP {prm['depth']} x {prm['width']} on {ctx.data_info.name}, {prm['epochs']} epochs; mean ± 95% interval over "
        f"{prm['seeds']} seeds (steps to {prm['target']:.0%}: the budget when never reached)",
        f"{ctx.data_info.name} 上的 ReLU MLP {prm['depth']} x {prm['width']}，{prm['epochs']} 个 epoch；{prm['seeds']} 个种子的均值 ± 95% 区间"
        f"（达到 {prm['target']:.0%} 的步数：未达到时计为全部步数）"))
    _chart(ctx)
    _claims(ctx)
    spread = {n: float(np.mean(_spread(ctx, n, "final_acc"))) * 100 for n in prm["norms"]}
    parts = [f"{n} {v:.1f}" for n, v in spread.items()]
    return ctx.tr(f"Std of final top-1 across inits (points): {', '.join(parts)}; {len(rows)} settings.",
                  f"跨初始化的最终 top-1 标准差（百分点）：{'，'.join(parts)}；共 {len(rows)} 种设置。")
