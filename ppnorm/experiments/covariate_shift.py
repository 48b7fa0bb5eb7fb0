"""Internal covariate shift: the variance product n·D(x)·D(w) at init, and how far a deep layer's input moves in training."""
import numpy as np
import paddle

from ..models import build_model
from .bands import plot_band
from .input_scaling import zscore
from .stats import mean_interval
from .training import EveryNSteps, fit, optimizer_section

QUESTION = ("Is a layer's output variance n·D(x)·D(w) at initialization, layer by layer, and does BN reduce how "
            "much a deep layer's input distribution moves during training (Santurkar et al. 2018 say it does not)?")
QUESTION_ZH = ("初始化时各层输出的方差是否等于 n·D(x)·D(w)？BN 是否减小训练中深层输入分布的移动"
               "（Santurkar 等 2018 的测量说不减小）？")
DEFAULTS = {"init_width": 256, "init_depth": 6, "depth": 6, "width": 64, "probe": 512, "steps": 400, "every": 10,
            "batch": 64, "lr": 0.05, "tolerance": 0.1, "seeds": 5}
DATA = True  # any image data set (ctx.data)
QUICK = {"init_width": 32, "init_depth": 3, "depth": 3, "width": 16, "probe": 64, "steps": 20, "every": 5, "seeds": 2}


def features(ctx):
    """The train split, each pixel z-scored (zero mean per feature), as ``[N, C*H*W]`` float32."""
    images = ctx.data("train", normalize=False)[0].numpy()
    images = images.reshape(len(images), -1).astype("float64")
    return zscore(images, images)[0].astype("float32")


@paddle.no_grad()
def variance_rows(model, x):
    """Per hidden layer: fan-in n, D(x), E[x²] of its input, D(w) of its weights, and the measured D(y) of its
    output (variances pooled over samples and units)."""
    rows = []
    for index, block in enumerate(model.layers):
        weight = block.linear.weight.numpy()
        y = block.linear(x)
        xs, ys = x.numpy().astype("float64"), y.numpy().astype("float64")
        rows.append({"layer": index + 1, "n": weight.shape[0], "D(x)": xs.var(), "E[x^2]": (xs ** 2).mean(),
                     "D(w)": weight.var(), "D(y)": ys.var()})
        x = block(x)
    return rows


def _bn_buffers(model):
    return [p for name, p in model.named_buffers() if name.endswith("_mean") or name.endswith("_variance")]


@paddle.no_grad()
def layer_inputs(model, images, indices):
    """The inputs of ``model.layers[i].linear`` for ``i`` in ``indices`` on ``images``, in train mode (BN uses
    the batch's statistics); BN running statistics are left as they were."""
    saved = [b.numpy().copy() for b in _bn_buffers(model)]
    captured, x = {}, paddle.flatten(images, start_axis=1)
    for index, block in enumerate(model.layers):
        if index in indices:
            captured[index] = x.numpy().astype("float64")
        x = block(x)
    for buffer, value in zip(_bn_buffers(model), saved):
        buffer.set_value(value)
    return [captured[i] for i in indices]


def distribution_shift(before, after):
    """How far a layer's input distribution moved: per unit, the mean and std over the samples; the root-mean-square
    over units of the change (Δmean, Δstd), divided by the rms std before (0: unchanged)."""
    change = (after.mean(0) - before.mean(0)) ** 2 + (after.std(0) - before.std(0)) ** 2
    return float(np.sqrt(change.mean() / (before.std(0) ** 2).mean()))


def init_run(ctx, seed):
    prm = ctx.params
    ctx.seed_everything(seed)
    info = ctx.data_info
    model = build_model("mlp", in_features=info.features, hidden=[prm["init_width"]] * prm["init_depth"],
                        num_classes=info.num_classes, norm="none", act="relu", init="kaiming")
    rows = variance_rows(model, paddle.to_tensor(features(ctx)))
    for row in rows:
        row.update(seed=seed, product=row["n"] * row["D(x)"] * row["D(w)"], corrected=row["n"] * row["E[x^2]"] * row["D(w)"])
    return rows


