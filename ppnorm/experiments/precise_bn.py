"""EMA running statistics vs PreciseBN in a short training at a normal and a high learning rate (Wu & Johnson 2021)."""
import copy

import numpy as np
import paddle

from ..models import build_model
from ..nn.precise_bn import update_bn_stats
from .stats import mean_interval, paired_difference
from .training import EveryNSteps, accuracy, digits, fit, optimizer_section

QUESTION = ("How far is evaluation with BatchNorm's EMA running statistics from evaluation with PreciseBN "
            "(population statistics recomputed with the weights frozen), at a normal and at a high learning rate?")
QUESTION_ZH = ("用 BatchNorm 的 EMA 滑动统计量评估，与用 PreciseBN（冻结权重后重新计算的总体统计量）评估，"
               "在正常学习率和大学习率下各差多少？")
DEFAULTS = {"model": "resnet20", "lrs": [0.05, 0.4], "epochs": 4, "batch_size": 32, "precise_batches": 32,
            "seeds": 5, "momentum": 0.9}
QUICK = {"model": "simple_cnn", "epochs": 1, "seeds": 2, "precise_batches": 4, "batch_size": 128}


def _batches(images, batch_size, seed):
    order = np.random.default_rng(seed).permutation(len(images))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        yield images[paddle.to_tensor(order[start:start + batch_size])]


def _train(ctx, lr, seed, train, test):
    """Train at ``lr`` with ``seed``; after each epoch evaluate with the EMA and with the PreciseBN statistics.
    Returns ``(ema, precise)``: held-out top-1 (%) per epoch."""
    prm = ctx.params
    steps_per_epoch = len(train[1]) // prm["batch_size"]
    ctx.seed_everything(seed)
    model = build_model(prm["model"], in_channels=1, num_classes=10, norm_options={"momentum": prm["momentum"]})
    section = optimizer_section(name="Momentum", weight_decay=5e-4, lr={"name": "Constant", "learning_rate": lr})
    ema, precise = [], []

    def compare(loop):
        epoch = loop.states["global_step"] // steps_per_epoch
        ema.append(100 * loop.history.test_accuracy[-1])  # fit has just evaluated with the EMA statistics
        frozen = copy.deepcopy(loop.model)
        update_bn_stats(frozen, _batches(train[0], prm["batch_size"], 1000 * seed + epoch), prm["precise_batches"])
        precise.append(100 * accuracy(frozen, *test))

    fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
        hooks=[EveryNSteps(steps_per_epoch, compare)], log=ctx.log, print_every=steps_per_epoch)
    epochs = range(1, len(ema) + 1)
    ctx.curve(f"lr_{lr}/seed_{seed}/top1_ema_pct", epochs, ema)
    ctx.curve(f"lr_{lr}/seed_{seed}/top1_precise_bn_pct", epochs, precise)
    gain = float(np.mean(precise) - np.mean(ema))
    ctx.run_done(f"lr={lr} seed={seed}", f"top-1 EMA {ema[-1]:.1f}%, PreciseBN {precise[-1]:.1f}% (last epoch); "
                 f"gain {gain:+.2f} points over the epochs", lr=lr, seed=seed, ema_top1_pct=float(np.mean(ema)),
                 precise_top1_pct=float(np.mean(precise)), gain_points=gain)
    return ema, precise


def _rows(results):
    """One row per (lr, epoch): both accuracies and the gain, mean ± 95% interval over seeds."""
    rows = []
    for lr, (ema, precise) in results.items():
        for e in range(ema.shape[1]):
            a, b = mean_interval(ema[:, e]), mean_interval(precise[:, e])
            gain = paired_difference(precise[:, e], ema[:, e])
            rows.append({"lr": lr, "epoch": e + 1, "top1 EMA %": a.format(2), "top1 PreciseBN %": b.format(2),
                         "gain (points)": gain.format(2), "mean": gain.mean, "half-width": gain.half_width,
                         "EMA mean": a.mean, "EMA half-width": a.half_width, "PreciseBN mean": b.mean,
                         "PreciseBN half-width": b.half_width})
    return rows


