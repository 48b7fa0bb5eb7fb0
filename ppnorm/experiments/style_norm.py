"""InstanceNorm and image style: robust to style shifts not seen in training, blind when the style is the label."""
import numpy as np
import paddle

from ..models import build_model
from ..nn.norm import build_norm
from .stats import mean_interval, paired_difference
from .styles import brightness, random_style, shifted, style_label_task
from .data import statistics
from .training import DIGITS_MEAN, DIGITS_STD, accuracy, fit, optimizer_section

QUESTION = ("Is InstanceNorm more robust than BatchNorm (and GroupNorm / LayerNorm) to per-image style shifts "
            "(contrast, brightness, inversion, gamma) not seen in training, and does it fail when the style is the label?")
QUESTION_ZH = ("InstanceNorm 对训练中没见过的逐图像风格变化（对比度、亮度、反色、gamma）是否比 BatchNorm"
               "（以及 GroupNorm / LayerNorm）更稳健？当风格本身就是标签时，它是否失效？")
DEFAULTS = {"norms": ["bn", "gn", "ln", "in"], "widths": [16, 32], "groups": 4, "epochs": 20, "label_epochs": 8,
            "batch_size": 64, "lr": 0.05, "seeds": 5, "train_contrast": [0.6, 1.4], "train_brightness": [-0.2, 0.2],
            "shifts": [["contrast", 3.0], ["brightness", 0.8], ["invert", True], ["gamma", 0.4]],
            "label_tasks": [["brightness", -0.25, 0.25], ["contrast", 0.5, 1.5], ["invert", False, True]]}
QUICK = {"norms": ["bn", "in"], "widths": [8, 8], "epochs": 1, "label_epochs": 1, "seeds": 2,
         "shifts": [["contrast", 3.0], ["invert", True]], "label_tasks": [["brightness", -0.25, 0.25]]}
DATA = True  # any image data set (ctx.data)
CHANCE = 0.5  # the style-as-label tasks have two balanced classes


def tensor(images, stats=(DIGITS_MEAN, DIGITS_STD)):
    """Raw [0, 1]-scale numpy images -> the network's input, standardized with ``stats = (mean, std)`` (those of
    ``ctx.data``: :func:`.data.statistics`; default digits')."""
    mean, std = stats
    return paddle.to_tensor(((images - mean) / std).astype("float32"))


def raw(ctx, split):
    images, labels = ctx.data(split, normalize=False)
    return images.numpy().astype("float64"), labels.numpy()


def shift_name(kind, value):
    return "inverted" if kind == "invert" else f"{kind} {value:g}"


