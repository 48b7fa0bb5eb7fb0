"""The degradation problem: plain vs residual CIFAR-style ResNets of two depths, several seeds each."""
import numpy as np

from ..engine.config import ConfigError
from ..models.resnet import BasicBlock, ResNet
from .bands import plot_band
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import fit, optimizer_section

ORDER = 90  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does a deeper plain network train worse than a shallower one (the degradation that motivated "
            "ResNet), and do residual connections remove it?")
QUESTION_ZH = "更深的普通（plain）网络是否比浅的训练得更差（促成 ResNet 的退化问题）？残差连接能否消除它？"
# 14 seeds: the pilot (seeds 100000-100004, 20 epochs) sizes the degradation claim at 14 for 80 % power
DEFAULTS = {"depths": [8, 26], "widths": [8, 16, 32], "epochs": 20, "batch_size": 64, "lr": 0.1,
            "warmup_epochs": 1.0, "seeds": 14}
QUICK = {"depths": [8, 14], "widths": [4, 4, 4], "epochs": 1, "warmup_epochs": 0.0, "seeds": 2}
DATA = True  # any image data set (ctx.data)
NETWORKS = ("plain", "resnet")
RESIDUAL_MARGIN = 1.0  # points of training error: ~14 of digits' 1437 training images, far below plain degradation


def _model(depth, residual, widths, in_channels=1, num_classes=10):
    """The CIFAR ResNet of He et al. (6n+2 layers, three stages of n basic blocks) with or without shortcuts."""
    n = (depth - 2) // 6
    return ResNet(BasicBlock, depths=(n, n, n), widths=tuple(widths), stem="cifar", residual=residual,
                  in_channels=in_channels, num_classes=num_classes)


def cell(ctx, setting, seed):
    """Final train/test error (%, eval mode) of one network, and its per-epoch error curves."""
    prm = ctx.params
    model = _model(setting["depth"], setting["network"] == "resnet", prm["widths"], **ctx.data_info.model_options)
    section = optimizer_section(name="Momentum", weight_decay=1e-4, lr={"name": "Cosine", "learning_rate": prm["lr"],
                                                                         "warmup_epochs": prm["warmup_epochs"]})
    history = fit(model, ctx.data("train"), ctx.data("test"), prm["epochs"], prm["batch_size"], seed=seed,
                  optimizer=section, track_train=True, log=ctx.log)
    train_curve = [100 * (1 - a) for a in history.train_accuracy]
    test_curve = [100 * (1 - a) for a in history.test_accuracy]
    return {"train_error_pct": train_curve[-1], "test_error_pct": test_curve[-1], "train_curve": train_curve,
            "test_curve": test_curve}


def _validate(params):
    bad = [d for d in params["depths"] if d < 8 or (d - 2) % 6]
    if bad or len(params["depths"]) < 2 or len(params["widths"]) != 3:
        raise ConfigError(f"params.depths must hold >= 2 depths of the form 6n+2 (8, 14, 20, 32, 56, ...), got "
                          f"{params['depths']}; params.widths must be 3 stage widths, got {params['widths']}")


def _claims(params):
    """Degradation of the plain net and its absence in the residual net: deepest minus shallowest, paired by seed."""
    shallow, deep = min(params["depths"]), max(params["depths"])
    pick = {kind: ({"network": kind, "depth": deep}, {"network": kind, "depth": shallow}) for kind in NETWORKS}
    return {
        "degradation": Claim(
            f"Degradation: the plain net of {deep} layers ends with a higher training error than the plain net of "
            f"{shallow} layers", f"退化：{deep} 层普通网络最终的训练错误率高于 {shallow} 层普通网络", "train_error_pct",
            *pick["plain"], unit=" points",
            evidence=f"train error of plain{deep} minus plain{shallow} after the last epoch, paired by seed"),
        "residual_removes_it": Claim(
            f"Residual connections remove it: resnet{deep}'s training error exceeds resnet{shallow}'s by less than "
            "{margin:g} point", f"残差连接消除退化：resnet{deep} 的训练错误率比 resnet{shallow} 高不到 {{margin:g}} 个百分点",
            "train_error_pct", *pick["resnet"], side="less", margin=RESIDUAL_MARGIN, unit=" points",
            evidence=f"train error of resnet{deep} minus resnet{shallow}, paired by seed; margin {{margin:g}} point = "
                     "~{margin_images:.0f} of {train_size} training images, small against the degradation being "
                     "tested")}