def _chart(ctx, rows):
    """Left: both accuracies per epoch (colour per lr, dashed EMA, solid PreciseBN); right: the gain per epoch."""
    fig, axes = ctx.figure(2, width=5.2, height=4.4)
    left, right = axes[0]
    for i, lr in enumerate(ctx.params["lrs"]):
        mine = [r for r in rows if r["lr"] == lr]
        epochs = np.array([r["epoch"] for r in mine]) + 0.04 * i  # side by side, so error bars do not hide each other
        for key, style, en, zh in (("EMA", "--", "EMA stats", "EMA 统计量"), ("PreciseBN", "-", "PreciseBN", "PreciseBN")):
            left.errorbar(epochs, [r[f"{key} mean"] for r in mine],
                          yerr=np.nan_to_num([r[f"{key} half-width"] for r in mine]),
                          fmt="o" + style, color=f"C{i}", capsize=3, markersize=4,
                          label=ctx.chart_text(f"lr {lr:g}, {en}", f"学习率 {lr:g}，{zh}"))
        right.errorbar(epochs, [r["mean"] for r in mine], yerr=np.nan_to_num([r["half-width"] for r in mine]),
                       fmt="o-", color=f"C{i}", capsize=3, markersize=4,
                       label=ctx.chart_text(f"lr {lr:g}", f"学习率 {lr:g}"))
    right.axhline(0, color="grey", linewidth=0.8)
    left.set_ylabel(ctx.chart_text("held-out top-1 (%), mean ± 95% interval", "留出集 top-1（%），均值 ± 95% 区间"))
    right.set_ylabel(ctx.chart_text("gain: PreciseBN − EMA (points)", "提升：PreciseBN − EMA（百分点）"))
    for ax in (left, right):
        ax.set_xlabel(ctx.chart_text("epoch", "轮（epoch）"))
        ax.set_xticks(sorted({r["epoch"] for r in rows}))
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: over no data
    ctx.save_figure(fig, "precise_bn", ctx.tr("EMA vs PreciseBN accuracy during training, and the gain",
                                              "训练中 EMA 与 PreciseBN 的准确率，以及提升"))


def _claims(ctx, gains):
    """Per learning rate: PreciseBN beats the EMA statistics; and the gain is larger at the highest lr."""
    for lr, gain in gains.items():
        ctx.compare((f"At lr {lr:g}, PreciseBN evaluates better than the EMA running statistics (gain > 0)",
                     f"学习率 {lr:g} 时，用 PreciseBN 评估好于用 EMA 滑动统计量（提升 > 0）"),
                    mean_interval(gain), "greater", unit=" points",
                    evidence="per seed: mean over the epochs of PreciseBN top-1 minus EMA top-1 (same weights)")
    low, high = min(gains), max(gains)
    if low != high:
        ctx.compare((f"The EMA statistics are worse at a high lr: the gain at lr {high:g} exceeds the gain at lr "
                     f"{low:g}",
                     f"大学习率下 EMA 统计量更差：学习率 {high:g} 的提升大于学习率 {low:g} 的提升"),
                    paired_difference(gains[high], gains[low]), "greater", unit=" points",
                    evidence="gain at the high lr minus gain at the low lr, paired by seed (same initial weights)")


def run(ctx):
    prm = ctx.params
    train, test = digits("train"), digits("test")
    ctx.plan(len(prm["lrs"]) * prm["seeds"])
    results = {}
    for lr in prm["lrs"]:
        runs = [_train(ctx, lr, seed, train, test) for seed in ctx.seeds(prm["seeds"])]
        results[lr] = (np.array([r[0] for r in runs]), np.array([r[1] for r in runs]))
    rows = _rows(results)
    ctx.table("precise_bn", rows, ["lr", "epoch", "top1 EMA %", "top1 PreciseBN %", "gain (points)"],
              title=ctx.tr(f"{prm['model']} on digits, constant lr, batch {prm['batch_size']}, BN momentum "
                           f"{prm['momentum']}; held-out top-1 after each epoch with the EMA statistics and with "
                           f"PreciseBN ({prm['precise_batches']} batches), mean ± 95% interval over "
                           f"{prm['seeds']} seeds",
                           f"{prm['model']} 在 digits 上，恒定学习率，batch {prm['batch_size']}，BN momentum "
                           f"{prm['momentum']}；每轮后分别用 EMA 统计量和 PreciseBN（{prm['precise_batches']} 个 batch）"
                           f"评估留出集 top-1，{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, rows)
    gains = {lr: (precise - ema).mean(axis=1) for lr, (ema, precise) in results.items()}
    _claims(ctx, gains)
    text = "; ".join(f"lr {lr:g}: {mean_interval(g).format(2)}" for lr, g in gains.items())
    return ctx.tr(f"PreciseBN minus EMA held-out top-1, averaged over the epochs (points): {text}.",
                  f"PreciseBN 减 EMA 的留出集 top-1（各轮平均，百分点）：{text.replace('lr', '学习率')}。")
