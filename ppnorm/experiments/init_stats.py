"""CS231n's weight-initialization experiment: activation statistics through a deep tanh / ReLU MLP, with and without BN."""
import numpy as np
import paddle

from ..models import build_model
from .stats import mean_interval

QUESTION = ("How do the per-layer activation statistics of a deep MLP depend on the initialization "
            "(std 0.01, 0.05, Xavier, Kaiming) and the activation, and what does BatchNorm change?")
QUESTION_ZH = "深层 MLP 每层激活的统计量如何随初始化（std 0.01、0.05、Xavier、Kaiming）和激活函数变化？BatchNorm 改变了什么？"
DEFAULTS = {"layers": 10, "width": 500, "samples": 1000, "seeds": 5,
            "cases": [["tanh", "normal", 0.01], ["tanh", "normal", 0.05], ["tanh", "normal", 1.0], ["tanh", "xavier", 0.0],
                      ["relu", "xavier", 0.0], ["relu", "kaiming", 0.0]]}
QUICK = {"layers": 4, "width": 64, "samples": 128, "seeds": 2}
SATURATED = 0.9  # |tanh output| beyond this counts as saturated (derivative 1 - 0.9^2 = 0.19)
DATA = "it feeds Gaussian noise through untrained MLPs (CS231n's set-up), not a data set"


def _label(act, init, std, norm):
    return f"{act} {init}{f' {std}' if init == 'normal' else ''}{' + BN' if norm == 'bn' else ''}"


def _layer_stats(ctx, act, init, std, norm, seed):
    """Per layer: the std of its activations and the % of them beyond ±0.9 (train mode, one batch)."""
    prm = ctx.params
    paddle.seed(seed)
    model = build_model("mlp", in_features=prm["width"], hidden=[prm["width"]] * prm["layers"], act=act,
                        norm=norm, init=init, init_std=std or 0.01)
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((prm["samples"], prm["width"]))
                         .astype("float32"))
    stds, saturated = [], []
    with paddle.no_grad():  # train mode: BN normalizes with the batch's own statistics, as at the start of training
        for i, layer in enumerate(model.layers, start=1):
            x = layer(x)
            out = x.numpy()
            stds.append(float(out.std()))
            saturated.append(100.0 * float(np.mean(np.abs(out) > SATURATED)))
            if seed == ctx.seed:
                ctx.histogram(f"{_label(act, init, std, norm).replace(' ', '_')}/layer{i}", out, 0)
    return np.array(stds), np.array(saturated)


def _measure(ctx):
    """``{label: {"std": [seeds, layers], "saturated": [seeds, layers]}}`` over every case, norm and seed."""
    prm = ctx.params
    cases = [(act, init, std, norm) for act, init, std in prm["cases"] for norm in ("none", "bn")]
    ctx.plan(len(cases) * prm["seeds"])
    measured = {}
    for act, init, std, norm in cases:
        label = _label(act, init, std, norm)
        runs = [_layer_stats(ctx, act, init, std, norm, seed) for seed in ctx.seeds(prm["seeds"])]
        measured[label] = {"std": np.array([r[0] for r in runs]), "saturated": np.array([r[1] for r in runs])}
        for seed, (stds, saturated) in zip(ctx.seeds(prm["seeds"]), runs):
            ctx.run_done(f"{label} seed={seed}", f"last-layer std {stds[-1]:.3g}", case=label, seed=seed,
                         first_std=stds[0], last_std=stds[-1], last_saturated_pct=saturated[-1])
    return measured


def _log2_ratio(values):
    """Per seed: log2 of the last layer's std over the first layer's (0 = kept, -1 = halved)."""
    return np.log2(values["std"][:, -1] / values["std"][:, 0])


def _sig(estimate):
    """``mean ± half-width`` with 3 significant digits (stds span 1e-7 to 1)."""
    return f"{estimate.mean:.3g} ± {estimate.half_width:.2g}"


