"""Batch size and gradient noise without normalization: loss-curve noise, and accuracy at an equal sample budget."""
import math
import time

import numpy as np
import paddle

from ..models import build_model
from .bands import plot_band
from .stats import mean_interval, paired_difference
from .training import EveryNSteps, fit, optimizer_section

QUESTION = ("Without normalization, is SGD with batch 1 noisy and oscillating while the whole data set gives a smooth "
            "but costly descent?")
QUESTION_ZH = "无归一化时，batch 1 的 SGD 是否噪声大、来回震荡，而整个数据集作一个 batch 时下降平滑但代价高？"
DEFAULTS = {"batch_sizes": [1, 8, 64, 0], "hidden": [32], "lr": 0.05, "epochs": 2, "noise_steps": 100, "seeds": 5}
DATA = True  # any image data set (ctx.data)
QUICK = {"batch_sizes": [8, 0], "epochs": 1, "noise_steps": 12, "seeds": 2}


def step_noise(losses):
    """Standard deviation of the step-to-step changes of a loss curve, relative to its mean level."""
    losses = np.asarray(losses, dtype="float64")
    return float(np.std(np.diff(losses), ddof=1) / losses.mean())


@paddle.no_grad()
def full_loss(model, images, labels):
    return float(paddle.nn.functional.cross_entropy(model(images), labels))


