"""The Group Normalization paper's question at small scale: how does BN's error depend on its batch size?

ResNet-20 (21 BN layers; on 8x8 digits, the default data, its last stage is 2x2, so a batch of 2 gives a channel 8
values; on 32x32 CIFAR images 8x8, 128 values).
In Wu & He's multi-GPU runs BN normalizes over each GPU's images while the gradient averages all GPUs;
here likewise BN normalizes over groups of ``batch`` images ("ghost batches") of an optimizer batch of
32, so every setting has the same steps, samples and learning rate, and only BN's statistics change.
GroupNorm's statistics are per sample, so its result is the same at every batch size (checked exactly).
"""
import numpy as np
import paddle
import paddle.nn as nn

from ..models import build_model
from ..nn import is_batch_norm
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section, predict

QUESTION = ("How does held-out error change when BN normalizes over fewer images (32 down to 2; ResNet-20 on "
            "digits), against GN, and does it reproduce Wu & He's ResNet-50 ImageNet trend?")
QUESTION_ZH = ("当 BN 求统计量的图片从 32 张减到 2 张时（digits 上的 ResNet-20），留出集错误率如何变化？与 GN 相比呢？"
               "能否复现 Wu & He 在 ImageNet 上 ResNet-50 的趋势？")
# 7 seeds of the two ends fit the CPU budget (5 seeds of 32/8/2 left both comparisons inconclusive)
DEFAULTS = {"norms": ["bn", "gn"], "batch_sizes": [32, 2], "optimizer_batch": 32, "epochs": 2, "bn_lr": 0.1,
            "gn_lr": 0.02, "groups": 8, "seeds": 7, "train_samples": 0}
DATA = True  # any image data set (ctx.data)
QUICK = {"batch_sizes": [32, 4], "epochs": 1, "seeds": 2, "train_samples": 192}
PAPER_BN = {32: 23.6, 16: 23.7, 8: 24.8, 4: 27.3, 2: 34.7}  # Wu & He 2018, ResNet-50 ImageNet val error (%)
PAPER_GN = 24.1  # "~24.1 at every batch size"
COLORS = {"bn": "C0", "gn": "C1", "ln": "C2", "in": "C3", "none": "C4"}


