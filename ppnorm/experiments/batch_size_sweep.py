"""The Group Normalization paper's question at small scale: how does BN's error depend on its batch size?

ResNet-20; BN normalizes over groups of ``batch`` images ("ghost batches", as over GPUs in Wu & He) of an optimizer
batch of 32: steps, samples and lr are the same in every setting, only BN's statistics change. GN's statistics are
per sample: it is trained once per seed and stands for every batch size (checked exactly on its logits)."""
import numpy as np
import paddle

from ..engine.config import ConfigError
from ..models import build_model
from ..registry import unknown_message
from ..nn import NORMS
from ..nn.ghost_bn import ghost_batches
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval
from .training import fit, optimizer_section, predict

ORDER = 40  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("How does held-out error change when BN normalizes over fewer images (32 down to 2; ResNet-20 on "
            "digits), against GN, and does it reproduce Wu & He's ResNet-50 ImageNet trend?")
QUESTION_ZH = ("当 BN 求统计量的图片从 32 张减到 2 张时（digits 上的 ResNet-20），留出集错误率如何变化？与 GN 相比呢？"
               "能否复现 Wu & He 在 ImageNet 上 ResNet-50 的趋势？")
# 20 seeds: the design runs (5 seeds of 32/8/2, then 7 of 32/2, seeds 0-6) size the BN claim at 23 seeds (capped)
DEFAULTS = {"norms": ["bn", "gn"], "batch_sizes": [32, 2], "optimizer_batch": 32, "epochs": 2, "bn_lr": 0.1,
            "gn_lr": 0.02, "groups": 8, "seeds": 20, "train_samples": 0}
DATA = True  # any image data set (ctx.data)
QUICK = {"batch_sizes": [32, 4], "epochs": 1, "seeds": 2, "train_samples": 192}
PAPER_BN = {32: 23.6, 16: 23.7, 8: 24.8, 4: 27.3, 2: 34.7}  # Wu & He 2018, ResNet-50 ImageNet val error (%)
PAPER_GN = 24.1  # "~24.1 at every batch size"