def one_run(ctx, batch, seed):
    """Plain SGD; the full training-set loss after each of the first ``noise_steps`` steps, and the test accuracy
    and CPU seconds when ``epochs`` x N samples have been seen."""
    prm, train, test = ctx.params, ctx.data("train"), ctx.data("test")
    size = batch or len(train[1])
    steps_per_epoch = len(train[1]) // size
    budget_step = prm["epochs"] * len(train[1]) // size
    ctx.seed_everything(seed)
    info = ctx.data_info
    model = build_model("mlp", in_features=info.features, hidden=prm["hidden"], num_classes=info.num_classes,
                        norm="none", act="relu")
    losses, at_budget, start = [], {}, time.process_time()

    def record(loop):
        step = loop.states["global_step"]
        if step <= prm["noise_steps"]:
            losses.append(full_loss(loop.model, *train))
        if step == budget_step:
            at_budget.update(seconds=time.process_time() - start, accuracy=loop.history.metric(loop.model, *test))
    epochs = max(prm["epochs"], math.ceil(max(prm["noise_steps"], budget_step) / steps_per_epoch))
    fit(model, train, test, epochs, size, seed=seed, hooks=[EveryNSteps(1, record)], eval_every=10 ** 9,
        optimizer=optimizer_section(name="SGD", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    half = prm["noise_steps"] // 2
    return {"batch": size, "seed": seed, "loss noise": step_noise(losses[half:]), "final loss": losses[-1],
            "accuracy at budget": at_budget["accuracy"], "CPU s at budget": at_budget["seconds"]}, losses


def _values(ctx, size, key):
    return ctx.run_values(key, batch=size)


def _claims(ctx, sizes):
    small, full = sizes[0], sizes[-1]
    ctx.compare((f"Batch {small} gives a noisier loss curve than the full batch ({full})",
                 f"batch {small} 的损失曲线噪声大于整个数据集作 batch（{full}）"),
                mean_interval(np.log10(np.divide(_values(ctx, small, "loss noise"), _values(ctx, full, "loss noise")))),
                "greater", digits=2, evidence="log10 of the ratio of the relative std of step-to-step changes of the "
                "full training-set loss, paired by seed")
    middle = [s for s in sizes if 1 < s < full]
    if middle:
        ctx.compare((f"At an equal number of samples ({ctx.params['epochs']} epochs), the full batch reaches a lower test "
                     f"accuracy than batch {middle[0]} (it is costly)",
                     f"相同样本数（{ctx.params['epochs']} 轮）下，整个数据集作 batch 的测试准确率低于 batch {middle[0]}（代价高）"),
                    paired_difference(_values(ctx, middle[0], "accuracy at budget"),
                                      _values(ctx, full, "accuracy at budget")).scaled(100), "greater", unit=" pts",
                    digits=1, evidence="test top-1 % difference, paired by seed")


def _chart(ctx, sizes, curves):
    fig, axes = ctx.figure(2, width=5.0)
    colors = dict(zip(sizes, ("tab:red", "tab:orange", "tab:green", "tab:blue")))
    for size in sizes:
        runs = curves[size]
        plot_band(axes[0][0], range(1, len(runs[0]) + 1), runs, colors[size], f"batch {size}",
                  ctx.chart_text(f"batch {size}: 95% interval", f"batch {size}：95% 区间"))
    axes[0][0].set_title(ctx.chart_text("full training-set loss, step by step", "整个训练集的损失（逐步）"))
    axes[0][0].set_xlabel(ctx.chart_text("SGD step", "SGD 步数"))
    axes[0][0].set_ylabel(ctx.chart_text("cross-entropy loss (nats)", "交叉熵损失（nat）"))
    axes[0][0].legend(fontsize=7)
    ax = axes[0][1]
    runs = np.array([_values(ctx, size, "loss noise") for size in sizes]).T
    plot_band(ax, sizes, runs, "black", ctx.chart_text("mean over seeds", "种子均值"),
              ctx.chart_text("95% interval", "95% 区间"), marker="o-")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(ctx.chart_text("loss-curve noise vs batch size", "损失曲线噪声与 batch 大小"))
    ax.set_xlabel(ctx.chart_text("batch size (samples)", "batch 大小（样本数）"))
    ax.set_ylabel(ctx.chart_text("std of step-to-step change / mean loss", "逐步变化的标准差 / 平均损失"))
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "batch_noise", ctx.tr("loss-curve noise vs batch size (no normalization)",
                                               "损失曲线噪声与 batch 大小（无归一化）"))


def run(ctx):
    prm = ctx.params
    sizes = [b or len(ctx.data("train")[1]) for b in prm["batch_sizes"]]
    ctx.plan(len(sizes) * prm["seeds"])
    curves = {}
    for batch, size in zip(prm["batch_sizes"], sizes):
        for seed in ctx.seeds(prm["seeds"]):
            row, losses = one_run(ctx, batch, seed)
            curves.setdefault(size, []).append(losses)
            ctx.curve(f"batch_{size}/seed_{seed}/full_train_loss", range(1, len(losses) + 1), losses)
            ctx.run_done(f"batch {size} seed={seed}", f"loss noise {row['loss noise']:.4f}, top1 at budget "
                         f"{100 * row['accuracy at budget']:.1f}%", **row)
    rows = [{"batch": size, "loss noise": mean_interval(_values(ctx, size, "loss noise")).format(4),
             "test top1 % at equal samples": mean_interval(_values(ctx, size, "accuracy at budget")).scaled(100).format(1),
             "CPU s at equal samples": mean_interval(_values(ctx, size, "CPU s at budget")).format(2)} for size in sizes]
    ctx.table("batch_noise", rows, title=ctx.tr(
        f"Plain SGD lr {prm['lr']}, MLP {prm['hidden']}, no norm; noise over steps {prm['noise_steps'] // 2}.."
        f"{prm['noise_steps']}; accuracy and CPU time after {prm['epochs']} epochs of samples; mean ± 95% interval "
        f"over {prm['seeds']} seeds", f"普通 SGD lr {prm['lr']}，MLP {prm['hidden']}，无归一化；噪声取第 "
        f"{prm['noise_steps'] // 2}..{prm['noise_steps']} 步；准确率与 CPU 时间取 {prm['epochs']} 轮样本之后；"
        f"{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, sizes, curves)
    _claims(ctx, sizes)
    parts = [f"batch {r['batch']} {r['loss noise']}" for r in rows]
    return ctx.tr("Loss-curve noise: " + ", ".join(parts) + ".", "损失曲线噪声：" + "，".join(parts) + "。")
