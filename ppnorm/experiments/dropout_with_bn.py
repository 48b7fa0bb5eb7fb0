"""The claim that with BatchNorm less dropout and less L2 are needed: gains from regularization, paired by seed."""
import numpy as np

from ..engine.config import ConfigError
from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section

ORDER = 110  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("With BatchNorm, does a network gain less from dropout and from weight decay (L2) than without it?")
QUESTION_ZH = "有 BatchNorm 时，网络从 dropout 和 weight decay（L2）中得到的提升是否比没有 BN 时更少？"
# 112 seeds: the design runs (seeds 0-4) size the dropout claim's equivalence test at 112 for 80 % power
DEFAULTS = {"norms": ["none", "bn"], "dropouts": [0.0, 0.5], "weight_decays": [0.0, 0.005],
            "epochs": 10, "batch_size": 32, "lr": 0.05, "seeds": 112, "train_subset": 500}
DATA = True  # any image data set (ctx.data)
QUICK = {"epochs": 1, "seeds": 2, "train_subset": 96}


def cell(ctx, setting, seed):
    """Held-out top-1 (%) of simple_cnn with ``norm`` and ``dropout``, trained with weight decay ``weight_decay``
    on the first ``train_subset`` training images (a smaller training set makes regularization matter)."""
    prm, (images, labels) = ctx.params, ctx.data("train")
    subset = min(prm["train_subset"] or len(labels), len(labels))
    model = build_model("simple_cnn", **ctx.data_info.model_options, norm=setting["norm"], dropout=setting["dropout"])
    section = optimizer_section(name="Momentum", weight_decay=setting["weight_decay"],
                                lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, (images[:subset], labels[:subset]), ctx.data("test"), prm["epochs"], prm["batch_size"],
                  seed=seed, optimizer=section)
    curve = [100 * a for a in history.test_accuracy]
    return {"top1_pct": curve[-1], "top1_curve": curve}


def _regularizers(params):
    """``(claim id, name, {dropout, weight_decay} of the regularized cell)``: the strongest of each, alone."""
    d, w = max(params["dropouts"]), max(params["weight_decays"])
    return [("dropout_gain_smaller_with_bn", f"dropout {d:g}", {"dropout": d, "weight_decay": 0.0}),
            ("weight_decay_gain_smaller_with_bn", f"weight decay {w:g}", {"dropout": 0.0, "weight_decay": w})]


def _claims(params):
    """Per regularizer: its gain without BN minus its gain with BN, paired by seed, is > 0 (measured in ``after``)."""
    return {cid: Claim(f"With BN the network gains less from {name} than without BN",
                       f"有 BN 时网络从 {name} 得到的提升比没有 BN 时少", "top1_pct", None, unit=" points",
                       evidence=f"(top-1 with {name} minus top-1 without regularization) without BN minus the same "
                                f"with BN, per seed") for cid, name, _ in _regularizers(params)}


def _after(ctx, results):
    """The gain of each regularizer alone over the unregularized cell, per norm and seed; its table, chart, claims."""
    rows, gains = [], {}
    for cid, name, regularized in _regularizers(ctx.params):
        for norm in ctx.params["norms"]:
            base = results.values("top1_pct", {"norm": norm, "dropout": 0.0, "weight_decay": 0.0})
            gains[norm] = np.subtract(results.values("top1_pct", {"norm": norm, **regularized}), base)
            estimate = mean_interval(gains[norm])
            rows.append({"regularizer": name, "norm": norm, "gain (points)": estimate.format(2),
                         "mean": estimate.mean, "half-width": estimate.half_width})
        results.estimates[cid] = paired_difference(gains["none"], gains["bn"])
    results.store["gains"] = rows
    ctx.table("gains", rows, ["regularizer", "norm", "gain (points)"],
              title=ctx.tr("gain from each regularizer alone over the unregularized network (points, paired by seed)",
                           "每种正则化单独使用时相对不加正则化的提升（百分点，按种子配对）"))
    _gain_chart(ctx, rows)


def _gain_chart(ctx, rows):
    """The gains with their intervals, one colour per norm (a quantity per seed pair: no chart kind draws it)."""
    fig, axes = ctx.figure(1, width=5.0, height=3.8)
    ax, regularizers = axes[0][0], list(dict.fromkeys(r["regularizer"] for r in rows))
    for i, norm in enumerate(ctx.params["norms"]):
        mine = {r["regularizer"]: r for r in rows if r["norm"] == norm}
        ax.errorbar(np.arange(len(regularizers)) + 0.1 * (i - 0.5), [mine[g]["mean"] for g in regularizers],
                    yerr=np.nan_to_num([mine[g]["half-width"] for g in regularizers]), fmt="o", color=f"C{i}",
                    capsize=4, label=ctx.chart_text(f"norm = {norm}, mean ± 95% interval", f"norm = {norm}，均值 ± 95% 区间"))
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(regularizers)), regularizers), ax.set_xlim(-0.5, len(regularizers) - 0.5)
    ax.set_ylabel(ctx.chart_text("gain in held-out top-1 (points)", "留出集 top-1 的提升（百分点）"))
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "dropout_with_bn_gains", ctx.tr("the gain from each regularizer (paired by seed)",
                                                         "每种正则化的提升（按种子配对）"))


def _validate(prm):
    missing = [f"params.{key} needs {value!r}" for key, value in (("norms", "none"), ("norms", "bn"),
                                                                   ("dropouts", 0.0), ("weight_decays", 0.0))
               if value not in prm[key]]
    if missing or len(prm["dropouts"]) < 2 or len(prm["weight_decays"]) < 2:
        raise ConfigError("dropout_with_bn compares against the unregularized cell: " + "; ".join(
            missing or ["params.dropouts and params.weight_decays need a value besides 0"]))


def _summary(ctx, results):
    rows = results.store["gains"]
    return ctx.tr("Gain from regularization (points), without BN vs with BN: " + "; ".join(
        f"{r['regularizer']} {r['norm']}: {r['gain (points)']}" for r in rows) + ".",
                  "正则化带来的提升（百分点），无 BN 与有 BN：" + "；".join(
        f"{r['regularizer']} {r['norm']}：{r['gain (points)']}" for r in rows) + "。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"norm": n, "dropout": d, "weight_decay": w} for n in params["norms"]
                         for d in params["dropouts"] for w in params["weight_decays"]],
    cell=cell, metrics=("top1_pct", "top1_curve"), claims=_claims, after=_after, summary=_summary, validate=_validate,
    table=Table("grid", ("simple_cnn on the first {train_subset} {data} training images (0: all), {epochs} epochs, "
                         "held-out top-1 (%), mean ± 95% interval over {seeds} seeds; dropout before the classifier",
                         "simple_cnn 在前 {train_subset} 张 {data} 训练图片（0：全部）上训练 {epochs} 轮，留出集 top-1（%），"
                         "{seeds} 个种子的均值 ± 95% 区间；dropout 在分类层之前"),
                ("norm", "dropout", "weight decay", Stat("top1 %", "top1_pct")),
                extra=lambda setting, params: {"weight decay": setting["weight_decay"]}),
    charts=(Chart("heatmap", "dropout_with_bn", ("top1_pct",), (
        "held-out top-1 over the dropout x weight-decay grid", "dropout × weight decay 网格上的留出集 top-1"),
                  ("top-1 (%)", "top-1（%）"), ("weight decay (L2 coefficient)", "weight decay（L2 系数）"),
                  x="weight_decay", y="dropout", by="norm"),))
run = EXPERIMENT.run
