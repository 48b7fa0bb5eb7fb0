"""The claim that with BatchNorm less dropout and less L2 are needed: gains from regularization, paired by seed."""
import itertools

import numpy as np

from ..engine.config import ConfigError
from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section

QUESTION = ("With BatchNorm, does a network gain less from dropout and from weight decay (L2) than without it?")
QUESTION_ZH = "有 BatchNorm 时，网络从 dropout 和 weight decay（L2）中得到的提升是否比没有 BN 时更少？"
DEFAULTS = {"norms": ["none", "bn"], "dropouts": [0.0, 0.5], "weight_decays": [0.0, 0.005],
            "epochs": 10, "batch_size": 32, "lr": 0.05, "seeds": 5, "train_subset": 500}
DATA = True  # any image data set (ctx.data)
QUICK = {"epochs": 1, "seeds": 2, "train_subset": 96}


def _top1(ctx, train, test, norm, dropout, decay, seed):
    """Held-out top-1 (%) of simple_cnn with ``norm`` and ``dropout`` trained with weight decay ``decay``."""
    prm = ctx.params
    ctx.seed_everything(seed)
    model = build_model("simple_cnn", **ctx.data_info.model_options, norm=norm, dropout=dropout)
    section = optimizer_section(name="Momentum", weight_decay=decay, lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section)
    curve = [100 * a for a in history.test_accuracy]
    ctx.curve(f"{norm}/dropout_{dropout}/wd_{decay}/seed_{seed}/test_top1_pct", history.eval_steps, curve)
    ctx.run_done(f"norm={norm} dropout={dropout} wd={decay} seed={seed}", f"top-1 {curve[-1]:.2f}%",
                 norm=norm, dropout=dropout, weight_decay=decay, seed=seed, top1_pct=curve[-1])
    return curve[-1]


def _grid(ctx, train, test):
    """``{(norm, dropout, decay): [top-1 % per seed]}`` over the whole grid."""
    prm = ctx.params
    cells = list(itertools.product(prm["norms"], prm["dropouts"], prm["weight_decays"]))
    ctx.plan(len(cells) * prm["seeds"])
    return {cell: [_top1(ctx, train, test, *cell, seed) for seed in ctx.seeds(prm["seeds"])] for cell in cells}


def _rows(scores):
    rows = []
    for (norm, dropout, decay), values in scores.items():
        estimate = mean_interval(values)
        rows.append({"norm": norm, "dropout": dropout, "weight decay": decay, "top1 %": estimate.format(2),
                     "mean": estimate.mean, "half-width": estimate.half_width})
    return rows


def _gains(ctx, scores):
    """``{(regularizer, norm): [gain per seed]}``: top-1 with the strongest dropout (or weight decay) alone
    minus top-1 without any regularization, same seed."""
    d, w = max(ctx.params["dropouts"]), max(ctx.params["weight_decays"])
    gains = {}
    for norm in ctx.params["norms"]:
        base = np.array(scores[(norm, 0.0, 0.0)])
        gains[(f"dropout {d:g}", norm)] = np.array(scores[(norm, d, 0.0)]) - base
        gains[(f"weight decay {w:g}", norm)] = np.array(scores[(norm, 0.0, w)]) - base
    return gains


def _gain_rows(gains):
    rows = []
    for (regularizer, norm), values in gains.items():
        estimate = mean_interval(values)
        rows.append({"regularizer": regularizer, "norm": norm, "gain (points)": estimate.format(2),
                     "mean": estimate.mean, "half-width": estimate.half_width})
    return rows


def ink_for(rgba):
    """Text colour readable on a cell of colour ``rgba``: black on light cells, white on dark ones (luma > 0.5)."""
    red, green, blue = rgba[:3]
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _heatmap(ctx, ax, rows, norm, limits):
    """Mean top-1 over dropout x weight decay; cell text black on light cells, white on dark ones."""
    import matplotlib
    prm, cmap = ctx.params, matplotlib.colormaps["viridis"]
    mean = {(r["dropout"], r["weight decay"]): r for r in rows if r["norm"] == norm}
    grid = np.array([[mean[(d, w)]["mean"] for w in prm["weight_decays"]] for d in prm["dropouts"]])
    image = ax.imshow(grid, cmap=cmap, vmin=limits[0], vmax=limits[1])
    for (i, j), value in np.ndenumerate(grid):
        ink = ink_for(cmap((value - limits[0]) / max(limits[1] - limits[0], 1e-9)))
        half = mean[(prm["dropouts"][i], prm["weight_decays"][j])]["half-width"]
        ax.text(j, i, f"{value:.2f}\n± {np.nan_to_num(half):.2f}", ha="center", va="center", color=ink, fontsize=8)
    ax.set_xticks(range(len(prm["weight_decays"]))), ax.set_xticklabels([f"{w:g}" for w in prm["weight_decays"]])
    ax.set_yticks(range(len(prm["dropouts"]))), ax.set_yticklabels([f"{d:g}" for d in prm["dropouts"]])
    ax.set_xlabel(ctx.chart_text("weight decay (L2 coefficient)", "weight decay（L2 系数）"))
    ax.set_ylabel(ctx.chart_text("dropout probability p", "dropout 概率 p"))
    ax.set_title(ctx.chart_text(f"held-out top-1 (%), norm = {norm}", f"留出集 top-1（%），norm = {norm}"), fontsize=9)
    return image


