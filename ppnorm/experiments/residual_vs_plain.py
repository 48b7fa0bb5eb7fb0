"""The degradation problem: plain vs residual CIFAR-style ResNets of two depths, several seeds each."""
import numpy as np

from ..engine.config import ConfigError
from ..models.resnet import BasicBlock, ResNet
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section

QUESTION = ("Does a deeper plain network train worse than a shallower one (the degradation that motivated "
            "ResNet), and do residual connections remove it?")
QUESTION_ZH = "更深的普通（plain）网络是否比浅的训练得更差（促成 ResNet 的退化问题）？残差连接能否消除它？"
DEFAULTS = {"depths": [8, 26], "widths": [8, 16, 32], "epochs": 6, "batch_size": 64, "lr": 0.1,
            "warmup_epochs": 1.0, "seeds": 5}
QUICK = {"depths": [8, 14], "widths": [4, 4, 4], "epochs": 1, "warmup_epochs": 0.0, "seeds": 2}
DATA = True  # any image data set (ctx.data)
KINDS = (("plain", False), ("resnet", True))
RESIDUAL_MARGIN = 1.0  # points of training error: ~14 of digits' 1437 training images, far below plain degradation


def _model(depth, residual, widths, in_channels=1, num_classes=10):
    """The CIFAR ResNet of He et al. (6n+2 layers, three stages of n basic blocks) with or without shortcuts."""
    n = (depth - 2) // 6
    return ResNet(BasicBlock, depths=(n, n, n), widths=tuple(widths), stem="cifar", residual=residual,
                  in_channels=in_channels, num_classes=num_classes)


def _train(ctx, kind, residual, depth, seed):
    """Final train/test error (%) of one run, and its per-epoch training-error curve."""
    prm = ctx.params
    ctx.seed_everything(seed)
    model = _model(depth, residual, prm["widths"], **ctx.data_info.model_options)
    section = optimizer_section(name="Momentum", weight_decay=1e-4, lr={"name": "Cosine", "learning_rate": prm["lr"],
                                                                         "warmup_epochs": prm["warmup_epochs"]})
    history = fit(model, ctx.data("train"), ctx.data("test"), prm["epochs"], prm["batch_size"], seed=seed,
                  optimizer=section, track_train=True, log=ctx.log)
    train_curve = [100 * (1 - a) for a in history.train_accuracy]
    test_curve = [100 * (1 - a) for a in history.test_accuracy]
    ctx.curve(f"{kind}{depth}/seed_{seed}/train_error_pct", history.eval_steps, train_curve)
    ctx.curve(f"{kind}{depth}/seed_{seed}/test_error_pct", history.eval_steps, test_curve)
    ctx.run_done(f"{kind}{depth} seed={seed}", f"train error {train_curve[-1]:.2f}%, test error {test_curve[-1]:.2f}%",
                 network=kind, depth=depth, seed=seed, train_error_pct=train_curve[-1], test_error_pct=test_curve[-1])
    return train_curve, test_curve


def _measure(ctx):
    """``{(kind, depth): {"train": [[% per epoch] per seed], "test": ...}}`` over every network and seed."""
    prm = ctx.params
    ctx.plan(len(prm["depths"]) * 2 * prm["seeds"])
    runs = {}
    for depth in prm["depths"]:
        for kind, residual in KINDS:
            curves = [_train(ctx, kind, residual, depth, seed) for seed in ctx.seeds(prm["seeds"])]
            runs[(kind, depth)] = {"train": [c[0] for c in curves], "test": [c[1] for c in curves]}
    return runs


def _rows(runs):
    rows = []
    for (kind, depth), curves in runs.items():
        train, test = mean_interval([c[-1] for c in curves["train"]]), mean_interval([c[-1] for c in curves["test"]])
        first = mean_interval([c[0] for c in curves["train"]])
        rows.append({"network": f"{kind}{depth}", "depth": depth, "train error %": train.format(2),
                     "test error %": test.format(2), "train error % after epoch 1": first.format(1),
                     "mean": train.mean, "half-width": train.half_width, "test mean": test.mean,
                     "test half-width": test.half_width})
    return rows


def _band(ax, curves, color, style, label):
    """Mean curve over seeds with its 95% t-interval as a shaded band (clipped at 0%)."""
    values = np.array(curves)
    estimates = [mean_interval(values[:, e]) for e in range(values.shape[1])]
    epochs = np.arange(1, values.shape[1] + 1)
    mean = np.array([e.mean for e in estimates])
    half = np.nan_to_num([e.half_width for e in estimates])
    ax.plot(epochs, mean, style, color=color, marker="o", markersize=3, label=label)
    ax.fill_between(epochs, np.maximum(mean - half, 0), np.minimum(mean + half, 100), color=color, alpha=0.15,
                    linewidth=0)