def shift_run(ctx, norm, seed):
    """Train a deep ReLU MLP; every ``every`` steps, the shift of layer 2's and the last hidden layer's input."""
    prm = ctx.params
    ctx.seed_everything(seed)
    info, train = ctx.data_info, ctx.data("train")
    model = build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"],
                        num_classes=info.num_classes, norm=norm, act="relu", init="kaiming")
    probe, layers = train[0][:prm["probe"]], [1, prm["depth"] - 1]
    previous, steps, shifts = [layer_inputs(model, probe, layers)], [], []

    def record(loop):
        current = layer_inputs(loop.model, probe, layers)
        shifts.append([distribution_shift(a, b) for a, b in zip(previous[0], current)])
        steps.append(loop.states["global_step"])
        previous[0] = current
    epochs = max(1, round(prm["steps"] * prm["batch"] / len(train[1])))
    history = fit(model, train, ctx.data("test"), epochs, prm["batch"], seed=seed, hooks=[EveryNSteps(prm["every"], record)],
                  optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    early, deep = np.array(shifts).mean(axis=0)
    return {"norm": norm, "seed": seed, "early shift": early, "deep shift": deep,
            "final accuracy": history.test_accuracy[-1]}, steps, [s[1] for s in shifts]


def _ratio_error(rows, key):
    """The largest |mean over seeds of D(y) / predicted - 1| over the layers in ``rows``."""
    layers = sorted({r["layer"] for r in rows})
    return max(abs(np.mean([r["D(y)"] / r[key] for r in rows if r["layer"] == layer]) - 1) for layer in layers)


def _log_ratio(ctx, key_a, norm_a, key_b, norm_b):
    a = {r["seed"]: r[key_a] for r in ctx.runs if r.get("norm") == norm_a}
    b = {r["seed"]: r[key_b] for r in ctx.runs if r.get("norm") == norm_b}
    return mean_interval([np.log10(a[s] / b[s]) for s in sorted(a)])


def _claims(ctx, init_rows):
    tol = ctx.params["tolerance"]
    first, relu = [r for r in init_rows if r["layer"] == 1], [r for r in init_rows if r["layer"] > 1]
    ctx.check(("With zero-mean inputs (layer 1), a layer's output variance is n·D(x)·D(w)",
               "输入均值为零时（第 1 层），一层输出的方差等于 n·D(x)·D(w)"), _ratio_error(first, "product"), tol,
              f"|mean over seeds of D(y) / (n·D(x)·D(w)) - 1|, {ctx.data_info.name} z-scored per pixel")
    ctx.check(("Behind a ReLU (layers 2+, inputs with E[x] > 0), a layer's output variance is n·D(x)·D(w)",
               "在 ReLU 之后（第 2 层起，输入 E[x] > 0），一层输出的方差等于 n·D(x)·D(w)"), _ratio_error(relu, "product"), tol,
              "largest |mean over seeds of D(y) / (n·D(x)·D(w)) - 1| over layers; for ReLU of a zero-mean Gaussian E[x²]/D(x) = 1/(1 - 1/π) = 1.47")
    ctx.check(("Every layer's output variance is n·E[x²]·D(w) (the product with E[x]² added to D(x))",
               "每层输出的方差等于 n·E[x²]·D(w)（即 D(x) 加上 E[x]² 后的乘积）"), _ratio_error(init_rows, "corrected"), tol,
              "largest |mean over seeds of D(y) / (n·E[x²]·D(w)) - 1| over every layer")
    depth = ctx.params["depth"]
    ctx.compare((f"Without BN, the input of layer {depth} moves more during training than the input of layer 2 "
                 f"(small early changes are amplified)",
                 f"无 BN 时，训练中第 {depth} 层输入分布的移动大于第 2 层（前层的小变化在后层被放大）"),
                _log_ratio(ctx, "deep shift", "none", "early shift", "none"), "greater", digits=3,
                evidence=f"log10(shift of layer {depth}'s input / layer 2's), per seed")
    ctx.compare((f"BN reduces how much layer {depth}'s input distribution moves during training (Santurkar et al.: "
                 f"it does not)", f"BN 减小训练中第 {depth} 层输入分布的移动（Santurkar 等：不减小）"),
                _log_ratio(ctx, "deep shift", "bn", "deep shift", "none"), "less", digits=3,
                evidence="log10(shift with BN / without), paired by seed")


def _tables(ctx, init_rows):
    rows = []
    for layer in sorted({r["layer"] for r in init_rows}):
        sel = [r for r in init_rows if r["layer"] == layer]
        rows.append({"layer": layer, "n": sel[0]["n"], "D(y) measured": f"{np.mean([r['D(y)'] for r in sel]):.3f}",
                     "n·D(x)·D(w)": f"{np.mean([r['product'] for r in sel]):.3f}",
                     "D(y) / n·D(x)·D(w)": mean_interval([r["D(y)"] / r["product"] for r in sel]).format(3),
                     "D(y) / n·E[x²]·D(w)": mean_interval([r["D(y)"] / r["corrected"] for r in sel]).format(3)})
    ctx.table("variance", rows, title=ctx.tr(
        f"Output variance at init vs the product, ReLU MLP {ctx.params['init_depth']} x {ctx.params['init_width']} "
        f"(Kaiming), mean ± 95% interval over {ctx.params['seeds']} seeds",
        f"初始化时各层输出方差与乘积公式，ReLU MLP {ctx.params['init_depth']} x {ctx.params['init_width']}（Kaiming），"
        f"{ctx.params['seeds']} 个种子的均值 ± 95% 区间"))
    shift = [{"norm": norm, "layer 2 input shift": mean_interval(ctx.run_values("early shift", norm=norm)).format(4),
              "deep layer input shift": mean_interval(ctx.run_values("deep shift", norm=norm)).format(4),
              "final top1 %": mean_interval(ctx.run_values("final accuracy", norm=norm)).scaled(100).format(1)}
             for norm in ("none", "bn")]
    ctx.table("shift", shift, title=ctx.tr(
        f"Shift of a layer's input distribution per {ctx.params['every']} steps (relative to its std), mean over "
        f"training ± 95% interval over seeds", f"每 {ctx.params['every']} 步一层输入分布的移动（相对其标准差），"
        f"训练过程的平均，种子间 95% 区间"))


def _chart(ctx, init_rows, curves):
    fig, axes = ctx.figure(2, width=5.0)
    ax, layers = axes[0][0], sorted({r["layer"] for r in init_rows})
    seeds = sorted({r["seed"] for r in init_rows})
    for key, color, en, zh in (("product", "tab:red", "D(y) / n·D(x)·D(w)", "D(y) / n·D(x)·D(w)"),
                               ("corrected", "tab:blue", "D(y) / n·E[x²]·D(w)", "D(y) / n·E[x²]·D(w)")):
        runs = [[next(r["D(y)"] / r[key] for r in init_rows if (r["seed"], r["layer"]) == (s, l)) for l in layers]
                for s in seeds]
        plot_band(ax, layers, runs, color, en, ctx.chart_text(f"{en}: 95% interval", f"{zh}：95% 区间"), marker="o-")
    ax.axhline(1.0, color="black", linestyle="--", label=ctx.chart_text("formula exact", "公式准确"))
    ax.axhline(1 / (1 - 1 / np.pi), color="grey", linestyle=":", label=ctx.chart_text("1/(1 - 1/π) (ReLU)", "1/(1 - 1/π)（ReLU）"))
    ax.set_title(ctx.chart_text("variance at init, layer by layer", "初始化时逐层的方差"))
    ax.set_xlabel(ctx.chart_text("layer", "层"))
    ax.set_ylabel(ctx.chart_text("measured / predicted variance (ratio)", "实测 / 公式方差（比值）"))
    ax.set_ylim(0.85, 1.95)
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    ax = axes[0][1]
    for norm, color in (("none", "tab:red"), ("bn", "tab:blue")):
        steps, runs = curves[norm][0][0], [values for _, values in curves[norm]]
        plot_band(ax, steps, runs, color, f"norm={norm}", ctx.chart_text(f"{norm}: 95% interval", f"{norm}：95% 区间"))
    ax.set_yscale("log")
    ax.set_title(ctx.chart_text(f"input of layer {ctx.params['depth']} during training",
                                f"训练中第 {ctx.params['depth']} 层的输入"))
    ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
    ax.set_ylabel(ctx.chart_text(f"shift per {ctx.params['every']} steps (relative to std)",
                                 f"每 {ctx.params['every']} 步的移动（相对标准差）"))
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "covariate_shift", ctx.tr("variance product at init; input shift during training",
                                                   "初始化时的方差乘积；训练中输入分布的移动"))