def _rows(ctx, measured):
    layers = ctx.params["layers"]
    rows = []
    for label, values in measured.items():
        per_layer = [mean_interval(values["std"][:, i]) for i in range(layers)]
        ratio = mean_interval(_log2_ratio(values))
        saturated = mean_interval(values["saturated"][:, -1])
        row = {"case": label, "first layer std": _sig(per_layer[0]),
               "middle layer std": _sig(per_layer[layers // 2 - 1]),
               "last layer std": _sig(per_layer[-1]), "log2(last/first std)": ratio.format(2),
               "saturated % (last layer)": saturated.format(1) if label.startswith("tanh") else "-"}
        row.update({f"L{i + 1} std": e.mean for i, e in enumerate(per_layer)})
        row.update({f"L{i + 1} std half-width": e.half_width for i, e in enumerate(per_layer)})
        rows.append(row)
    return rows


def _panel(ctx, ax, measured, labels, key, colors):
    """One panel: the per-layer mean of ``key`` for ``labels`` with a shaded 95% interval band."""
    layers = np.arange(1, ctx.params["layers"] + 1)
    for label in labels:
        values = measured[label][key]
        estimates = [mean_interval(values[:, i]) for i in range(values.shape[1])]
        mean = np.array([e.mean for e in estimates])
        half = np.nan_to_num([e.half_width for e in estimates])
        low = np.maximum(mean - half, mean * 0.5) if key == "std" else mean - half  # a log axis needs > 0
        ax.plot(layers, mean, "o-", ms=3, color=colors[label.replace(" + BN", "")])
        ax.fill_between(layers, low, mean + half, color=colors[label.replace(" + BN", "")], alpha=0.25, lw=0)
    ax.set_xticks(layers)


def _chart(ctx, measured):
    """Top: each layer's activation std (log scale); bottom: % of tanh activations saturated; left without BN,
    right with BN. One colour per initialization in all four panels, one legend."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    plain = [label for label in measured if "BN" not in label]
    colors = {label: f"C{i}" for i, label in enumerate(plain)}
    fig, axes = ctx.figure(2, 2, width=5.0, height=3.6)
    for col, suffix in enumerate(("", " + BN")):
        _panel(ctx, axes[0][col], measured, [label + suffix for label in plain], "std", colors)
        _panel(ctx, axes[1][col], measured, [label + suffix for label in plain if label.startswith("tanh")],
               "saturated", colors)
        axes[0][col].set_yscale("log")
        axes[0][col].set_title(ctx.chart_text("with BatchNorm (the cases overlap)" if suffix else "without BatchNorm",
                                              "有 BatchNorm（各情形的曲线重合）" if suffix else "无 BatchNorm"))
        axes[0][col].set_ylabel(ctx.chart_text("activation std (log scale)", "激活的标准差（对数刻度）"))
        axes[1][col].set_ylabel(ctx.chart_text("tanh outputs beyond ±0.9 (%)", "tanh 输出超出 ±0.9 的比例（%）"))
        axes[1][col].set_ylim(-3, 103)
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xlabel(ctx.chart_text("hidden layer", "隐藏层"))
    for row in (0, 1):
        axes[row][1].sharey(axes[row][0])
    handles = [Line2D([], [], color=colors[label], marker="o", ms=3, label=label) for label in plain]
    handles.append(Patch(color="grey", alpha=0.25, label=ctx.chart_text(
        f"95% interval over {ctx.params['seeds']} seeds", f"{ctx.params['seeds']} 个种子的 95% 区间")))
    axes[0][1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), fontsize=9)
    ctx.save_figure(fig, "init_stats", ctx.tr("activation std and tanh saturation per layer, without and with BN",
                                              "每层激活的标准差与 tanh 饱和比例，无 BN 与有 BN"))


def _scale_claims(ctx, measured, layers):
    """Claims on log2(last/first std) per seed: 'keeps its scale' = within a factor 2 over the depth (|log2| < 1)."""
    def ratio(label):
        return mean_interval(_log2_ratio(measured[label]))

    evidence = (f"per seed, log2 of the layer-{layers} std over the layer-1 std; 'keeps the scale' means within a "
                f"factor 2 over {layers - 1} layers (±1), 'shrinks' means below half (< -1)")
    specs = [("tanh xavier", "within", 1, "Xavier keeps tanh's scale", "Xavier 保持 tanh 的尺度"),
             ("relu xavier", "less", -1, "ReLU with Xavier shrinks the activations", "ReLU 配 Xavier 时激活逐层变小"),
             ("relu kaiming", "within", 1, "Kaiming keeps ReLU's scale", "Kaiming 保持 ReLU 的尺度")]
    for label, side, margin, en, zh in specs:
        if label in measured:
            ctx.compare((f"{en} (layer {layers} vs layer 1 std)", f"{zh}（第 {layers} 层与第 1 层的 std 相比）"),
                        ratio(label), side, margin, unit=" log2", evidence=evidence)
    with_bn = [label for label in measured if label.endswith("+ BN")]
    worst = np.max([np.abs(_log2_ratio(measured[label])) for label in with_bn], axis=0)  # per seed
    ctx.compare((f"With BN inserted, every initialization keeps the activations' scale (largest |log2(layer {layers} "
                 f"/ layer 1 std)| over the {len(with_bn)} cases below 1)",
                 f"插入 BN 后，每种初始化都保持激活的尺度（{len(with_bn)} 种情形中 |log2(第 {layers} 层 / 第 1 层 std)| "
                 f"的最大值小于 1）"), mean_interval(worst), "less", 1, unit=" log2", evidence=evidence)


def _claims(ctx, measured):
    """Collapse and saturation of tanh (CS231n's pictures), then the scale claims."""
    layers = ctx.params["layers"]
    if "tanh normal 0.01" in measured:
        ctx.compare((f"tanh with std 0.01 collapses activations to 0 (layer {layers} std below 1/1000 of layer 1's)",
                     f"std 0.01 的 tanh 网络激活塌缩到 0（第 {layers} 层 std 不到第 1 层的 1/1000）"),
                    mean_interval(_log2_ratio(measured["tanh normal 0.01"])), "less", -10, unit=" log2",
                    evidence="per seed, log2(layer-last std / layer-1 std); 1/1000 is about 2^-10")
    for std_value in ("0.05", "1.0"):
        label = f"tanh normal {std_value}"
        if label in measured:
            ctx.compare((f"tanh with std {std_value} saturates at ±1 (most layer-{layers} outputs beyond ±0.9, "
                         f"width {ctx.params['width']})",
                         f"std {std_value} 的 tanh 网络饱和在 ±1（第 {layers} 层大多数输出超出 ±0.9，宽 {ctx.params['width']}）"),
                        mean_interval(measured[label]["saturated"][:, -1]), "greater", 50, unit=" %", digits=1,
                        evidence="per seed, % of the last layer's outputs with |a| > 0.9 (tanh' < 0.19 there); "
                                 "'most' means more than 50%")
    _scale_claims(ctx, measured, layers)


def run(ctx):
    prm = ctx.params
    measured = _measure(ctx)
    rows = _rows(ctx, measured)
    ctx.table("activations", rows, ["case", "first layer std", "middle layer std", "last layer std",
                                    "log2(last/first std)", "saturated % (last layer)"], title=ctx.tr(
        f"Activation std of layers 1, {prm['layers'] // 2} and {prm['layers']} of a {prm['layers']}-layer MLP of "
        f"width {prm['width']} ({prm['samples']} standard-normal inputs), mean ± 95% interval over "
        f"{prm['seeds']} seeds",
        f"{prm['layers']} 层、宽 {prm['width']} 的 MLP 第 1、{prm['layers'] // 2}、{prm['layers']} 层激活的标准差"
        f"（{prm['samples']} 个标准正态输入），{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, measured)
    _claims(ctx, measured)
    last = {label: values["std"][:, -1].mean() for label, values in measured.items()}
    without_bn = [v for k, v in last.items() if "BN" not in k]
    with_bn = [v for k, v in last.items() if "BN" in k]
    return ctx.tr(f"Without BN the last layer's std ranges from {min(without_bn):.2g} to {max(without_bn):.2g} "
                  f"depending on the initialization; with BN it stays between {min(with_bn):.2f} and "
                  f"{max(with_bn):.2f} for every case.",
                  f"无 BN 时最后一层的 std 随初始化从 {min(without_bn):.2g} 到 {max(without_bn):.2g} 不等；"
                  f"有 BN 时每种情形都在 {min(with_bn):.2f} 与 {max(with_bn):.2f} 之间。")