def _chart(ctx, runs):
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    fig, axes = ctx.figure(2, width=5.2, height=4.4)
    depths = ctx.params["depths"]
    colors = {depth: f"C{i}" for i, depth in enumerate(depths)}  # one colour per depth, in both panels
    for ax, split, en, zh in ((axes[0][0], "train", "training error (%, eval mode)", "训练集错误率（%，eval 模式）"),
                              (axes[0][1], "test", "held-out error (%)", "留出集错误率（%）")):
        for (kind, depth), curves in runs.items():
            style = "--" if kind == "plain" else "-"
            _band(ax, curves[split], colors[depth], style, f"{kind}{depth}")
        ax.set_yscale("symlog", linthresh=1.0)  # linear below 1% so runs that reach 0% stay visible
        ax.set_ylim(0, 100)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(ctx.chart_text("epoch", "轮（epoch）"))
        ax.set_ylabel(ctx.chart_text(en, zh))
        handles, _ = ax.get_legend_handles_labels()
        band = Patch(color="grey", alpha=0.3, label=ctx.chart_text("95% interval over seeds", "多个种子的 95% 区间"))
        ax.legend(handles=handles + [band], fontsize=7, handlelength=3.5, ncol=3, loc="upper center",
                  bbox_to_anchor=(0.5, -0.16))  # below the axes: over no data
    ctx.save_figure(fig, "residual_vs_plain", ctx.tr("error per epoch: plain (dashed) vs residual (solid), "
                                                     "one colour per depth",
                                                     "每轮错误率：普通网络（虚线）与残差网络（实线），每个深度一种颜色"))


def _claims(ctx, runs):
    """Degradation of the plain net and its absence in the residual net, paired by seed; returns the estimates."""
    shallow, deep = min(ctx.params["depths"]), max(ctx.params["depths"])
    final = {key: [c[-1] for c in curves["train"]] for key, curves in runs.items()}
    plain = paired_difference(final[("plain", deep)], final[("plain", shallow)])
    residual = paired_difference(final[("resnet", deep)], final[("resnet", shallow)])
    ctx.compare((f"Degradation: the plain net of {deep} layers ends with a higher training error than the plain net "
                 f"of {shallow} layers", f"退化：{deep} 层普通网络最终的训练错误率高于 {shallow} 层普通网络"),
                plain, "greater", unit=" points",
                evidence=f"train error of plain{deep} minus plain{shallow} after the last epoch, paired by seed")
    ctx.compare((f"Residual connections remove it: resnet{deep}'s training error exceeds resnet{shallow}'s by less "
                 f"than {RESIDUAL_MARGIN:g} point", f"残差连接消除退化：resnet{deep} 的训练错误率比 resnet{shallow} "
                 f"高不到 {RESIDUAL_MARGIN:g} 个点"), residual, "less", margin=RESIDUAL_MARGIN, unit=" points",
                evidence=f"train error of resnet{deep} minus resnet{shallow}, paired by seed; margin "
                         f"{RESIDUAL_MARGIN:g} point = ~{RESIDUAL_MARGIN / 100 * ctx.data_info.train_size:.0f} of "
                         f"{ctx.data_info.train_size} training images, small against the degradation being tested")
    return plain, residual, deep, shallow


def run(ctx):
    prm = ctx.params
    bad = [d for d in prm["depths"] if d < 8 or (d - 2) % 6]
    if bad or len(prm["depths"]) < 2 or len(prm["widths"]) != 3:
        raise ConfigError(f"params.depths must hold >= 2 depths of the form 6n+2 (8, 14, 20, 32, 56, ...), got "
                          f"{prm['depths']}; params.widths must be 3 stage widths, got {prm['widths']}")
    runs = _measure(ctx)
    ctx.table("depth", _rows(runs), ["network", "train error %", "test error %", "train error % after epoch 1"],
              title=ctx.tr(f"{ctx.data_info.name}, CIFAR-style ResNets with widths {prm['widths']}, {prm['epochs']} epochs, batch "
                           f"{prm['batch_size']}, cosine lr {prm['lr']} after {prm['warmup_epochs']:g} warm-up epoch, "
                           f"BN everywhere; error (%) in eval mode, mean ± 95% interval over {prm['seeds']} seeds",
                           f"{ctx.data_info.name}，宽度 {prm['widths']} 的 CIFAR 式 ResNet，{prm['epochs']} 轮，batch {prm['batch_size']}，"
                           f"cosine 学习率 {prm['lr']}（先 warm-up {prm['warmup_epochs']:g} 轮），处处有 BN；"
                           f"错误率（%）在 eval 模式下测，{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, runs)
    plain, residual, deep, shallow = _claims(ctx, runs)
    return ctx.tr(f"From {shallow} to {deep} layers the final training error changes by {plain.format(2)} points for "
                  f"plain nets and by {residual.format(2)} points for residual nets (paired by seed).",
                  f"从 {shallow} 层加深到 {deep} 层，普通网络最终训练错误率变化 {plain.format(2)} 个点，"
                  f"残差网络变化 {residual.format(2)} 个点（按种子配对）。")
