"""EMA running statistics vs PreciseBN in a short training at a normal and a high learning rate (Wu & Johnson 2021)."""
import copy

import numpy as np
import paddle

from ..models import build_model
from ..nn.precise_bn import update_bn_stats
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import EveryNSteps, accuracy, fit, optimizer_section

ORDER = 80  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("How far is evaluation with BatchNorm's EMA running statistics from evaluation with PreciseBN "
            "(population statistics recomputed with the weights frozen), at a normal and at a high learning rate?")
QUESTION_ZH = ("用 BatchNorm 的 EMA 滑动统计量评估，与用 PreciseBN（冻结权重后重新计算的总体统计量）评估，"
               "在正常学习率和大学习率下各差多少？")
DATA = True  # any image data set (ctx.data)
DEFAULTS = {"model": "resnet20", "lrs": [0.05, 0.4], "epochs": 4, "batch_size": 32, "precise_batches": 32,
            "seeds": 12, "momentum": 0.9}
QUICK = {"model": "simple_cnn", "epochs": 1, "seeds": 2, "precise_batches": 4, "batch_size": 128}


def _batches(images, batch_size, seed):
    order = np.random.default_rng(seed).permutation(len(images))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        yield images[paddle.to_tensor(order[start:start + batch_size])]


def cell(ctx, setting, seed):
    """Train at ``setting["lr"]``; after each epoch evaluate with the EMA and with the PreciseBN statistics
    (held-out top-1 %, same weights). The gain is PreciseBN minus EMA, per epoch and averaged over the epochs."""
    prm, lr, train, test = ctx.params, setting["lr"], ctx.data("train"), ctx.data("test")
    steps_per_epoch = len(train[1]) // prm["batch_size"]
    model = build_model(prm["model"], **ctx.data_info.model_options, norm_options={"momentum": prm["momentum"]})
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
    gain = np.subtract(precise, ema)
    return {"ema_top1_pct": float(np.mean(ema)), "precise_top1_pct": float(np.mean(precise)),
            "gain_points": float(np.mean(gain)), "ema_curve": ema, "precise_curve": precise, "gain_curve": list(gain)}


def _gain_id(lr):
    """``gain_lr_0p05``: a claim id without dots (a dot would split ``-o claims.<id>.side=...``)."""
    return f"gain_lr_{lr:g}".replace(".", "p")


def _claims(params):
    """Per learning rate: PreciseBN beats the EMA statistics; and the gain is larger at the highest lr."""
    evidence = "per seed: mean over the epochs of PreciseBN top-1 minus EMA top-1 (same weights)"
    claims = {_gain_id(lr): Claim("At lr {a[lr]:g}, PreciseBN evaluates better than the EMA running statistics "
                                  "(gain > {margin:g})", "学习率 {a[lr]:g} 时，用 PreciseBN 评估好于用 EMA 滑动统计量"
                                  "（提升 > {margin:g}）", "gain_points", {"lr": lr}, unit=" points", evidence=evidence)
              for lr in params["lrs"]}
    low, high = min(params["lrs"]), max(params["lrs"])
    if low != high:
        claims["gain_grows_with_lr"] = Claim(
            "The EMA statistics are worse at a high lr: the gain at lr {a[lr]:g} exceeds the gain at lr {b[lr]:g}",
            "大学习率下 EMA 统计量更差：学习率 {a[lr]:g} 的提升大于学习率 {b[lr]:g} 的提升", "gain_points", {"lr": high},
            {"lr": low}, unit=" points",
            evidence="gain at the high lr minus gain at the low lr, paired by seed (same initial weights)")
    return claims


def _summary(ctx, results):
    text = "; ".join(f"lr {lr:g}: {results.estimates[_gain_id(lr)].format(2)}" for lr in ctx.params["lrs"])
    return ctx.tr(f"PreciseBN minus EMA held-out top-1, averaged over the epochs (points): {text}.",
                  f"PreciseBN 减 EMA 的留出集 top-1（各轮平均，百分点）：{text.replace('lr', '学习率')}。")


EPOCH = ("epoch", "轮（epoch）")
EXPERIMENT = Experiment(
    grid=lambda params: [{"lr": lr} for lr in params["lrs"]], cell=cell, claims=_claims, summary=_summary,
    metrics=("ema_top1_pct", "precise_top1_pct", "gain_points", "ema_curve", "precise_curve", "gain_curve"),
    table=Table("precise_bn", (
        "{model} on {data}, constant lr, batch {batch_size}, BN momentum {momentum}; held-out top-1 after each epoch "
        "with the EMA statistics and with PreciseBN ({precise_batches} batches), mean ± 95% interval over {seeds} seeds",
        "{model} 在 {data} 上，恒定学习率，batch {batch_size}，BN momentum {momentum}；每轮后分别用 EMA 统计量和 PreciseBN"
        "（{precise_batches} 个 batch）评估留出集 top-1，{seeds} 个种子的均值 ± 95% 区间"),
                ("lr", "epoch", Stat("top1 EMA %", "ema_curve"), Stat("top1 PreciseBN %", "precise_curve"),
                 Stat("gain (points)", "gain_curve")), index="epoch"),
    charts=(Chart("curves", "precise_bn", ("ema_curve", "precise_curve"),
                  ("EMA vs PreciseBN accuracy during training", "训练中 EMA 与 PreciseBN 的准确率"),
                  ("held-out top-1 (%), mean, 95% band", "留出集 top-1（%），均值与 95% 区间"), EPOCH, by="lr",
                  labels={"ema_curve": ("EMA stats", "EMA 统计量"), "precise_curve": ("PreciseBN", "PreciseBN")},
                  bounds=(0.0, 100.0)),
            Chart("curves", "precise_bn_gain", ("gain_curve",), ("the gain per epoch", "每轮的提升"),
                  ("gain: PreciseBN − EMA (points)", "提升：PreciseBN − EMA（百分点）"), EPOCH, by="lr",
                  labels={"gain_curve": ("gain", "提升")})))
run = EXPERIMENT.run
