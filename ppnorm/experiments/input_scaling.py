"""Input standardization: raw pixels vs z-score vs PCA whitening, for a shallow model and a deep model with BN."""
import numpy as np
import paddle

from ..models import build_model
from .bands import plot_band
from .stats import mean_interval, paired_difference
from .training import check_eval_every, fit, optimizer_section

QUESTION = ("Does standardizing the inputs (z-score per pixel) help a shallow model, does PCA whitening add anything "
            "over it for images, and does a deep model with BN care?")
QUESTION_ZH = "标准化输入（逐像素 z-score）是否帮助浅层模型？对图像而言 PCA 白化是否比 z-score 多带来什么？有 BN 的深层模型是否在意？"
DEFAULTS = {"transforms": ["raw", "zscore", "whiten"], "deep_hidden": [64, 64, 64, 64], "epochs": 12, "batch": 32,
            "lr": 0.01, "target": 0.9, "eval_every": 15, "seeds": 10}
QUICK = {"deep_hidden": [16, 16], "epochs": 1, "eval_every": 10, "seeds": 2}
DATA = True  # any image data set (ctx.data)
MODELS = ("shallow", "deep_bn")
COLORS = {"raw": "tab:red", "zscore": "tab:blue", "whiten": "tab:green"}


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


def one_run(ctx, kind, transform, seed, data):
    """One model on ``data = inputs(ctx, transform)``."""
    prm = ctx.params
    train, test = data
    ctx.seed_everything(seed)
    hidden, norm = ([], "none") if kind == "shallow" else (prm["deep_hidden"], "bn")
    model = build_model("mlp", in_features=train[0].shape[1], hidden=hidden, num_classes=ctx.data_info.num_classes,
                        norm=norm)
    history = fit(model, train, test, prm["epochs"], prm["batch"], seed=seed, eval_every=prm["eval_every"],
                  optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    reached = history.steps_to(prm["target"])
    final = history.test_accuracy[-1] if np.isfinite(history.losses[-1]) else 0.0
    return {"model": kind, "input": transform, "seed": seed, "features": train[0].shape[1], "final accuracy": final,
            "steps to target": reached if reached is not None else history.eval_steps[-1],
            "reached": reached is not None}, history


def _values(ctx, kind, transform, key):
    return ctx.run_values(key, model=kind, input=transform)


def _table(ctx):
    rows = []
    for kind in MODELS:
        for transform in ctx.params["transforms"]:
            acc = mean_interval(_values(ctx, kind, transform, "final accuracy")).scaled(100)
            steps = mean_interval(_values(ctx, kind, transform, "steps to target"))
            rows.append({"model": kind, "input": transform, "final top1 %": acc.format(1),
                         "steps to target": steps.format(0), "reached": sum(_values(ctx, kind, transform, "reached"))})
    return rows


def _claims(ctx):
    def diff(kind, a, b, key, scale=1.0):
        return paired_difference(_values(ctx, kind, a, key), _values(ctx, kind, b, key)).scaled(scale)

    ctx.compare(("Standardizing inputs (z-score) raises a shallow model's final accuracy over raw pixels",
                 "标准化输入（z-score）使浅层模型的最终准确率高于原始像素"),
                diff("shallow", "zscore", "raw", "final accuracy", 100), "greater", unit=" pts", digits=1,
                evidence="logistic regression, top-1 % z-score minus raw (0..16), paired by seed")
    ctx.compare(("Standardizing inputs makes a shallow model reach the target accuracy in fewer steps",
                 "标准化输入使浅层模型以更少的步数达到目标准确率"),
                diff("shallow", "raw", "zscore", "steps to target"), "greater", digits=0,
                evidence=f"steps to {ctx.params['target']:.0%} test accuracy, raw minus z-score (not reached: all steps)")
    for kind, en, zh in (("shallow", "a shallow model", "浅层模型"), ("deep_bn", "a deep model with BN", "有 BN 的深层模型")):
        ctx.compare((f"PCA whitening adds nothing over z-score for {en} on images (final accuracy within ±1 point)",
                     f"对图像而言，PCA 白化相对 z-score 对{zh}没有增益（最终准确率相差在 ±1 个点之内）"),
                    diff(kind, "whiten", "zscore", "final accuracy", 100), "within", margin=1.0, unit=" pts",
                    digits=1, evidence="top-1 % whitened minus z-score, paired by seed")
    ctx.compare(("With BN, a deep model does not need standardized inputs (raw vs z-score within ±1 point)",
                 "有 BN 的深层模型不需要标准化输入（原始像素与 z-score 相差在 ±1 个点之内）"),
                diff("deep_bn", "zscore", "raw", "final accuracy", 100), "within", margin=1.0, unit=" pts", digits=1,
                evidence="top-1 % z-score minus raw, paired by seed")


def _chart(ctx, curves):
    fig, axes = ctx.figure(2, width=5.0)
    titles = {"shallow": ("shallow: logistic regression", "浅层：逻辑回归"),
              "deep_bn": (f"deep: MLP {len(ctx.params['deep_hidden'])} layers + BN", f"深层：{len(ctx.params['deep_hidden'])} 层 MLP + BN")}
    for ax, kind in zip(axes[0], MODELS):
        for transform in ctx.params["transforms"]:
            runs = curves[(kind, transform)]
            plot_band(ax, runs[0].eval_steps, [[100 * a for a in h.test_accuracy] for h in runs], COLORS[transform],
                      transform, ctx.chart_text(f"{transform}: 95% interval", f"{transform}：95% 区间"))
        ax.axhline(100 * ctx.params["target"], color="grey", linestyle=":", label=ctx.chart_text("target", "目标"))
        ax.set_title(ctx.chart_text(*titles[kind]))
        ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
        ax.set_ylabel(ctx.chart_text("test accuracy (%)", "测试准确率（%）"))
        ax.set_ylim(0, 100)
        ax.legend(fontsize=7, loc="lower right")
    ctx.save_figure(fig, "input_scaling", ctx.tr("test accuracy during training by input transform",
                                                 "不同输入变换下训练中的测试准确率"))


def run(ctx):
    prm = ctx.params
    combos = [(kind, t) for kind in MODELS for t in prm["transforms"]]
    ctx.plan(len(combos) * prm["seeds"])
    check_eval_every(prm["eval_every"], prm["epochs"], ctx.data_info.train_size // prm["batch"], ctx.data_info.name)
    curves, data = {}, {t: inputs(ctx, t) for t in prm["transforms"]}  # a whitening per transform, not per run
    for kind, transform in combos:
        for seed in ctx.seeds(prm["seeds"]):
            row, history = one_run(ctx, kind, transform, seed, data[transform])
            curves.setdefault((kind, transform), []).append(history)
            ctx.curve(f"{kind}_{transform}/seed_{seed}/test_accuracy", history.eval_steps, history.test_accuracy)
            ctx.run_done(f"{kind} {transform} seed={seed}", f"final top1 {100 * row['final accuracy']:.1f}%, "
                         f"steps to target {row['steps to target']}", **row)
    rows = ctx.table("input_scaling", _table(ctx), title=ctx.tr(
        f"Final test top-1 and steps to {prm['target']:.0%}, mean ± 95% interval over {prm['seeds']} seeds "
        f"({prm['epochs']} epochs, batch {prm['batch']}, Momentum lr {prm['lr']})",
        f"最终测试 top-1 与达到 {prm['target']:.0%} 的步数，{prm['seeds']} 个种子的均值 ± 95% 区间"
        f"（{prm['epochs']} 轮，batch {prm['batch']}，Momentum lr {prm['lr']}）"))
    _chart(ctx, curves)
    _claims(ctx)
    parts = [f"{r['model']} {r['input']} {r['final top1 %']}%" for r in rows]
    return ctx.tr("Final top-1: " + ", ".join(parts) + ".", "最终 top-1：" + "，".join(parts) + "。")
