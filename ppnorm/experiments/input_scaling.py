"""Input standardization: raw pixels vs z-score vs PCA whitening, for a shallow model and a deep model with BN."""
import weakref

import numpy as np
import paddle

from ..models import build_model
from .bands import plot_band
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval
from .training import check_eval_every, fit, optimizer_section

ORDER = 180  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does standardizing the inputs (z-score per pixel) help a shallow model, does PCA whitening add anything "
            "over it for images, and does a deep model with BN care?")
QUESTION_ZH = "标准化输入（逐像素 z-score）是否帮助浅层模型？对图像而言 PCA 白化是否比 z-score 多带来什么？有 BN 的深层模型是否在意？"
DEFAULTS = {"transforms": ["raw", "zscore", "whiten"], "deep_hidden": [64, 64, 64, 64], "epochs": 12, "batch": 32,
            "lr": 0.01, "target": 0.9, "eval_every": 15, "seeds": 20}
QUICK = {"deep_hidden": [16, 16], "epochs": 1, "eval_every": 10, "seeds": 2}
DATA = True  # any image data set (ctx.data)
MODELS = ("shallow", "deep_bn")
COLORS = {"raw": "tab:red", "zscore": "tab:blue", "whiten": "tab:green"}
_INPUTS = weakref.WeakKeyDictionary()  # per experiment run: {transform: inputs}, a whitening per transform


