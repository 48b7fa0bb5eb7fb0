"""Where BatchNorm goes: conv/linear -> BN -> act versus conv/linear -> act -> BN, for ReLU and sigmoid."""
import numpy as np

from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section

QUESTION = ("Does BatchNorm work better between the linear/conv layer and the activation (the BN paper's order) "
            "than after the activation, for ReLU and for sigmoid networks, at the same training budget?")
QUESTION_ZH = ("BatchNorm 放在线性层/卷积层与激活函数之间（BN 论文的顺序），是否比放在激活函数之后更好？"
               "ReLU 与 sigmoid 网络分别如何（训练预算相同）？")
DEFAULTS = {"models": ["mlp", "simple_cnn"], "acts": ["relu", "sigmoid"], "epochs_mlp": 30,
            "epochs_simple_cnn": 8, "epochs_resnet20": 10, "batch_size": 32, "lr": 0.05, "seeds": 8}
QUICK = {"models": ["mlp"], "epochs_mlp": 2, "seeds": 2}
DATA = True  # any image data set (ctx.data)
POSITIONS = ("before_act", "after_act")
COLORS = {"before_act": "C0", "after_act": "C3"}  # one colour per order, in every panel
MODEL_OPTIONS = {"mlp": {"hidden": [100, 100, 100]}, "simple_cnn": {}, "resnet20": {}}


def _shape_options(model_name, info):
    """The data's input and class counts, as the model takes them."""
    if model_name == "mlp":
        return {"in_features": info.features, "num_classes": info.num_classes}
    return info.model_options


def _train_one(ctx, model_name, act, position, seed, data):
    """Train one model with BN in ``position``; returns its History (held-out top-1 once per epoch)."""
    prm, (train, test) = ctx.params, data
    ctx.seed_everything(seed)
    model = build_model(model_name, norm="bn", act=act, norm_position=position, **MODEL_OPTIONS[model_name],
                        **_shape_options(model_name, ctx.data_info))
    section = optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]})
    return fit(model, train, test, prm[f"epochs_{model_name}"], prm["batch_size"], seed=seed, optimizer=section)


def _runs(ctx, data):
    """``{(model, act, position): {"final": [top-1 % per seed], "curves": [...], "steps": eval steps}}``."""
    prm, results = ctx.params, {}
    ctx.plan(len(prm["models"]) * len(prm["acts"]) * len(POSITIONS) * prm["seeds"])
    for model_name in prm["models"]:
        for act in prm["acts"]:
            for position in POSITIONS:
                runs = results[(model_name, act, position)] = {"final": [], "curves": []}
                for seed in ctx.seeds(prm["seeds"]):
                    history = _train_one(ctx, model_name, act, position, seed, data)
                    curve = 100 * np.array(history.test_accuracy)
                    runs["final"].append(float(curve[-1]))
                    runs["curves"].append(curve)
                    runs["steps"] = history.eval_steps
                    ctx.curve(f"{model_name}_{act}_{position}/seed_{seed}/test_top1", history.eval_steps,
                              history.test_accuracy)
                    ctx.run_done(f"{model_name} {act} {position} seed={seed}", f"top-1 {curve[-1]:.2f}%",
                                 model=model_name, activation=act, position=position, seed=seed,
                                 top1_pct=float(curve[-1]))
    return results


def _difference(results, model_name, act):
    """Final top-1 of BN before the activation minus BN after it, paired by seed."""
    return paired_difference(results[(model_name, act, "before_act")]["final"],
                             results[(model_name, act, "after_act")]["final"])


def _rows(ctx, results):
    prm, rows = ctx.params, []
    for model_name in prm["models"]:
        for act in prm["acts"]:
            before, after = (mean_interval(results[(model_name, act, p)]["final"]) for p in POSITIONS)
            diff = _difference(results, model_name, act)
            rows.append({"model": model_name, "activation": act, "epochs": prm[f"epochs_{model_name}"],
                         "BN before act top1 %": before.format(2), "BN after act top1 %": after.format(2),
                         "before - after (points)": diff.format(2), "before mean": before.mean,
                         "after mean": after.mean, "difference mean": diff.mean,
                         "difference half-width": diff.half_width})
    return rows