def error_pct(model, images, labels, batch_statistics=False, size=32):
    """Held-out error (%) with the running statistics, or with each batch of ``size`` normalized by its own
    statistics as in training (the model's state, BN's running statistics included, is left unchanged)."""
    if not batch_statistics:
        return 100 * float((predict(model, images).argmax(axis=1) != labels.numpy()).mean())
    count, state = len(labels), {name: value.clone() for name, value in model.state_dict().items()}
    order = paddle.to_tensor(np.arange(-(-count // size) * size) % count)  # the last batch filled from the start
    with paddle.no_grad():
        model.train()
        logits = [model(images[order[i:i + size]]).numpy() for i in range(0, len(order), size)]
    model.set_state_dict(state)
    return 100 * float((np.concatenate(logits)[:count].argmax(axis=1) != labels.numpy()).mean())


def cell(ctx, setting, seed):
    """ResNet-20 with ``norm`` (BN over groups of ``batch`` images): held-out error (%) with the running statistics
    and with batch statistics (batches of the optimizer's size), and the held-out top-1 curve."""
    prm, norm = ctx.params, setting["norm"]
    model = build_model("resnet20", **ctx.data_info.model_options, norm=norm,
                        norm_options={"groups": prm["groups"]} if norm == "gn" else None)
    ghost_batches(model, setting["batch"])
    lr = prm["bn_lr"] if norm == "bn" else prm["gn_lr"]
    section = optimizer_section(name="Momentum", weight_decay=5e-4, lr={"name": "Cosine", "learning_rate": lr})
    (images, labels), test, kept = ctx.data("train"), ctx.data("test"), prm["train_samples"] or None
    history = fit(model, (images[:kept], labels[:kept]), test, prm["epochs"], prm["optimizer_batch"], seed=seed,
                  optimizer=section)
    return {"error_pct": error_pct(model, *test), "test_top1": history.test_accuracy,
            "batch_stats_error_pct": error_pct(model, *test, batch_statistics=True, size=prm["optimizer_batch"])}


def _grid(params):
    """BN at every batch size; the other norms once, at the first (their statistics do not see the batch)."""
    return [{"norm": n, "batch": b} for n in params["norms"] for b in params["batch_sizes"][:None if n == "bn" else 1]]


def _validate(params):
    unknown = [norm for norm in params["norms"] if norm not in NORMS]
    if unknown:
        raise ConfigError(f"params.norms: {unknown_message('norm kind', unknown[0], NORMS.names(), 'valid kinds')}")


def gn_is_batch_independent(ctx, groups):
    """Largest difference between GN ResNet-20 logits of 32 images computed together and in groups of 2."""
    model = build_model("resnet20", **ctx.data_info.model_options, norm="gn", norm_options={"groups": groups})
    images = ctx.data("test")[0][:32]
    images = images[:len(images) - len(images) % 2]
    with paddle.no_grad():
        model.train()
        apart = paddle.concat([model(part) for part in paddle.split(images, len(images) // 2)])
        return float((model(images) - apart).abs().max())


def _claims(params):
    """BN's error at the smallest batch exceeds its error at the largest; BN is worse than GN at every batch <= 4."""
    small, large, claims = min(params["batch_sizes"]), max(params["batch_sizes"]), {}
    if "bn" in params["norms"]:
        claims["bn_grows_as_batch_shrinks"] = Claim(
            "BN's error grows as its batch shrinks: higher error at batch {a[batch]} than at {b[batch]}",
            "BN 的错误率随 batch 变小而上升：batch {a[batch]} 时高于 batch {b[batch]}", "error_pct",
            {"norm": "bn", "batch": small}, {"norm": "bn", "batch": large}, unit=" points",
            evidence=f"held-out error at batch {small} minus at {large}, running statistics, paired by seed (same "
                     "initial weights and sample order); margin {margin:g}")
    for batch in (b for b in params["batch_sizes"] if b <= 4 and {"bn", "gn"} <= set(params["norms"])):
        cid = "bn_worse_than_gn_at_smallest_batch" if batch == small else f"bn_worse_than_gn_at_batch_{batch}"
        claims[cid] = Claim("BN hurts at batch {a[batch]}: higher error than GN", "BN 在 batch {a[batch]} 时有害：错误率高于 GN",
                            "error_pct", {"norm": "bn", "batch": batch}, {"norm": "gn"}, unit=" points", evidence=
                            f"BN minus GN held-out error at batch {batch}, paired by seed; margin {{margin:g}}")
    return claims


def _after(ctx, results):
    """The train/eval gap (running minus batch statistics, per seed) into the table; GN's check."""
    for row in results.rows:
        pick = {"norm": row["norm"], "batch": row["batch"]}
        gap = mean_interval(np.subtract(*(results.values(m, pick) for m in ("error_pct", "batch_stats_error_pct"))))
        row["train/eval gap"], row["gap mean"], row["gap half-width"] = gap.format(2), gap.mean, gap.half_width
    if "gn" in ctx.params["norms"]:
        ctx.check(("By construction, not a finding: GN's outputs do not depend on how a batch is split (per-sample "
                   "statistics), so GN trained once per seed stands for every batch size",
                   "由构造决定，不是实验发现：GN 的输出与 batch 怎么切分无关（统计量按样本计算），所以每个种子只训练一次 GN，"
                   "代表所有 batch 大小"), gn_is_batch_independent(ctx, ctx.params["groups"]),
                  1e-5, "largest difference of GN ResNet-20 logits for 32 images computed together vs in groups of 2")


def _summary(ctx, results):
    sizes, error = ctx.params["batch_sizes"], {(r["norm"], r["batch"]): r["error %"] for r in results.rows}
    big, small, at = max(sizes), min(sizes), lambda n, b: b if n == "bn" else sizes[0]  # GN: its one training
    listed = "; ".join(f"{n} {error[(n, at(n, big))]} -> {error[(n, at(n, small))]}" for n in ctx.params["norms"])
    return ctx.tr(f"Held-out error (%) from batch {big} to {small}: {listed}.",
                  f"留出集错误率（%）从 batch {big} 到 {small}：{listed}。")


EXPERIMENT = Experiment(
    grid=_grid, cell=cell, metrics=("error_pct", "batch_stats_error_pct", "test_top1"), claims=_claims, after=_after,
    validate=_validate, summary=_summary, table=Table("errors", (
        "ResNet-20 on {data} (train_samples {train_samples}; 0: all), {epochs} epochs of optimizer batch "
        "{optimizer_batch}, BN over groups of `batch` images, GN trained once per seed; held-out error (%), mean ± 95% "
        "interval over {seeds} seeds; gap = running minus batch statistics; paper: ResNet-50 on ImageNet",
        "{data} 上的 ResNet-20（train_samples {train_samples}；0：全部），优化器 batch {optimizer_batch} 训练 {epochs} 轮，"
        "BN 在每 `batch` 张图上求统计量，GN 每个种子训练一次；留出集错误率（%），{seeds} 个种子的均值 ± 95% 区间；"
        "差距 = running 统计量减 batch 统计量；论文：ImageNet 上的 ResNet-50"),
        ("norm", "batch", Stat("error %", "error_pct"), Stat("batch-stats error %", "batch_stats_error_pct"),
         "train/eval gap", "paper %"),
        extra=lambda s, p: {"paper %": {"bn": PAPER_BN.get(s["batch"], np.nan), "gn": PAPER_GN}.get(s["norm"], np.nan)}),
    charts=(Chart("sweep", "batch_size_sweep", ("error_pct", "batch_stats_error_pct"), (
        "held-out error vs the images per BN batch (mean ± 95% interval; GN: its one training per seed, at the first "
        "batch size); the paper's ResNet-50 ImageNet errors are the table's paper % column",
        "留出集错误率与 BN 的 batch 大小（均值 ± 95% 区间；GN：每个种子训练一次，画在第一个 batch 大小处）；论文中 ImageNet 上 "
        "ResNet-50 的错误率见表中的“论文 %”一列"), ("held-out error (%)", "留出集错误率（%）"),
                  ("images per BN batch", "BN 的 batch 大小（张）"), x="batch", by="norm", log2=True, bounds=(0.0, 100.0),
                  labels={"error_pct": ("running statistics", "running 统计量"),
                          "batch_stats_error_pct": ("batch statistics", "batch 统计量")}),))
run = EXPERIMENT.run
