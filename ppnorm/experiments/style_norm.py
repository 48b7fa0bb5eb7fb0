"""InstanceNorm and image style: robust to style shifts not seen in training, blind when the style is the label."""
import dataclasses

import numpy as np
import paddle

from ..engine.config import ConfigError
from ..models import build_model
from ..nn.norm import build_norm
from .charts import Chart
from .claims import Claim
from .data import statistics
from .framework import Experiment, Stat, Table
from .i18n import verdict_word
from .stats import VERDICTS
from .styles import brightness, random_style, shifted, style_label_task
from .training import DIGITS_MEAN, DIGITS_STD, accuracy, fit, optimizer_section

ORDER = 210  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Is InstanceNorm more robust than BatchNorm (and GroupNorm / LayerNorm) to per-image style shifts "
            "(contrast, brightness, inversion, gamma) not seen in training, and does it fail when the style is the label?")
QUESTION_ZH = "InstanceNorm 对训练中没见过的逐图像风格变化（对比度、亮度、反色、gamma）是否比 BatchNorm（以及 GroupNorm / LayerNorm）更稳健？当风格本身就是标签时，它是否失效？"
DEFAULTS = {"norms": ["bn", "gn", "ln", "in"], "widths": [16, 32], "groups": 4, "epochs": 20, "label_epochs": 8,
            "batch_size": 64, "lr": 0.05, "seeds": 20, "train_contrast": [0.6, 1.4], "train_brightness": [-0.2, 0.2],
            "shifts": [["contrast", 3.0], ["brightness", 0.8], ["invert", True], ["gamma", 0.4]],
            "label_tasks": [["brightness", -0.25, 0.25], ["contrast", 0.5, 1.5], ["invert", False, True]]}
QUICK = {"norms": ["bn", "in"], "widths": [8, 8], "epochs": 1, "label_epochs": 1, "seeds": 2}
DATA = True  # any image data set (ctx.data)
KINDS_ZH = {"train_styles": "训练风格", "contrast": "对比度", "brightness": "亮度", "invert": "反色", "gamma": "gamma"}
DROPS = tuple(f"{kind}_drop" for kind in KINDS_ZH)  # points lost from the clean test set (shift runs only)


def tensor(images, stats=(DIGITS_MEAN, DIGITS_STD)):
    """Raw [0, 1]-scale numpy images -> the network's input, standardized with ``stats = (mean, std)``."""
    return paddle.to_tensor(((images - stats[0]) / stats[1]).astype("float32"))


def raw(ctx, split):
    images, labels = ctx.data(split, normalize=False)
    return images.numpy().astype("float64"), labels.numpy()


def names(kind, *values):
    """``(english, chinese)`` name of a style, e.g. ``contrast 3``, ``brightness -0.25 / 0.25``, ``inverted``."""
    if kind == "invert":
        return ("inverted", "反色") if len(values) == 1 else ("normal / inverted", "正常 / 反色")
    return tuple(f"{name} {' / '.join(f'{value:g}' for value in values)}" for name in (kind, KINDS_ZH[kind]))