def _label(ctx, position):
    if position == "before_act":
        return ctx.chart_text("BN before act (linear/conv -> BN -> act)", "BN 在激活之前（线性/卷积 -> BN -> 激活）")
    return ctx.chart_text("BN after act (linear/conv -> act -> BN)", "BN 在激活之后（线性/卷积 -> 激活 -> BN）")


def _panel(ctx, ax, runs, position):
    """Mean held-out top-1 over seeds (line) with its 95% interval (band) for one order; returns the band's lowest
    point."""
    curves = np.array(runs["curves"])
    band = [mean_interval(curves[:, i]) for i in range(curves.shape[1])]
    color = COLORS[position]
    ax.plot(runs["steps"], [b.mean for b in band], "-" if position == "before_act" else "--", color=color,
            marker="o", markersize=3, label=_label(ctx, position))
    ax.fill_between(runs["steps"], [b.low for b in band], [b.high for b in band], color=color, alpha=0.2,
                    linewidth=0, label=ctx.chart_text("95% interval (seeds)", "95% 区间（多个种子）"))
    return min(b.low for b in band)


def _chart(ctx, results):
    """One panel per (model, activation): held-out top-1 against training steps, both orders."""
    prm = ctx.params
    fig, axes = ctx.figure(len(prm["acts"]), len(prm["models"]), width=5.4, height=3.9)
    for row, model_name in enumerate(prm["models"]):
        for col, act in enumerate(prm["acts"]):
            ax = axes[row][col]
            lowest = min(_panel(ctx, ax, results[(model_name, act, p)], p) for p in POSITIONS)
            ax.set_title(f"{model_name}, {act}", fontsize=10, pad=30)  # above the legend
            ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
            ax.set_ylabel(ctx.chart_text("held-out top-1 (%)", "留出集 top-1（%）"))
            ax.set_ylim(max(0.0, 5 * np.floor(lowest / 5) - 5), 100.5)  # zoom on the curves, 100% kept in view
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)  # off the data
    ctx.save_figure(fig, "norm_position", ctx.tr("held-out top-1 during training, BN before vs after the "
                                                 "activation", "训练过程中的留出集 top-1：BN 在激活之前 vs 之后"))


def _claims(ctx, results):
    """One claim per (model, activation): BN before the activation ends with a higher top-1 than after."""
    for model_name in ctx.params["models"]:
        for act in ctx.params["acts"]:
            ctx.compare((f"BN before the activation beats BN after it ({act}, {model_name}): higher final held-out "
                         f"top-1", f"BN 放在激活之前优于放在激活之后（{act}，{model_name}）：最终留出集 top-1 更高"),
                        _difference(results, model_name, act), "greater", unit=ctx.tr(" points", " 个点"),
                        evidence="final held-out top-1 with BN before the activation minus BN after it, paired by "
                                 "seed, same epochs, optimizer and initialization; margin 0. Anchor: CaffeNet-128 "
                                 "on ImageNet, BN before ReLU 47.4% vs after ReLU 49.9% top-1 (after was better)")


def run(ctx):
    prm = ctx.params
    results = _runs(ctx, (ctx.data("train"), ctx.data("test")))
    rows = _rows(ctx, results)
    columns = ["model", "activation", "epochs", "BN before act top1 %", "BN after act top1 %",
               "before - after (points)"]
    ctx.table("norm_position", rows, columns,
              title=ctx.tr(f"{ctx.data_info.name}, BatchNorm, Momentum 0.9 lr {prm['lr']} (constant), batch {prm['batch_size']}, "
                           f"Kaiming init, mean ± 95% interval over {prm['seeds']} seeds",
                           f"{ctx.data_info.name}，BatchNorm，Momentum 0.9，学习率 {prm['lr']}（常数），batch {prm['batch_size']}，"
                           f"Kaiming 初始化，{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, results)
    _claims(ctx, results)
    listed = ", ".join(f"{r['model']} {r['activation']} {r['before - after (points)']}" for r in rows)
    return ctx.tr(f"Final top-1, BN before minus after the activation (points): {listed}.",
                  f"最终 top-1，BN 在激活之前减去之后（个点）：{listed}。")
