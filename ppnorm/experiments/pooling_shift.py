"""Pooling and small shifts: how much of a downsampling layer's output, and of the prediction, survives a shift?"""
import weakref

import numpy as np
import paddle
import paddle.nn.functional as F

from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import digits, fit, optimizer_section

ORDER = 120  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("When the input shifts by 1 or 2 pixels, do most outputs of a max / average pooling layer stay the same, "
            "and are pooled networks' predictions more stable than with a strided-conv downsampling?")
QUESTION_ZH = "输入平移 1～2 个像素时，max / average pooling 层的大多数输出是否不变？池化网络的预测是否比步长卷积下采样更稳定？"
DEFAULTS = {"downsamples": ["max", "avg", "conv"], "shifts": [1, 2], "widths": [16, 32], "pad": 2, "epochs": 8,
            "batch_size": 32, "lr": 0.05, "seeds": 12}
QUICK = {"epochs": 1, "seeds": 2, "widths": [8, 8]}
DATA = True  # any image data set (ctx.data)
UNCHANGED = 1e-6  # an output "stays the same" when it moves by less than this fraction of the layer's largest value
POOLS = (("max", "max pooling"), ("avg", "average pooling"))  # (downsample, its Chinese name)
_TRAINED = weakref.WeakKeyDictionary()  # per experiment run: {(downsample, seed): (model, top1)}, one per shift


def padded(split, pad, load=digits):
    """Images of ``load(split)`` (e.g. ``ctx.data``) on a canvas with a ``pad``-pixel border of their lowest value,
    so shifts of up to ``pad`` pixels keep every stroke of a digit."""
    images, labels = load(split)
    return F.pad(images, [pad] * 4, value=float(images.min())), labels


def shift(images, pixels, axis):
    return paddle.roll(images, shifts=pixels, axis=axis)


@paddle.no_grad()
def _downsampled(model, images):
    """The output of the first downsampling layer (after the first stage's conv -> norm -> act)."""
    model.eval()
    out = model.features[1](model.features[0](images))  # convs_per_stage=1: conv -> norm -> act, then downsample
    model.train()
    return out.numpy()


@paddle.no_grad()
def _predict(model, images):
    model.eval()
    labels = model(images).argmax(axis=1).numpy()
    model.train()
    return labels


def measure(model, images, pixels):
    """Averaged over a shift right and a shift down: the fraction of unchanged outputs among the active ones
    (non-zero before or after), the relative output change, and the fraction of unchanged predictions."""
    base, prediction = _downsampled(model, images), _predict(model, images)
    unchanged, change, stable = [], [], []
    for axis in (3, 2):
        moved = shift(images, pixels, axis)
        out = _downsampled(model, moved)
        active = (np.abs(base) > 0) | (np.abs(out) > 0)
        same = np.abs(out - base) <= UNCHANGED * np.abs(base).max()
        unchanged.append(float(same[active].mean()))
        change.append(float(np.linalg.norm(out - base) / np.linalg.norm(base)))
        stable.append(float((_predict(model, moved) == prediction).mean()))
    return float(np.mean(unchanged)), float(np.mean(change)), float(np.mean(stable))


def train_one(ctx, kind, seed):
    """simple_cnn (BN) with ``kind`` downsampling trained on the padded images: the model and its held-out top-1."""
    prm = ctx.params
    model = build_model("simple_cnn", widths=prm["widths"], convs_per_stage=1, **ctx.data_info.model_options,
                        norm="bn", downsample=kind)
    section = optimizer_section(name="Momentum", weight_decay=5e-4, lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, padded("train", prm["pad"], ctx.data), padded("test", prm["pad"], ctx.data), prm["epochs"],
                  prm["batch_size"], seed=seed, optimizer=section)
    return model, history.test_accuracy[-1]


def cell(ctx, setting, seed):
    """The network of ``downsample`` trained with ``seed`` (once: every shift measures the same training) under a
    shift of ``shift`` pixels of the padded test images."""
    trained = _TRAINED.setdefault(ctx, {})
    key = (setting["downsample"], seed)
    if key not in trained:  # the first shift: trained right after the framework seeded everything with ``seed``
        trained[key] = train_one(ctx, *key)
    model, top1 = trained[key]
    unchanged, change, stable = measure(model, padded("test", ctx.params["pad"], ctx.data)[0], setting["shift"])
    return {"top1": top1, "unchanged": unchanged, "relative change": change, "stable predictions": stable}


