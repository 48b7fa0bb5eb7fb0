"""The claim that BatchNorm hurts an extremely imbalanced (99:1) binary task: BN vs GN vs no norm, paired by seed."""
import numpy as np
import paddle

from ..models import build_model
from .stats import mean_interval, paired_difference
from ..engine.config import ConfigError
from .training import balanced_accuracy, fit, optimizer_section, predict

QUESTION = ("On a 99:1 binary task (is this digit a 0?), does BatchNorm do worse than GroupNorm or no "
            "normalization, measured by balanced accuracy?")
QUESTION_ZH = "在 99:1 的二分类任务（这个数字是不是 0？）上，按 balanced accuracy 衡量，BatchNorm 是否比 GroupNorm 或不用归一化更差？"
# 6 seeds x 10 epochs fit the 330 s CPU budget (8 x 15 would take about 530 s: 22 s per run on the author's CPU)
DEFAULTS = {"norms": ["bn", "gn", "none"], "ratio": 99, "positive_digit": 0, "epochs": 10, "batch_size": 32,
            "lr": 0.05, "seeds": 6}
QUICK = {"norms": ["bn", "none"], "epochs": 1, "seeds": 2}
DATA = True  # any image data set (ctx.data); positive_digit is then the positive class's index
CHANCE = 0.5  # balanced accuracy of always answering the majority class (or of guessing)
COLORS = {"bn": "C0", "gn": "C1", "none": "C2", "ln": "C3", "in": "C4"}


def _imbalanced(images, labels, digit, ratio, seed):
    """All other digits as negatives and len(negatives)/ratio of the ``digit`` images as positives."""
    labels = labels.numpy()
    negatives = np.flatnonzero(labels != digit)
    positives = np.flatnonzero(labels == digit)
    keep = np.random.default_rng(seed).choice(positives, max(1, round(len(negatives) / ratio)), replace=False)
    index = np.concatenate([negatives, keep])
    return images[paddle.to_tensor(index)], paddle.to_tensor((labels[index] == digit).astype("int64"))


def _score(ctx, norm, train, test, seed):
    """Balanced accuracy and recall of the rare class of simple_cnn with ``norm`` trained with ``seed``."""
    prm = ctx.params
    ctx.seed_everything(seed)
    options = {"groups": 8} if norm == "gn" else None
    model = build_model("simple_cnn", in_channels=ctx.data_info.channels, num_classes=2, norm=norm, norm_options=options)
    section = optimizer_section(name="Momentum", weight_decay=5e-4,
                                lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
                  metric=balanced_accuracy)
    ctx.curve(f"{norm}/seed_{seed}/test_balanced_accuracy", history.eval_steps, history.test_accuracy)
    predicted = predict(model, test[0]).argmax(axis=1)
    return history.test_accuracy[-1], float((predicted[test[1].numpy() == 1] == 1).mean())


def _runs(ctx):
    """``{norm: {"balanced": [...], "recall": [...]}}`` (one value per seed) and the training class counts."""
    prm = ctx.params
    images, labels = ctx.data("train")
    test_images, test_labels = ctx.data("test")
    if not (labels.numpy() == prm["positive_digit"]).any():
        raise ConfigError(f"params.positive_digit: class {prm['positive_digit']} has no training images in "
                          f"{ctx.data_info.name} (classes 0..{ctx.data_info.num_classes - 1})")
    test = (test_images, paddle.to_tensor((test_labels.numpy() == prm["positive_digit"]).astype("int64")))
    ctx.plan(len(prm["norms"]) * prm["seeds"])
    scores = {norm: {"balanced": [], "recall": []} for norm in prm["norms"]}
    for norm in prm["norms"]:
        for seed in ctx.seeds(prm["seeds"]):
            train = _imbalanced(images, labels, prm["positive_digit"], prm["ratio"], seed)
            balanced, recall = _score(ctx, norm, train, test, seed)
            scores[norm]["balanced"].append(balanced)
            scores[norm]["recall"].append(recall)
            ctx.run_done(f"{norm} seed={seed}", f"balanced accuracy {balanced:.4f}, rare-class recall {recall:.4f}",
                         norm=norm, seed=seed, balanced_accuracy=balanced, rare_recall=recall)
    positives = int(train[1].numpy().sum())
    return scores, positives, len(train[1]) - positives