def run(ctx):
    prm = ctx.params
    ctx.plan(3 * prm["seeds"])
    init_rows, curves = [], {}
    for seed in ctx.seeds(prm["seeds"]):
        rows = init_run(ctx, seed)
        init_rows += rows
        ctx.run_done(f"init seed={seed}", "D(y) / n·D(x)·D(w) per layer " + " ".join(
            f"{r['D(y)'] / r['product']:.3f}" for r in rows))
    for norm in ("none", "bn"):
        for seed in ctx.seeds(prm["seeds"]):
            row, steps, deep = shift_run(ctx, norm, seed)
            curves.setdefault(norm, []).append((steps, deep))
            ctx.curve(f"{norm}/seed_{seed}/deep_input_shift", steps, deep)
            ctx.run_done(f"train {norm} seed={seed}", f"mean shift of layer 2 input {row['early shift']:.4f}, of "
                         f"layer {prm['depth']} input {row['deep shift']:.4f}", **row)
    _tables(ctx, init_rows)
    _chart(ctx, init_rows, curves)
    _claims(ctx, init_rows)
    none, bn = (np.mean(ctx.run_values("deep shift", norm=n)) for n in ("none", "bn"))
    return ctx.tr(f"Layer {prm['depth']}'s input moves {none:.4f} per {prm['every']} steps without BN, {bn:.4f} with BN.",
                  f"第 {prm['depth']} 层的输入每 {prm['every']} 步移动：无 BN {none:.4f}，有 BN {bn:.4f}。")