def train(ctx, norm, seed, images, labels, epochs):
    """simple_cnn with ``norm`` trained on raw ``images`` (standardized with the data set's statistics) by fit."""
    prm, options = ctx.params, {"groups": ctx.params["groups"]} if norm == "gn" else None
    model = build_model("simple_cnn", widths=prm["widths"], convs_per_stage=1, in_channels=ctx.data_info.channels,
                        num_classes=int(labels.max()) + 1, norm=norm, norm_options=options)
    data = (tensor(images, statistics(ctx.data_spec)), paddle.to_tensor(labels))
    fit(model, data, data, epochs, prm["batch_size"], seed=seed, eval_every=10 ** 9,
        optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    return model


def cell(ctx, setting, seed):
    """shift: trained with random styles, clean test top-1 % and points lost per style; label: the style is the class."""
    prm, rng, stats = ctx.params, np.random.default_rng(seed), statistics(ctx.data_spec)
    (images, labels), (test, test_labels), found = raw(ctx, "train"), raw(ctx, "test"), dict.fromkeys(DROPS, np.nan)
    top1 = lambda model, x, y: 100 * accuracy(model, tensor(x, stats), paddle.to_tensor(y))  # noqa: E731
    if setting["task"] == "shift":
        styles = prm["train_contrast"], prm["train_brightness"]
        model = train(ctx, setting["norm"], seed, random_style(images, rng, *styles), labels, prm["epochs"])
        clean = top1(model, test, test_labels)
        found["train_styles_drop"] = clean - top1(model, random_style(test, rng, *styles), test_labels)
        found.update({f"{k}_drop": clean - top1(model, shifted(test, k, v), test_labels) for k, v in prm["shifts"]})
        return {"top1_pct": clean, **found}  # a shift the params leave out stays nan (not run), as do label runs
    kind, low, high = next(task for task in prm["label_tasks"] if f"label: {task[0]}" == setting["task"])
    model = train(ctx, setting["norm"], seed, *style_label_task(images, rng, kind, low, high), prm["label_epochs"])
    return {"top1_pct": top1(model, *style_label_task(test, rng, kind, low, high)), **found}


@paddle.no_grad()
def brightness_leak(conv, images, shift, stats=(DIGITS_MEAN, DIGITS_STD)):
    """How much of ``+shift`` brightness survives ``conv`` then InstanceNorm: largest output change / largest output."""
    norm = build_norm("in", conv.weight.shape[0], affine=False)
    before, after = norm(conv(tensor(images, stats))), norm(conv(tensor(brightness(images, shift), stats)))
    return float((after - before).abs().max() / before.abs().max())


def _claims(params):
    """IN against BN per unseen shift (points lost, paired by seed) and on clean images; IN per style-as-label task."""
    claims, norms, shift = {}, set(params["norms"]), {"task": "shift"}
    for kind, value in params["shifts"] if {"bn", "in"} <= norms else ():
        en, zh = names(kind, value)
        claims[f"in_loses_less_{kind}"] = Claim(
            f"IN loses less accuracy than BN under {en} (unseen in training)", f"{zh}（训练中未见过）下 IN 的准确率损失小于 BN",
            f"{kind}_drop", {**shift, "norm": "bn"}, {**shift, "norm": "in"}, digits=1, evidence="BN's loss minus IN's")
    if {"bn", "in"} <= norms:
        claims["in_keeps_clean_accuracy"] = Claim(
            "IN is as accurate as BN on clean images (within ±{margin:g} points)", "IN 在干净图片上与 BN 一样准确（相差在 "
            "±{margin:g} 个百分点之内）", "top1_pct", {**shift, "norm": "in"}, {**shift, "norm": "bn"}, side="within",
            margin=1.0, digits=1)
    for kind, low, high in params["label_tasks"] if "in" in norms else ():
        en, zh = names(kind, low, high)
        claims[f"in_at_chance_{kind}"] = Claim(
            f"IN is at chance when the style ({en}) is the label: top-1 within ±{{margin:g}} points of 50%", f"风格（{zh}）"
            "即标签时 IN 停在随机水平：top-1 在 50% ±{margin:g} 个百分点之内", "top1_pct", {"task": f"label: {kind}", "norm": "in"},
            side="within", margin=5.0, center=50.0, digits=1)
    return claims


def _before(ctx, results):
    """Claims in the report's units; why IN can still read brightness: the zero padding of the first conv."""
    results.claims = {cid: dataclasses.replace(c, unit=ctx.tr(" points", " 个百分点")) for cid, c in results.claims.items()}
    test, stats, leaks = raw(ctx, "test")[0], statistics(ctx.data_spec), []
    for padding in (0, 1):  # a fresh 3x3 conv (seed 0) without padding and with simple_cnn's 1-pixel zero padding
        paddle.seed(0)
        leaks.append(brightness_leak(paddle.nn.Conv2D(ctx.data_info.channels, 8, 3, padding=padding), test, 0.25, stats))
    valid, padded = leaks
    ctx.check(("A 3x3 conv without padding followed by IN removes a per-image brightness shift exactly",
               "不补零的 3x3 卷积之后接 IN，逐图像的亮度变化被完全去掉"), valid, 1e-4,
              f"largest relative output change for +0.25: {valid:.1e} without padding, {padded:.3f} with simple_cnn's")
    ctx.note(ctx.tr(f"With simple_cnn's zero padding, +0.25 brightness still changes the first conv's IN output by up to "
                    f"{100 * padded:.0f}% (border pixels): IN does not blind the network to brightness.", f"simple_cnn 补零，"
                    f"亮度 +0.25 仍使第一层卷积后 IN 的输出最多改变 {100 * padded:.0f}%（边界像素）：IN 并不能让网络看不见亮度。"))


def _summary(ctx, results):
    """The claims grouped by their verdicts: what was confirmed, refuted, no effect or inconclusive."""
    said = {cid: ctx.tr(c.text(c.en, results.params), c.text(c.zh, results.params)) for cid, c in results.claims.items()}
    groups = {v: [said[cid] for cid, found in results.verdicts.items() if found == v] for v in VERDICTS}
    return ctx.tr("; ", "；").join(f"{verdict_word(v, ctx.lang)}{ctx.tr(': ', '：')}{ctx.tr(', ', '，').join(found)}"
                                  for v, found in groups.items() if found) + ctx.tr(".", "。")


def _validate(params):
    kinds = [[entry[0] for entry in params[key]] for key in ("shifts", "label_tasks")]
    if any(len(set(found)) != len(found) or not set(found) <= set(KINDS_ZH) - {"train_styles"} for found in kinds):
        raise ConfigError(f"params.shifts, label_tasks: each of contrast, brightness, invert, gamma at most once; got {kinds}")


EXPERIMENT = Experiment(
    grid=lambda params: [{"task": task, "norm": norm} for task in ["shift"] + [f"label: {t[0]}" for t in params[
        "label_tasks"]] for norm in params["norms"]], cell=cell, metrics=("top1_pct",) + DROPS, claims=_claims,
    before=_before, summary=_summary, validate=_validate,
    table=Table("style_norm", (
        "Test top-1 % per task (shift: clean, trained with random contrast {train_contrast}, brightness {train_brightness}; "
        "label: chance 50%), points lost per style (unseen: {shifts}); mean ± 95% interval over {seeds} seeds",
        "各任务的测试 top-1 %（shift：用随机对比度 {train_contrast}、亮度 {train_brightness} 训练后的干净测试集；label：随机猜为 "
        "50%）及各风格下损失的百分点（未见过：{shifts}）；{seeds} 个种子的均值 ± 95% 区间"),
                ("task", "norm", Stat("top1 %", "top1_pct", 1),
                 *(Stat(f"drop: {k.replace('_', ' ')}", f"{k}_drop", 1) for k in KINDS_ZH))),
    charts=(Chart("heatmap", "style_norm", ("top1_pct",), ("test top-1 % per task (label: chance 50%)", "各任务的测试 top-1 %"
                  "（label：随机猜为 50%）"), ("top-1 (%)", "top-1（%）"), ("norm", "归一化"), x="norm", y="task"),))
run = EXPERIMENT.run
