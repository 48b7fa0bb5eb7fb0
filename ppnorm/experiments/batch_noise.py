"""Batch size and gradient noise without normalization: loss-curve noise, and accuracy at an equal sample budget."""
import math
import time

import numpy as np
import paddle

from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval, paired_difference
from .training import EveryNSteps, fit, optimizer_section

ORDER = 190  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Without normalization, is SGD with batch 1 noisy and oscillating while the whole data set gives a smooth "
            "but costly descent?")
QUESTION_ZH = "无归一化时，batch 1 的 SGD 是否噪声大、来回震荡，而整个数据集作一个 batch 时下降平滑但代价高？"
DEFAULTS = {"batch_sizes": [1, 8, 64, 0], "hidden": [32], "lr": 0.05, "epochs": 2, "noise_steps": 100, "seeds": 8}
DATA = True  # any image data set (ctx.data)
QUICK = {"batch_sizes": [8, 0], "epochs": 1, "noise_steps": 12, "seeds": 2}


def step_noise(losses):
    """Standard deviation of the step-to-step changes of a loss curve, relative to its mean level."""
    losses = np.asarray(losses, dtype="float64")
    return float(np.std(np.diff(losses), ddof=1) / losses.mean())


@paddle.no_grad()
def full_loss(model, images, labels):
    return float(paddle.nn.functional.cross_entropy(model(images), labels))


def cell(ctx, setting, seed):
    """Plain SGD with batch ``batch`` (0: the whole training set); the full training-set loss after each of the first
    ``noise_steps`` steps, and the test accuracy and CPU seconds when ``epochs`` x N samples have been seen."""
    prm, train, test, info = ctx.params, ctx.data("train"), ctx.data("test"), ctx.data_info
    size = setting["batch"] or len(train[1])
    steps_per_epoch, budget_step = len(train[1]) // size, prm["epochs"] * len(train[1]) // size
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
    return {"samples per batch": size, "loss noise": step_noise(losses[prm["noise_steps"] // 2:]),
            "final loss": losses[-1], "accuracy at budget": at_budget["accuracy"],
            "CPU s at budget": at_budget["seconds"], "loss curve": losses}


def _name(batch):
    return "all training images" if batch == 0 else str(batch)


def _compared(params):
    """The smallest batch, the full one (the last) and the first batch strictly between 1 and it (or None)."""
    sizes = params["batch_sizes"]
    middle = [b for b in sizes if b and 1 < b < (sizes[-1] or math.inf)]
    return sizes[0], sizes[-1], middle[0] if middle else None


def _claims(params):
    """Noisier with the smallest batch than with the full one; the full batch costly at an equal sample count."""
    small, full, middle = _compared(params)
    claims = {"small_batch_noisier": Claim(
        f"Batch {_name(small)} gives a noisier loss curve than the full batch ({_name(full)})",
        f"batch {_name(small)} 的损失曲线噪声大于整个数据集作 batch（{_name(full)}）", "loss noise", None,
        evidence="log10 of the ratio of the relative std of step-to-step changes of the full training-set loss, "
                 "paired by seed")}
    if middle is not None:
        claims["full_batch_costly"] = Claim(
            f"At an equal number of samples ({params['epochs']} epochs), the full batch reaches a lower test accuracy "
            f"than batch {middle} (it is costly)", f"相同样本数（{params['epochs']} 轮）下，整个数据集作 batch 的测试准确率"
            f"低于 batch {middle}（代价高）", "accuracy at budget", None, unit=" pts", digits=1,
            evidence="test top-1 % difference, paired by seed")
    return claims


def _after(ctx, results):
    """Both claims per seed pair: log10 of the noise ratio, and the accuracy difference in points."""
    small, full, middle = _compared(ctx.params)
    noise = [results.values("loss noise", {"batch": b}) for b in (small, full)]
    results.estimates["small_batch_noisier"] = mean_interval(np.log10(np.divide(*noise)))
    if middle is not None:
        accuracy = [results.values("accuracy at budget", {"batch": b}) for b in (middle, full)]
        results.estimates["full_batch_costly"] = paired_difference(*accuracy).scaled(100)


def _summary(ctx, results):
    parts = [f"batch {_name(r['batch'])} {r['loss noise']}" for r in results.rows]
    return ctx.tr("Loss-curve noise: " + ", ".join(parts) + ".", "损失曲线噪声：" + "，".join(parts) + "。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"batch": b} for b in params["batch_sizes"]], cell=cell, claims=_claims, after=_after,
    summary=_summary, metrics=("samples per batch", "loss noise", "final loss", "accuracy at budget", "CPU s at budget",
                               "loss curve"),
    table=Table("batch_noise", (
        "Plain SGD lr {lr}, MLP {hidden}, no norm, batch 0 = the whole training set; noise over the second half of the "
        "first {noise_steps} steps; accuracy and CPU time after {epochs} epochs of samples; mean ± 95% interval over "
        "{seeds} seeds", "普通 SGD lr {lr}，MLP {hidden}，无归一化，batch 0 即整个训练集；噪声取前 {noise_steps} 步的后一半；"
        "准确率与 CPU 时间取 {epochs} 轮样本之后；{seeds} 个种子的均值 ± 95% 区间"),
                ("batch", Stat("loss noise", "loss noise", 4), Stat("test accuracy at equal samples",
                                                                    "accuracy at budget", 3),
                 Stat("CPU s at equal samples", "CPU s at budget", 2))),
    charts=(Chart("curves", "batch_noise", ("loss curve",), ("full training-set loss, step by step, per batch size "
                                                             "(no normalization)", "整个训练集的损失（逐步），按 batch 大小（无归一化）"),
                  ("cross-entropy loss (nats)", "交叉熵损失（nat）"), ("SGD step", "SGD 步数"), by="batch",
                  labels={"loss curve": ("full training-set loss (0: whole-set batch)", "整个训练集的损失（0：全集作 batch）")}),))
run = EXPERIMENT.run