def _gain_panel(ctx, ax, gain_rows):
    regularizers = list(dict.fromkeys(r["regularizer"] for r in gain_rows))
    for i, norm in enumerate(ctx.params["norms"]):
        mine = {r["regularizer"]: r for r in gain_rows if r["norm"] == norm}
        x = np.arange(len(regularizers)) + 0.1 * (i - 0.5)
        ax.errorbar(x, [mine[g]["mean"] for g in regularizers], yerr=np.nan_to_num([mine[g]["half-width"]
                                                                                   for g in regularizers]),
                    fmt="o", color=f"C{i}", capsize=4, label=ctx.chart_text(f"norm = {norm}, mean ± 95% interval",
                                                                             f"norm = {norm}，均值 ± 95% 区间"))
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(regularizers))), ax.set_xticklabels(regularizers)
    ax.set_xlim(-0.5, len(regularizers) - 0.5)
    ax.set_ylabel(ctx.chart_text("gain in held-out top-1 (points)", "留出集 top-1 的提升（百分点）"))
    ax.legend(fontsize=7)


def _chart(ctx, rows, gain_rows):
    """The two heat maps on one colour scale (colour bar beside them, outside the cells), then the gains."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable
    norms = ctx.params["norms"]
    fig, axes = ctx.figure(len(norms) + 1, width=4.0, height=3.8)
    limits = (min(r["mean"] for r in rows), max(r["mean"] for r in rows))
    for ax, norm in zip(axes[0], norms):
        image = _heatmap(ctx, ax, rows, norm, limits)
    bar_axes = make_axes_locatable(axes[0][len(norms) - 1]).append_axes("right", size="6%", pad=0.1)
    fig.colorbar(image, cax=bar_axes).set_label(ctx.chart_text("top-1 (%)", "top-1（%）"))
    _gain_panel(ctx, axes[0][len(norms)], gain_rows)
    ctx.save_figure(fig, "dropout_with_bn", ctx.tr("held-out top-1 over the dropout x weight-decay grid, and the gain "
                                                   "from each regularizer (paired by seed)",
                                                   "dropout × weight decay 网格上的留出集 top-1，以及每种正则化的提升（按种子配对）"))


def _claims(ctx, gains):
    """Per regularizer: its gain without BN minus its gain with BN, paired by seed, is > 0."""
    for regularizer in dict.fromkeys(r for r, _ in gains):
        ctx.compare((f"With BN the network gains less from {regularizer} than without BN",
                     f"有 BN 时网络从 {regularizer} 得到的提升比没有 BN 时少"),
                    paired_difference(gains[(regularizer, "none")], gains[(regularizer, "bn")]), "greater",
                    unit=" points", evidence=f"(top-1 with {regularizer} minus top-1 without regularization) "
                                             f"without BN minus the same with BN, per seed")


def _validate(prm):
    missing = [f"params.{key} needs {value!r}" for key, value in (("norms", "none"), ("norms", "bn"),
                                                                   ("dropouts", 0.0), ("weight_decays", 0.0))
               if value not in prm[key]]
    if missing or len(prm["dropouts"]) < 2 or len(prm["weight_decays"]) < 2:
        raise ConfigError("dropout_with_bn compares against the unregularized cell: " + "; ".join(
            missing or ["params.dropouts and params.weight_decays need a value besides 0"]))


def run(ctx):
    prm = ctx.params
    _validate(prm)
    images, labels = ctx.data("train")
    subset, name = min(prm["train_subset"] or len(labels), len(labels)), ctx.data_info.name
    train = (images[:subset], labels[:subset])  # a smaller training set makes regularization matter
    scores = _grid(ctx, train, ctx.data("test"))
    rows, gains = _rows(scores), _gains(ctx, scores)
    gain_rows = _gain_rows(gains)
    ctx.table("grid", rows, ["norm", "dropout", "weight decay", "top1 %"],
              title=ctx.tr(f"simple_cnn on {subset} {name} training images, {prm['epochs']} epochs, held-out "
                           f"top-1 (%), mean ± 95% interval over {prm['seeds']} seeds; dropout before the classifier",
                           f"simple_cnn 在 {subset} 张 {name} 训练图片上训练 {prm['epochs']} 轮，留出集 top-1（%），"
                           f"{prm['seeds']} 个种子的均值 ± 95% 区间；dropout 在分类层之前"))
    ctx.table("gains", gain_rows, ["regularizer", "norm", "gain (points)"],
              title=ctx.tr("gain from each regularizer alone over the unregularized network (points, paired by seed)",
                           "每种正则化单独使用时相对不加正则化的提升（百分点，按种子配对）"))
    _chart(ctx, rows, gain_rows)
    _claims(ctx, gains)
    return ctx.tr("Gain from regularization (points), without BN vs with BN: " + "; ".join(
        f"{r['regularizer']} {r['norm']}: {r['gain (points)']}" for r in gain_rows) + ".",
                  "正则化带来的提升（百分点），无 BN 与有 BN：" + "；".join(
        f"{r['regularizer']} {r['norm']}：{r['gain (points)']}" for r in gain_rows) + "。")