def train(ctx, norm, seed, images, labels, epochs):
    prm = ctx.params
    ctx.seed_everything(seed)
    model = build_model("simple_cnn", widths=prm["widths"], convs_per_stage=1, in_channels=ctx.data_info.channels,
                        num_classes=int(labels.max()) + 1, norm=norm,
                        norm_options={"groups": prm["groups"]} if norm == "gn" else None)
    data = (tensor(images, statistics(ctx.data_spec)), paddle.to_tensor(labels))
    fit(model, data, data, epochs, prm["batch_size"], seed=seed, eval_every=10 ** 9,
        optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    return model


def shift_run(ctx, norm, seed):
    """Train with random per-image styles; accuracy on the clean test set, on test images with training-range styles,
    and under each unseen shift."""
    prm, rng, stats = ctx.params, np.random.default_rng(seed), statistics(ctx.data_spec)
    images, labels = raw(ctx, "train")
    model = train(ctx, norm, seed, random_style(images, rng, prm["train_contrast"], prm["train_brightness"]),
                  labels, prm["epochs"])
    test, test_labels = raw(ctx, "test")
    test_labels = paddle.to_tensor(test_labels)
    row = {"task": "shift", "norm": norm, "seed": seed, "clean": accuracy(model, tensor(test, stats), test_labels),
           "train styles": accuracy(model, tensor(random_style(test, rng, prm["train_contrast"],
                                                               prm["train_brightness"]), stats), test_labels)}
    for kind, value in prm["shifts"]:
        row[shift_name(kind, value)] = accuracy(model, tensor(shifted(test, kind, value), stats), test_labels)
    return row


def label_run(ctx, norm, seed, kind, low, high):
    """The same images, the class being the style (``low`` vs ``high``): test accuracy."""
    rng = np.random.default_rng(seed)
    images, labels = style_label_task(raw(ctx, "train")[0], rng, kind, low, high)
    model = train(ctx, norm, seed, images, labels, ctx.params["label_epochs"])
    test, test_labels = style_label_task(raw(ctx, "test")[0], rng, kind, low, high)
    return {"task": f"label: {kind}", "norm": norm, "seed": seed,
            "accuracy": accuracy(model, tensor(test, statistics(ctx.data_spec)), paddle.to_tensor(test_labels))}


@paddle.no_grad()
def brightness_leak(conv, images, shift, stats=(DIGITS_MEAN, DIGITS_STD)):
    """How much of a brightness shift ``+shift`` survives ``conv`` followed by InstanceNorm (no affine): the
    largest output change relative to the largest output."""
    norm = build_norm("in", conv.weight.shape[0], affine=False)
    before, after = norm(conv(tensor(images, stats))), norm(conv(tensor(brightness(images, shift), stats)))
    return float((after - before).abs().max() / before.abs().max())


def random_conv(padding, channels=8, seed=0, in_channels=1):
    """A freshly initialized ``in_channels`` -> ``channels`` 3x3 conv with ``padding`` zeros around the image."""
    paddle.seed(seed)
    return paddle.nn.Conv2D(in_channels, channels, 3, padding=padding)


SHIFT_ZH = {"contrast": "对比度", "brightness": "亮度", "invert": "反色", "gamma": "gamma"}
COLORS = {"bn": "tab:blue", "gn": "tab:orange", "ln": "tab:green", "in": "tab:red", "none": "tab:grey"}


def _conditions(ctx):
    return ["clean", "train styles"] + [shift_name(k, v) for k, v in ctx.params["shifts"]]


def _values(ctx, task, norm, key):
    return ctx.run_values(key, task=task, norm=norm)


def _label_task(kind, low, high):
    """The runs' task name and the (English, Chinese) name of its two styles."""
    if kind == "invert":
        return f"label: {kind}", ("normal / inverted", "正常 / 反色")
    return f"label: {kind}", (f"{kind} {low:g} / {high:g}", f"{SHIFT_ZH[kind]} {low:g} / {high:g}")


def _runs(ctx):
    prm = ctx.params
    ctx.plan(len(prm["norms"]) * prm["seeds"] * (1 + len(prm["label_tasks"])))
    for norm in prm["norms"]:
        for seed in ctx.seeds(prm["seeds"]):
            row = shift_run(ctx, norm, seed)
            ctx.run_done(f"{norm} style shifts seed={seed}", ", ".join(
                f"{c} {100 * row[c]:.1f}%" for c in _conditions(ctx)), **row)
            for kind, low, high in prm["label_tasks"]:
                row = label_run(ctx, norm, seed, kind, low, high)
                ctx.run_done(f"{norm} {row['task']} seed={seed}", f"accuracy {100 * row['accuracy']:.1f}%", **row)


def _tables(ctx):
    prm = ctx.params
    shift_rows = [dict({"norm": norm}, **{f"{c} %": mean_interval(_values(ctx, "shift", norm, c)).scaled(100).format(1)
                                          for c in _conditions(ctx)}) for norm in prm["norms"]]
    ctx.table("style_shifts", shift_rows, title=ctx.tr(
        f"Test accuracy (%) after training with random per-image styles (contrast {prm['train_contrast']}, "
        f"brightness {prm['train_brightness']}); mean ± 95% interval over {prm['seeds']} seeds",
        f"用随机的逐图像风格（对比度 {prm['train_contrast']}，亮度 {prm['train_brightness']}）训练后的测试准确率（%），"
        f"{prm['seeds']} 个种子的均值 ± 95% 区间"))
    label_rows = []
    for kind, low, high in prm["label_tasks"]:
        task, names = _label_task(kind, low, high)
        label_rows.append(dict({"label task": ctx.tr(*names)}, **{
            f"{norm} %": mean_interval(_values(ctx, task, norm, "accuracy")).scaled(100).format(1) for norm in prm["norms"]}))
    ctx.table("style_is_label", label_rows, title=ctx.tr(
        f"The style is the label (two classes, chance 50%): test accuracy (%), mean ± 95% interval over {prm['seeds']} seeds",
        f"风格即标签（两类，随机猜为 50%）：测试准确率（%），{prm['seeds']} 个种子的均值 ± 95% 区间"))


def _drop(ctx, norm, condition):
    """Accuracy lost (points) from the clean test set to ``condition``, one value per seed."""
    return 100 * (np.array(_values(ctx, "shift", norm, "clean")) - np.array(_values(ctx, "shift", norm, condition)))


def _claims(ctx):
    prm = ctx.params
    if {"bn", "in"} <= set(prm["norms"]):
        for kind, value in prm["shifts"]:
            name = shift_name(kind, value)
            zh = "反色" if kind == "invert" else f"{SHIFT_ZH[kind]} {value:g}"
            ctx.compare((f"IN loses less accuracy than BN under a style shift not seen in training: {name}",
                         f"在训练中没见过的风格变化（{zh}）下，IN 的准确率损失小于 BN"),
                        paired_difference(_drop(ctx, "bn", name), _drop(ctx, "in", name)), "greater", unit=" pt",
                        digits=1, evidence="(clean - shifted accuracy) of BN minus that of IN, points, paired by seed")
        ctx.compare(("IN costs no clean accuracy against BN (within ±1 point)", "IN 的干净测试准确率与 BN 相差不超过 1 个点"),
                    paired_difference(*(100 * np.array(_values(ctx, "shift", n, "clean")) for n in ("in", "bn"))),
                    "within", margin=1.0, unit=" pt", digits=1, evidence="IN minus BN clean accuracy, points, paired by seed")
    if "in" in prm["norms"]:
        _leak_claim(ctx)
        for kind, low, high in prm["label_tasks"]:
            task, (en, zh) = _label_task(kind, low, high)
            ctx.compare((f"IN fails when the style is the label ({en}): accuracy within ±5 points of chance",
                         f"风格即标签（{zh}）时 IN 失效：准确率与随机猜（50%）相差不超过 5 个点"),
                        mean_interval(100 * (np.array(_values(ctx, task, "in", "accuracy")) - CHANCE)), "within",
                        margin=5.0, unit=" pt", digits=1, evidence="IN's test accuracy minus 50%, points")


def _leak_claim(ctx):
    """Why IN can still read brightness: the first conv's zero padding makes the shift non-constant at the border."""
    test, shift, stats = raw(ctx, "test")[0], 0.25, statistics(ctx.data_spec)
    valid, padded = (brightness_leak(random_conv(padding, in_channels=ctx.data_info.channels), test, shift, stats)
                     for padding in (0, 1))
    ctx.check(("A 3x3 conv without padding followed by IN removes a per-image brightness shift exactly",
               "不补零的 3x3 卷积之后接 IN，逐图像的亮度变化被完全去掉"), valid, 1e-4,
              evidence=f"largest relative output change for +{shift}: {valid:.1e} without padding, {padded:.3f} with "
                       f"the 1-pixel zero padding simple_cnn uses")
    ctx.note(ctx.tr(f"With the 1-pixel zero padding of simple_cnn's convs, a brightness shift of +{shift} still changes "
                    f"the first conv's IN output by up to {100 * padded:.0f}% of its largest value (border pixels), "
                    f"so IN does not make the network blind to brightness.",
                    f"simple_cnn 的卷积补 1 个像素的零，亮度 +{shift} 仍使第一层卷积后 IN 的输出最多改变其最大值的 "
                    f"{100 * padded:.0f}%（边界像素），所以 IN 并不能让网络看不见亮度。"))


def _bars(ax, ctx, groups, values_of):
    """Grouped bars (one colour per norm) with 95% error bars over the seeds."""
    norms, width = ctx.params["norms"], 0.8 / len(ctx.params["norms"])
    for i, norm in enumerate(norms):
        estimates = [mean_interval(values_of(norm, g)).scaled(100) for g in groups]
        ax.bar(np.arange(len(groups)) + (i - (len(norms) - 1) / 2) * width, [e.mean for e in estimates], width,
               yerr=[e.half_width for e in estimates], color=COLORS.get(norm), capsize=2, label=norm,
               error_kw={"elinewidth": 0.8})
    ax.errorbar([], [], yerr=[], color="black", capsize=2, label=ctx.chart_text("95% interval", "95% 区间"))
    ax.set_ylim(0, 128)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(ctx.chart_text("test accuracy (%)", "测试准确率（%）"))


def _chart(ctx):
    prm = ctx.params
    fig, axes = ctx.figure(2, width=6.0, height=4.0)
    conditions = _conditions(ctx)
    ax = axes[0][0]
    _bars(ax, ctx, conditions, lambda norm, c: _values(ctx, "shift", norm, c))
    ax.set_xticks(range(len(conditions)), [ctx.chart_text(c, _condition_zh(c)) for c in conditions], rotation=20)
    ax.set_xlabel(ctx.chart_text("test set (shifts right of 'train styles' unseen in training)",
                                 "测试集（'训练风格' 右侧的变化训练中未见过）"))
    ax.set_title(ctx.chart_text("Trained with random per-image styles", "用随机逐图像风格训练"))
    ax.legend(fontsize=7, ncol=5, loc="upper center")
    ax = axes[0][1]
    tasks = [_label_task(*t) for t in prm["label_tasks"]]
    _bars(ax, ctx, [t for t, _ in tasks], lambda norm, t: _values(ctx, t, norm, "accuracy"))
    ax.axhline(100 * CHANCE, color="black", linestyle="--", label=ctx.chart_text("chance (50%)", "随机猜（50%）"))
    ax.set_xticks(range(len(tasks)), [ctx.chart_text(*names) for _, names in tasks])
    ax.set_xlabel(ctx.chart_text("the style is the label (class 0 / class 1)", "风格即标签（第 0 类 / 第 1 类）"))
    ax.set_title(ctx.chart_text("Style as the label", "风格即标签"))
    ax.legend(fontsize=7, ncol=3, loc="upper center")
    ctx.save_figure(fig, "style_norm", ctx.tr("accuracy under unseen style shifts and when the style is the label",
                                              "未见过的风格变化下的准确率，以及风格即标签时的准确率"))


def _condition_zh(condition):
    kind, _, value = condition.partition(" ")
    fixed = {"clean": "干净", "train styles": "训练风格", "inverted": "反色"}
    return fixed.get(condition, f"{SHIFT_ZH.get(kind, kind)} {value}")


def run(ctx):
    _runs(ctx)
    _tables(ctx)
    _chart(ctx)
    _claims(ctx)
    prm, words = ctx.params, []
    for norm in prm["norms"]:
        worst = min(_conditions(ctx)[2:], key=lambda c: np.mean(_values(ctx, "shift", norm, c)))
        words.append((norm, worst, 100 * np.mean(_values(ctx, "shift", norm, worst))))
    return ctx.tr("Worst unseen shift per norm: " + ", ".join(f"{n} {c} {a:.1f}%" for n, c, a in words) + ".",
                  "各归一化最差的未见风格变化：" + "，".join(f"{n} {_condition_zh(c)} {a:.1f}%" for n, c, a in words) + "。")