def _rows(scores, positives, negatives):
    rows = []
    for norm, values in scores.items():
        balanced, recall = mean_interval(values["balanced"]), mean_interval(values["recall"])
        rows.append({"norm": norm, "balanced accuracy": balanced.format(3), "recall of the rare class": recall.format(3),
                     "mean": balanced.mean, "half-width": balanced.half_width, "recall mean": recall.mean,
                     "recall half-width": recall.half_width, "positives in training": positives,
                     "negatives": negatives})
    return rows


def _chart(ctx, rows, scores):
    """Bars with 95% intervals, every seed as a dot, and chance (0.5) marked; y from 0 to 1."""
    fig, axes = ctx.figure(width=5.4, height=3.8)
    ax = axes[0][0]
    positions = np.arange(len(rows))
    for x, row in zip(positions, rows):
        ax.bar(x, row["mean"], yerr=row["half-width"], capsize=4, color=COLORS.get(row["norm"], "C5"), alpha=0.7)
        seeds = scores[row["norm"]]["balanced"]
        ax.plot(np.full(len(seeds), x) + np.linspace(-0.15, 0.15, len(seeds)), seeds, "k.", markersize=4)
    ax.errorbar([], [], yerr=[], fmt="none", ecolor="k", capsize=4,
                label=ctx.chart_text("mean ± 95% interval over seeds", "均值 ± 95% 区间（多个种子）"))
    ax.plot([], [], "k.", label=ctx.chart_text("one seed", "单个种子"))
    ax.axhline(CHANCE, color="grey", linestyle="--", label=ctx.chart_text(
        "chance: always the majority class (0.5)", "随机水平：总是答多数类（0.5）"))
    ax.set_xticks(positions, [r["norm"] for r in rows])
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel(ctx.chart_text("normalization", "归一化"))
    ax.set_ylabel(ctx.chart_text("held-out balanced accuracy (0-1)", "留出集 balanced accuracy（0-1）"))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)  # off the bars
    ctx.save_figure(fig, "imbalanced_bn", ctx.tr("balanced accuracy by norm", "各归一化的 balanced accuracy"))


def _claims(ctx, scores):
    """BN against each other norm, paired by seed: the claim is that BN's balanced accuracy is lower."""
    if "bn" not in scores:
        return
    for other in (n for n in scores if n != "bn"):
        ctx.compare((f"BN hurts an extremely imbalanced (99:1) binary task: lower balanced accuracy than {other}",
                     f"BN 在极不平衡（99:1）的二分类上有害：balanced accuracy 低于 {other}"),
                    paired_difference(scores["bn"]["balanced"], scores[other]["balanced"]), "less", digits=3,
                    evidence=f"balanced accuracy of bn minus {other} on the {ctx.data_info.test_size} held-out "
                             f"{ctx.data_info.name} images, per seed "
                             f"(same training subset and initial seed); margin 0: any loss counts as hurting")


def run(ctx):
    prm, info = ctx.params, ctx.data_info
    scores, positives, negatives = _runs(ctx)
    rows = _rows(scores, positives, negatives)
    ctx.table("imbalanced", rows, ["norm", "balanced accuracy", "recall of the rare class", "positives in training",
                                   "negatives"],
              title=ctx.tr(f"{info.name} class {prm['positive_digit']} vs rest at {prm['ratio']}:1 in training (test: the "
                           f"{info.test_size} held-out images), simple_cnn, {prm['epochs']} epochs, mean ± 95% interval over "
                           f"{prm['seeds']} seeds",
                           f"训练集中 {info.name} 类别 {prm['positive_digit']} 对其余为 1:{prm['ratio']}（测试：{info.test_size} 张留出图片），"
                           f"simple_cnn，{prm['epochs']} 轮，{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, rows, scores)
    _claims(ctx, scores)
    listed = ", ".join(f"{r['norm']} {r['balanced accuracy']}" for r in rows)
    return ctx.tr(f"Balanced accuracy at {prm['ratio']}:1: {listed}.",
                  f"{prm['ratio']}:1 时的 balanced accuracy：{listed}。")
