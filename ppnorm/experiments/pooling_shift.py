"""Pooling and small shifts: how much of a downsampling layer's output, and of the prediction, survives a shift?"""
import numpy as np
import paddle
import paddle.nn.functional as F

from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import digits, fit, optimizer_section

QUESTION = ("When the input shifts by 1 or 2 pixels, do most outputs of a max / average pooling layer stay the same, "
            "and are pooled networks' predictions more stable than with a strided-conv downsampling?")
QUESTION_ZH = "输入平移 1～2 个像素时，max / average pooling 层的大多数输出是否不变？池化网络的预测是否比步长卷积下采样更稳定？"
DEFAULTS = {"downsamples": ["max", "avg", "conv"], "shifts": [1, 2], "widths": [16, 32], "pad": 2, "epochs": 8,
            "batch_size": 32, "lr": 0.05, "seeds": 5}
QUICK = {"epochs": 1, "seeds": 2, "widths": [8, 8]}
DATA = True  # any image data set (ctx.data)
UNCHANGED = 1e-6  # an output "stays the same" when it moves by less than this fraction of the layer's largest value


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
    prm = ctx.params
    ctx.seed_everything(seed)
    model = build_model("simple_cnn", widths=prm["widths"], convs_per_stage=1, **ctx.data_info.model_options,
                        norm="bn", downsample=kind)
    section = optimizer_section(name="Momentum", weight_decay=5e-4, lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, padded("train", prm["pad"], ctx.data), padded("test", prm["pad"], ctx.data), prm["epochs"],
                  prm["batch_size"],
                  seed=seed, optimizer=section)
    return model, history.test_accuracy[-1]


def _runs(ctx):
    prm = ctx.params
    test_images = padded("test", prm["pad"], ctx.data)[0]
    ctx.plan(len(prm["downsamples"]) * prm["seeds"])
    for kind in prm["downsamples"]:
        for seed in ctx.seeds(prm["seeds"]):
            model, top1 = train_one(ctx, kind, seed)
            for pixels in prm["shifts"]:
                unchanged, change, stable = measure(model, test_images, pixels)
                ctx.runs.append({"downsample": kind, "seed": seed, "shift": pixels, "top1": top1,
                                 "unchanged": unchanged, "relative change": change, "stable predictions": stable})
            ctx.run_done(f"{kind} seed={seed}", f"top-1 {top1:.4f}, 1-px unchanged outputs "
                                                f"{ctx.runs[-len(prm['shifts'])]['unchanged']:.3f}")


def _values(ctx, kind, pixels, key):
    return ctx.run_values(key, downsample=kind, shift=pixels)


def _table(ctx):
    rows = []
    for kind in ctx.params["downsamples"]:
        for pixels in ctx.params["shifts"]:
            row = {"downsample": kind, "shift px": pixels}
            for key in ("unchanged", "relative change", "stable predictions", "top1"):
                estimate = mean_interval(_values(ctx, kind, pixels, key))
                row[key] = estimate.format(3)
                row[f"{key} mean"], row[f"{key} half-width"] = estimate.mean, estimate.half_width
            rows.append(row)
    return rows


def _claims(ctx):
    kinds, one, two = ctx.params["downsamples"], min(ctx.params["shifts"]), max(ctx.params["shifts"])
    for kind, zh in (("max", "max pooling"), ("avg", "average pooling")):
        if kind not in kinds:
            continue
        ctx.compare((f"Under a {one}-pixel shift most active outputs of {kind} pooling stay the same",
                     f"平移 {one} 个像素时，{zh} 的大多数（非零）输出不变"),
                    mean_interval(_values(ctx, kind, one, "unchanged")), "greater", margin=0.5, digits=3,
                    evidence="fraction of unchanged outputs among those non-zero before or after the shift")
        if "conv" in kinds:
            ctx.compare((f"{kind} pooling's output changes less than a strided conv's under a {one}-pixel shift",
                         f"平移 {one} 个像素时，{zh} 输出的相对变化小于步长卷积"),
                        paired_difference(_values(ctx, "conv", one, "relative change"),
                                          _values(ctx, kind, one, "relative change")), "greater", digits=3,
                        evidence="relative change ||y(shifted) - y|| / ||y||: conv minus pooling, paired by seed")
            ctx.compare((f"{kind} pooling keeps more predictions than a strided conv under a {two}-pixel shift",
                         f"平移 {two} 个像素时，{zh} 网络保持不变的预测多于步长卷积网络"),
                        paired_difference(_values(ctx, kind, two, "stable predictions"),
                                          _values(ctx, "conv", two, "stable predictions")), "greater", digits=3,
                        evidence="fraction of test images whose predicted class is unchanged: pooling minus conv")


def _chart(ctx, rows):
    fig, axes = ctx.figure(3, width=4.2)
    colors = {"max": "tab:blue", "avg": "tab:orange", "conv": "tab:green"}
    names = {"max": ctx.chart_text("max pooling", "max pooling"), "avg": ctx.chart_text("average pooling", "average pooling"),
             "conv": ctx.chart_text("strided conv", "步长卷积")}
    panels = (("unchanged", ctx.chart_text("unchanged active outputs (fraction)", "不变的非零输出（比例）")),
              ("relative change", ctx.chart_text("relative output change", "输出的相对变化")),
              ("stable predictions", ctx.chart_text("unchanged predictions (fraction)", "预测不变的比例")))
    for ax, (key, label) in zip(axes[0], panels):
        for kind in ctx.params["downsamples"]:
            mine = [r for r in rows if r["downsample"] == kind]
            ax.errorbar([r["shift px"] for r in mine], [r[f"{key} mean"] for r in mine],
                        yerr=[r[f"{key} half-width"] for r in mine], fmt="o-", capsize=3, color=colors[kind],
                        label=names[kind])
        ax.set_xticks(ctx.params["shifts"])
        ax.set_xlabel(ctx.chart_text("shift (pixels)", "平移（像素）"))
        ax.set_ylabel(label)
    axes[0][0].legend(title=ctx.chart_text("mean ± 95% interval", "均值 ± 95% 区间"))
    ctx.save_figure(fig, "pooling_shift", ctx.tr("downsampling outputs and predictions under small shifts",
                                                "小平移下的下采样输出与预测"))


def run(ctx):
    prm = ctx.params
    _runs(ctx)
    rows = _table(ctx)
    ctx.table("shift", rows, ["downsample", "shift px", "unchanged", "relative change", "stable predictions", "top1"],
              title=ctx.tr(f"simple_cnn {prm['widths']} (BN) on {ctx.data_info.name} padded by {prm['pad']} px, {prm['epochs']} "
                           f"epochs; mean ± 95% interval over {prm['seeds']} seeds",
                           f"simple_cnn {prm['widths']}（BN），{ctx.data_info.name} 四周各补 {prm['pad']} 像素，训练 {prm['epochs']} 轮；"
                           f"{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, rows)
    _claims(ctx)
    by = {(r["downsample"], r["shift px"]): r for r in rows}
    one = min(prm["shifts"])
    parts = [f"{k} {by[(k, one)]['unchanged']}" for k in prm["downsamples"]]
    return ctx.tr(f"Unchanged active outputs under a {one}-pixel shift: " + ", ".join(parts) + ".",
                  f"平移 {one} 个像素时不变的非零输出比例：" + "，".join(parts) + "。")