def zscore(train, test):
    """Standardize each feature with the train split's mean and std (constant features are only centred)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def pca_whiten(train, test, floor=1e-6):
    """PCA whitening fitted on the train split: project the centred data on the eigenvectors of its covariance
    and divide by sqrt(eigenvalue); components with eigenvalue <= ``floor`` x the largest are dropped."""
    mean = train.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(np.cov(train - mean, rowvar=False, bias=True))
    keep = eigenvalues > floor * eigenvalues.max()
    projection = vectors[:, keep] / np.sqrt(eigenvalues[keep])
    return (train - mean) @ projection, (test - mean) @ projection


def inputs(ctx, transform):
    """``(train, test)`` as ``(features [N, d], labels)`` tensors; ``raw`` is the stored pixel scale (0..16 for
    digits, 0..255 for 8-bit images)."""
    (x_train, y_train), (x_test, y_test) = (ctx.data(split, normalize=False) for split in ("train", "test"))
    scale = 16.0 if ctx.data_info.name == "digits" else 255.0
    train, test = (scale * x.numpy().reshape(len(x), -1).astype("float64") for x in (x_train, x_test))
    if transform == "zscore":
        train, test = zscore(train, test)
    elif transform == "whiten":
        train, test = pca_whiten(train, test)
    elif transform != "raw":
        raise ValueError(f"transform must be raw, zscore or whiten, got {transform!r}")
    return ((paddle.to_tensor(train.astype("float32")), y_train), (paddle.to_tensor(test.astype("float32")), y_test))


def cell(ctx, setting, seed):
    """Logistic regression (``shallow``) or an MLP with BN (``deep_bn``) on the transformed inputs: final held-out
    top-1 (0 if the loss diverged), steps to the target accuracy (all steps if never) and the accuracy curve."""
    prm, known = ctx.params, _INPUTS.setdefault(ctx, {})
    if setting["input"] not in known:
        known[setting["input"]] = inputs(ctx, setting["input"])
    train, test = known[setting["input"]]
    hidden, norm = ([], "none") if setting["model"] == "shallow" else (prm["deep_hidden"], "bn")
    model = build_model("mlp", in_features=train[0].shape[1], hidden=hidden, num_classes=ctx.data_info.num_classes,
                        norm=norm)
    history = fit(model, train, test, prm["epochs"], prm["batch"], seed=seed, eval_every=prm["eval_every"],
                  optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    reached = history.steps_to(prm["target"])
    return {"features": train[0].shape[1],
            "final accuracy": history.test_accuracy[-1] if np.isfinite(history.losses[-1]) else 0.0,
            "steps to target": reached if reached is not None else history.eval_steps[-1],
            "reached": reached is not None, "test accuracy": history.test_accuracy}


def _claims(params):
    """Z-score helps a shallow model (accuracy, speed); whitening adds nothing over it; BN makes it unnecessary."""
    have, claims, points = set(params["transforms"]), {}, {"scale": 100, "unit": " pts", "digits": 1}

    def pair(a, b, model):
        return {"model": model, "input": a}, {"model": model, "input": b}
    if {"raw", "zscore"} <= have:
        claims["zscore_raises_shallow_accuracy"] = Claim(
            "Standardizing inputs (z-score) raises a shallow model's final accuracy over raw pixels",
            "标准化输入（z-score）使浅层模型的最终准确率高于原始像素", "final accuracy", *pair("zscore", "raw", "shallow"),
            **points, evidence="logistic regression, top-1 % z-score minus raw (0..16), paired by seed")
        claims["zscore_speeds_up_shallow"] = Claim(
            "Standardizing inputs makes a shallow model reach the target accuracy in fewer steps",
            "标准化输入使浅层模型以更少的步数达到目标准确率", "steps to target", *pair("raw", "zscore", "shallow"), digits=0,
            evidence="steps to {target:.0%} test accuracy, raw minus z-score (not reached: all steps)")
    for model, en, zh in (("shallow", "a shallow model", "浅层模型"), ("deep_bn", "a deep model with BN", "有 BN 的深层模型")):
        if {"whiten", "zscore"} <= have:
            claims[f"whitening_adds_nothing_{model}"] = Claim(
                f"PCA whitening adds nothing over z-score for {en} on images (final accuracy within ±{{margin:g}} "
                "point)", f"对图像而言，PCA 白化相对 z-score 对{zh}没有增益（最终准确率相差在 ±{{margin:g}} 个百分点之内）",
                "final accuracy", *pair("whiten", "zscore", model), side="within", margin=1.0, **points,
                evidence="top-1 % whitened minus z-score, paired by seed")
    if {"raw", "zscore"} <= have:
        claims["bn_needs_no_standardizing"] = Claim(
            "With BN, a deep model does not need standardized inputs (raw vs z-score within ±{margin:g} point)",
            "有 BN 的深层模型不需要标准化输入（原始像素与 z-score 相差在 ±{margin:g} 个百分点之内）", "final accuracy",
            *pair("zscore", "raw", "deep_bn"), side="within", margin=1.0, **points,
            evidence="top-1 % z-score minus raw, paired by seed")
    return claims


def _before(ctx, results):
    prm, info = ctx.params, ctx.data_info
    check_eval_every(prm["eval_every"], prm["epochs"], info.train_size // prm["batch"], info.name)


def _after(ctx, results):
    """Final top-1 (%) and the count of runs that reached the target into the table; the chart."""
    for row in results.rows:
        pick = {"model": row["model"], "input": row["input"]}
        row["final top1 %"] = mean_interval(results.values("final accuracy", pick)).scaled(100).format(1)
        row["reached"] = sum(results.values("reached", pick))
    (fig, axes), layers, text = ctx.figure(2, width=5.0), len(ctx.params["deep_hidden"]), ctx.chart_text
    titles = {"shallow": ("shallow: logistic regression", "浅层：逻辑回归"),
              "deep_bn": (f"deep: MLP {layers} layers + BN", f"深层：{layers} 层 MLP + BN")}
    for ax, model in zip(axes[0], MODELS):
        for transform in ctx.params["transforms"]:
            mine = [r for r in results.runs if (r["model"], r["input"]) == (model, transform)]
            curves = [[100 * a for a in r["test accuracy"]] for r in mine]
            plot_band(ax, ctx.params["eval_every"] * np.arange(1, len(curves[0]) + 1), curves, COLORS[transform],
                      transform, text(f"{transform}: 95% interval", f"{transform}：95% 区间"))
        ax.axhline(100 * ctx.params["target"], color="grey", linestyle=":", label=text("target", "目标"))
        ax.set(title=text(*titles[model]), xlabel=text("training step", "训练步数"), ylim=(0, 100),
               ylabel=text("test accuracy (%)", "测试准确率（%）"))
        ax.legend(fontsize=7, loc="lower right")
    ctx.save_figure(fig, "input_scaling", ctx.tr("test accuracy during training by input transform",
                                                 "不同输入变换下训练中的测试准确率"))


def _summary(ctx, results):
    parts = [f"{r['model']} {r['input']} {r['final top1 %']}%" for r in results.rows]
    return ctx.tr("Final top-1: " + ", ".join(parts) + ".", "最终 top-1：" + "，".join(parts) + "。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"model": m, "input": t} for m in MODELS for t in params["transforms"]], cell=cell,
    metrics=("features", "final accuracy", "steps to target", "reached", "test accuracy"), claims=_claims,
    before=_before, after=_after, summary=_summary,
    table=Table("input_scaling", (
        "Final test top-1 and steps to {target:.0%}, mean ± 95% interval over {seeds} seeds ({epochs} epochs, batch "
        "{batch}, Momentum lr {lr})", "最终测试 top-1 与达到 {target:.0%} 的步数，{seeds} 个种子的均值 ± 95% 区间"
        "（{epochs} 轮，batch {batch}，Momentum lr {lr}）"),
        ("model", "input", "final top1 %", Stat("steps to target", "steps to target", 0), "reached")))
run = EXPERIMENT.run