def _claims(params):
    """Per pooling: most active outputs stay under the smallest shift (margin 0.5); against a strided conv, a smaller
    output change under the smallest shift and more unchanged predictions under the largest."""
    claims, one, two = {}, min(params["shifts"]), max(params["shifts"])
    for kind, zh in (p for p in POOLS if p[0] in params["downsamples"]):
        claims[f"{kind}_mostly_unchanged"] = Claim(
            f"Under a {{a[shift]}}-pixel shift most active outputs of {kind} pooling stay the same",
            f"平移 {{a[shift]}} 个像素时，{zh} 的大多数（非零）输出不变", "unchanged", {"downsample": kind, "shift": one},
            margin=0.5, digits=3,
            evidence="fraction of unchanged outputs among those non-zero before or after the shift")
        if "conv" in params["downsamples"]:
            claims[f"{kind}_changes_less_than_conv"] = Claim(
                f"{kind} pooling's output changes less than a strided conv's under a {{a[shift]}}-pixel shift",
                f"平移 {{a[shift]}} 个像素时，{zh} 输出的相对变化小于步长卷积", "relative change",
                {"downsample": "conv", "shift": one}, {"downsample": kind, "shift": one}, digits=3,
                evidence="relative change ||y(shifted) - y|| / ||y||: conv minus pooling, paired by seed")
            claims[f"{kind}_keeps_more_predictions_than_conv"] = Claim(
                f"{kind} pooling keeps more predictions than a strided conv under a {{a[shift]}}-pixel shift",
                f"平移 {{a[shift]}} 个像素时，{zh} 网络保持不变的预测多于步长卷积网络", "stable predictions",
                {"downsample": kind, "shift": two}, {"downsample": "conv", "shift": two}, digits=3,
                evidence="fraction of test images whose predicted class is unchanged: pooling minus conv")
    return claims


def _summary(ctx, results):
    one = min(ctx.params["shifts"])
    parts = [f"{r['downsample']} {r['unchanged']}" for r in results.rows if r["shift"] == one]
    return ctx.tr(f"Unchanged active outputs under a {one}-pixel shift: " + ", ".join(parts) + ".",
                  f"平移 {one} 个像素时不变的非零输出比例：" + "，".join(parts) + "。")


def _heatmap(metric, en, zh):
    return Chart("heatmap", f"pooling_shift_{metric.replace(' ', '_')}", (metric,), (
        f"{en} by downsampling and shift (mean ± 95% interval)", f"{zh}：按下采样方式与平移量（均值 ± 95% 区间）"),
                 (en, zh), ("shift (pixels)", "平移（像素）"), x="shift", y="downsample")


METRICS = ("top1", "unchanged", "relative change", "stable predictions")
EXPERIMENT = Experiment(
    grid=lambda params: [{"downsample": k, "shift": s} for k in params["downsamples"] for s in params["shifts"]],
    cell=cell, metrics=METRICS, claims=_claims, summary=_summary,
    table=Table("shift", ("simple_cnn {widths} (BN) on {data} padded by {pad} px, {epochs} epochs; mean ± 95% interval "
                          "over {seeds} seeds", "simple_cnn {widths}（BN），{data} 四周各补 {pad} 像素，训练 {epochs} 轮；"
                          "{seeds} 个种子的均值 ± 95% 区间"),
                ("downsample", "shift px", *(Stat(m, m, 3) for m in METRICS[1:]), Stat("top1", "top1", 3)),
                extra=lambda setting, params: {"shift px": setting["shift"]}),
    charts=(_heatmap("unchanged", "unchanged active outputs (fraction)", "不变的非零输出（比例）"),
            _heatmap("relative change", "relative output change", "输出的相对变化"),
            _heatmap("stable predictions", "unchanged predictions (fraction)", "预测不变的比例")))
run = EXPERIMENT.run