class GhostBatchNorm(nn.Layer):
    """A BN layer that, in training, normalizes each group of ``size`` images of the batch on its own
    (and updates the running statistics once per group, as BN at batch ``size`` would)."""

    def __init__(self, bn, size):
        super().__init__()
        self.bn, self.size = bn, size

    def forward(self, x):
        if not self.training or x.shape[0] <= self.size:
            return self.bn(x)
        return paddle.concat([self.bn(part) for part in paddle.split(x, x.shape[0] // self.size)])


def ghost_batches(model, size):
    """Wrap every BN layer of ``model`` in :class:`GhostBatchNorm` (in place); returns how many were wrapped."""
    wrapped = 0
    for layer in [model, *model.sublayers()]:
        for name, child in list(layer.named_children()):
            if is_batch_norm(child):
                setattr(layer, name, GhostBatchNorm(child, size))
                wrapped += 1
    return wrapped


def error_pct(model, images, labels, batch_statistics=False, size=32):
    """Held-out error (%) with the running statistics, or with each batch of ``size`` normalized by its own
    statistics as in training (the model's state, BN's running statistics included, is left unchanged)."""
    if not batch_statistics:
        return 100 * float((predict(model, images).argmax(axis=1) != labels.numpy()).mean())
    count = len(labels)
    order = paddle.to_tensor(np.arange(-(-count // size) * size) % count)  # the last batch filled from the start
    state = {name: value.clone() for name, value in model.state_dict().items()}
    model.train()
    with paddle.no_grad():
        logits = [model(images[order[i:i + size]]).numpy() for i in range(0, len(order), size)]
    model.set_state_dict(state)
    predicted = np.concatenate(logits)[:count].argmax(axis=1)
    return 100 * float((predicted != labels.numpy()).mean())


def _train_one(ctx, norm, batch, seed):
    """ResNet-20 with ``norm`` (BN over groups of ``batch`` images) trained with ``seed``: held-out error (%)
    with the running statistics and with batch statistics."""
    prm = ctx.params
    ctx.seed_everything(seed)
    options = {"groups": prm["groups"]} if norm == "gn" else None
    model = build_model("resnet20", **ctx.data_info.model_options, norm=norm, norm_options=options)
    ghost_batches(model, batch)
    lr = prm["bn_lr"] if norm == "bn" else prm["gn_lr"]
    section = optimizer_section(name="Momentum", weight_decay=5e-4, lr={"name": "Cosine", "learning_rate": lr})
    images, labels = ctx.data("train")
    if prm["train_samples"]:
        images, labels = images[:prm["train_samples"]], labels[:prm["train_samples"]]
    test = ctx.data("test")
    history = fit(model, (images, labels), test, prm["epochs"], prm["optimizer_batch"], seed=seed, optimizer=section)
    ctx.curve(f"{norm}/batch_{batch}/seed_{seed}/test_top1", history.eval_steps, history.test_accuracy)
    running = error_pct(model, *test)
    batched = error_pct(model, *test, batch_statistics=True, size=prm["optimizer_batch"])
    ctx.run_done(f"{norm} batch={batch} seed={seed}", f"error {running:.2f}% (batch statistics {batched:.2f}%)",
                 norm=norm, batch=batch, seed=seed, error_pct=running, batch_stats_error_pct=batched)
    return running, batched


def _measure(ctx):
    """``{(norm, batch): {"error": [...], "batch_stats": [...]}}`` (one value per seed). Only BN depends on the
    batch: the other norms are trained once per seed and their result stands for every batch size."""
    prm = ctx.params
    sizes = {norm: prm["batch_sizes"] if norm == "bn" else prm["batch_sizes"][:1] for norm in prm["norms"]}
    ctx.plan(sum(len(s) for s in sizes.values()) * prm["seeds"])
    results = {}
    for norm, batches in sizes.items():
        for batch in batches:
            runs = [_train_one(ctx, norm, batch, seed) for seed in ctx.seeds(prm["seeds"])]
            results[(norm, batch)] = {"error": [r[0] for r in runs], "batch_stats": [r[1] for r in runs]}
        for batch in prm["batch_sizes"]:
            results.setdefault((norm, batch), results[(norm, batches[0])])
    return results


def _gn_is_batch_independent(ctx, groups):
    """Largest difference between GN ResNet-20 logits of 32 images computed together and in groups of 2."""
    model = build_model("resnet20", **ctx.data_info.model_options, norm="gn", norm_options={"groups": groups})
    model.train()
    images = ctx.data("test")[0][:32]
    images = images[:len(images) - len(images) % 2]
    with paddle.no_grad():
        together = model(images)
        apart = paddle.concat([model(part) for part in paddle.split(images, len(images) // 2)])
    return float((together - apart).abs().max())


def _rows(ctx, results):
    rows = []
    for norm in ctx.params["norms"]:
        for batch in ctx.params["batch_sizes"]:
            runs = results[(norm, batch)]
            error, batched = mean_interval(runs["error"]), mean_interval(runs["batch_stats"])
            gap = mean_interval(np.subtract(runs["error"], runs["batch_stats"]))
            paper = PAPER_BN.get(batch, float("nan")) if norm == "bn" else PAPER_GN if norm == "gn" else float("nan")
            rows.append({"norm": norm, "batch": batch, "error %": error.format(2),
                         "batch-stats error %": batched.format(2), "train/eval gap": gap.format(2),
                         "paper %": paper, "mean": error.mean, "half-width": error.half_width,
                         "batch-stats mean": batched.mean, "batch-stats half-width": batched.half_width,
                         "gap mean": gap.mean, "gap half-width": gap.half_width})
    return rows


def _chart(ctx, rows):
    """Ours (running and batch statistics, 95% intervals) on the left, the paper's on the right; BN and GN
    keep their colours in both panels."""
    fig, axes = ctx.figure(2, width=5.2, height=3.8)
    ours, paper = axes[0]
    interval = ctx.chart_text("mean ± 95% interval", "均值 ± 95% 区间")
    for index, norm in enumerate(ctx.params["norms"]):
        mine = [r for r in rows if r["norm"] == norm]
        color = COLORS.get(norm, "C5")
        batches = [r["batch"] * 1.06 ** (2 * index - 1) for r in mine]  # side by side, so error bars do not overlap
        ours.errorbar(batches, [r["mean"] for r in mine], yerr=[r["half-width"] for r in mine], fmt="o-", capsize=3,
                      color=color, label=ctx.chart_text(f"{norm.upper()}, running statistics ({interval})",
                                                        f"{norm.upper()}，running 统计量（{interval}）"))
        if norm == "bn":
            ours.errorbar([r["batch"] for r in mine], [r["batch-stats mean"] for r in mine],
                          yerr=[r["batch-stats half-width"] for r in mine],
                          fmt="s:", capsize=3, color=color, mfc="none",
                          label=ctx.chart_text(f"BN, batch statistics ({interval})", f"BN，batch 统计量（{interval}）"))
    paper.plot(list(PAPER_BN), list(PAPER_BN.values()), "o-", color=COLORS["bn"], label="BN")
    paper.plot(list(PAPER_BN), [PAPER_GN] * len(PAPER_BN), "o-", color=COLORS["gn"], label="GN")
    info = ctx.data_info
    titles = (ctx.chart_text(f"ppnorm: ResNet-20 on {info.name}", f"ppnorm：{info.name} 上的 ResNet-20"),
              ctx.chart_text("Wu & He 2018: ResNet-50 on ImageNet", "Wu & He 2018：ImageNet 上的 ResNet-50"))
    labels = (ctx.chart_text(f"held-out error (%), {info.test_size} images", f"留出集错误率（%），{info.test_size} 张"),
              ctx.chart_text("ImageNet val error (%)", "ImageNet 验证集错误率（%）"))
    for ax, title, label in zip((ours, paper), titles, labels):
        ax.set_xscale("log", base=2), ax.invert_xaxis(), ax.set_xticks(list(PAPER_BN), [str(b) for b in PAPER_BN])
        ax.set_xlabel(ctx.chart_text("images per BN batch", "BN 的 batch 大小（张）"))
        ax.set_ylabel(label), ax.set_title(title, fontsize=10), ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)  # off the data
    ctx.save_figure(fig, "batch_size_sweep", ctx.tr("error vs BN batch size, ours beside the paper's",
                                                    "错误率与 BN 的 batch 大小：我们的结果与论文对照"))


def _claims(ctx, results):
    prm, batches = ctx.params, ctx.params["batch_sizes"]
    largest, smallest, points = max(batches), min(batches), ctx.tr(" points", " 个点")
    if "bn" in prm["norms"]:
        ctx.compare((f"BN's error grows as its batch shrinks: higher error at batch {smallest} than at {largest}",
                     f"BN 的错误率随 batch 变小而上升：batch {smallest} 时高于 batch {largest}"),
                    paired_difference(results[("bn", smallest)]["error"], results[("bn", largest)]["error"]),
                    "greater", unit=points, evidence=f"held-out error at batch {smallest} minus at {largest}, running "
                    "statistics, paired by seed (same initial weights and sample order); margin 0")
    if "gn" in prm["norms"]:
        ctx.check(("GN's error does not depend on the batch size (its statistics are per sample)",
                   "GN 的错误率与 batch 大小无关（统计量按样本计算）"), _gn_is_batch_independent(ctx, prm["groups"]), 1e-5,
                  "largest difference of GN ResNet-20 logits for 32 images computed together vs in groups of 2")
    if "bn" in prm["norms"] and "gn" in prm["norms"]:
        for batch in (b for b in batches if b <= 4):
            ctx.compare((f"BN hurts at batch {batch}: higher error than GN",
                         f"BN 在 batch {batch} 时有害：错误率高于 GN"),
                        paired_difference(results[("bn", batch)]["error"], results[("gn", batch)]["error"]),
                        "greater", unit=points,
                        evidence=f"BN minus GN held-out error at batch {batch}, paired by seed; margin 0")


def run(ctx):
    prm = ctx.params
    results = _measure(ctx)
    rows = _rows(ctx, results)
    samples, name = prm["train_samples"] or ctx.data_info.train_size, ctx.data_info.name
    ctx.table("errors", rows, ["norm", "batch", "error %", "batch-stats error %", "train/eval gap", "paper %"],
              title=ctx.tr(f"ResNet-20 on {name} ({samples} training images), {prm['epochs']} epochs of optimizer "
                           f"batch {prm['optimizer_batch']}, BN over groups of `batch` images; held-out error (%), "
                           f"mean ± 95% interval over {prm['seeds']} seeds; gap = running minus batch statistics; "
                           "paper: ResNet-50 on ImageNet",
                           f"{name} 上的 ResNet-20（{samples} 张训练图），优化器 batch {prm['optimizer_batch']} 训练 "
                           f"{prm['epochs']} 轮，BN 在每 `batch` 张图上求统计量；留出集错误率（%），{prm['seeds']} 个种子的"
                           "均值 ± 95% 区间；差距 = running 统计量减 batch 统计量；论文：ImageNet 上的 ResNet-50"))
    _chart(ctx, rows)
    _claims(ctx, results)
    by = {(r["norm"], r["batch"]): r["error %"] for r in rows}
    big, small = max(prm["batch_sizes"]), min(prm["batch_sizes"])
    listed = "; ".join(f"{n} {by[(n, big)]} -> {by[(n, small)]}" for n in prm["norms"])
    return ctx.tr(f"Held-out error (%) from batch {big} to {small}: {listed}.",
                  f"留出集错误率（%）从 batch {big} 到 {small}：{listed}。")