def _before(ctx, results):
    size = ctx.data_info.train_size
    margin = results.claims["residual_removes_it"].margin
    results.params = dict(results.params, train_size=size, margin_images=margin / 100 * size)


def _after(ctx, results):
    """Error per epoch, train and held-out: plain dashed, residual solid, one colour per depth."""
    from matplotlib.ticker import MaxNLocator
    fig, axes = ctx.figure(2, width=5.2, height=4.4)
    for ax, metric, en, zh in ((axes[0][0], "train_curve", "training error (%, eval mode)", "训练集错误率（%，eval 模式）"),
                               (axes[0][1], "test_curve", "held-out error (%)", "留出集错误率（%）")):
        for i, depth in enumerate(ctx.params["depths"]):
            for network in NETWORKS:
                curves = [r[metric] for r in results.runs if (r["network"], r["depth"]) == (network, depth)]
                plot_band(ax, np.arange(1, len(curves[0]) + 1), curves, f"C{i}", f"{network}{depth}", None,
                          marker="o--" if network == "plain" else "o-")
        ax.set_yscale("symlog", linthresh=1.0)  # linear below 1% so runs that reach 0% stay visible
        ax.set_ylim(0, 100)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=ctx.chart_text("epoch", "轮（epoch）"), ylabel=ctx.chart_text(en, zh))
        ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))  # below the axes: over no data
    ctx.save_figure(fig, "residual_vs_plain", ctx.tr(
        "error per epoch: plain (dashed) vs residual (solid), one colour per depth, 95% band over seeds",
        "每轮错误率：普通网络（虚线）与残差网络（实线），每个深度一种颜色，多个种子的 95% 区间"))


def _summary(ctx, results):
    deep, shallow = max(ctx.params["depths"]), min(ctx.params["depths"])
    plain, residual = (results.estimates[cid].format(2) for cid in ("degradation", "residual_removes_it"))
    return ctx.tr(f"From {shallow} to {deep} layers the final training error changes by {plain} points for plain nets "
                  f"and by {residual} points for residual nets (paired by seed).",
                  f"从 {shallow} 层加深到 {deep} 层，普通网络最终训练错误率变化 {plain} 个百分点，残差网络变化 {residual} 个百分点"
                  "（按种子配对）。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"network": n, "depth": d} for d in params["depths"] for n in NETWORKS], cell=cell,
    metrics=("train_error_pct", "test_error_pct", "train_curve", "test_curve"), claims=_claims, validate=_validate,
    before=_before, after=_after, summary=_summary,
    table=Table("depth", (
        "{data}, CIFAR-style ResNets with widths {widths}, {epochs} epochs, batch {batch_size}, cosine lr {lr} after "
        "{warmup_epochs:g} warm-up epoch, BN everywhere; error (%) in eval mode, mean ± 95% interval over {seeds} "
        "seeds",
        "{data}，宽度 {widths} 的 CIFAR 式 ResNet，{epochs} 轮，batch {batch_size}，cosine 学习率 {lr}（先 warm-up "
        "{warmup_epochs:g} 轮），处处有 BN；错误率（%）在 eval 模式下测，{seeds} 个种子的均值 ± 95% 区间"),
                ("network", "depth", Stat("train error %", "train_error_pct"), Stat("test error %", "test_error_pct"))))
run = EXPERIMENT.run
