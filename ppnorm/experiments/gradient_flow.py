"""Vanishing gradients: per-layer gradient norms of deep sigmoid / tanh / ReLU networks, with and without BN."""
import numpy as np
import paddle

from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import EveryNSteps, fit, optimizer_section

QUESTION = ("Do gradients shrink layer by layer in deep sigmoid networks (the sigmoid's derivative is at most 1/4) "
            "while ReLU passes them whole, at initialization and during training, and what does BN change?")
QUESTION_ZH = ("深层 sigmoid 网络的梯度是否逐层衰减（sigmoid 的导数至多 1/4），而 ReLU 能完整传回？"
               "初始化时和训练中各如何？BN 改变了什么？")
DEFAULTS = {"acts": ["sigmoid", "tanh", "relu"], "norms": ["none", "bn"], "depth": 10, "width": 64,
            "cnn_convs": 8, "cnn_width": 16, "batch": 256, "steps": 300, "record_every": 50, "lr": 0.02, "seeds": 5}
QUICK = {"acts": ["sigmoid", "relu"], "depth": 4, "cnn_convs": 3, "steps": 10, "record_every": 5, "seeds": 2,
         "width": 16, "cnn_width": 4, "batch": 64}
DATA = True  # any image data set (ctx.data)
INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "kaiming"}  # each activation with its usual init


def weight_layers(model):
    """The weighted layers from input to output (the fc classifier excluded)."""
    if hasattr(model, "layers"):  # mlp
        return [block.linear for block in model.layers]
    return [block.conv for block in model.features]


def gradient_norms(model, images, labels):
    """Frobenius norm of each weight layer's gradient for one batch (input layer first)."""
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    model.clear_gradients()
    loss.backward()
    norms = [float(paddle.linalg.norm(layer.weight.grad)) for layer in weight_layers(model)]
    model.clear_gradients()
    return norms


def decay_per_layer(norms):
    """log10 of the geometric-mean factor by which the gradient norm changes per layer, output -> input
    (negative: gradients shrink on their way to the input)."""
    return float(np.log10(norms[0] / norms[-1]) / (len(norms) - 1))


def build(ctx, kind, act, norm):
    prm, info = ctx.params, ctx.data_info
    if kind == "mlp":
        return build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"],
                           num_classes=info.num_classes, norm=norm, act=act, init=INIT[act])
    return build_model("simple_cnn", widths=[prm["cnn_width"]], convs_per_stage=prm["cnn_convs"],
                       **info.model_options, norm=norm, act=act, init=INIT[act])


def max_sigmoid_derivative(model, images):
    """The largest sigmoid'(z) = s(1 - s) over every unit of every layer for ``images``."""
    largest, out = 0.0, paddle.flatten(images, start_axis=1)
    for block in model.layers:
        out = block.norm(block.linear(out))
        s = paddle.nn.functional.sigmoid(out)
        largest = max(largest, float((s * (1 - s)).max()))
        out = s
    return largest


def one_run(ctx, kind, act, norm, seed):
    """Decay per layer at initialization (and, for the MLP, every ``record_every`` steps of training)."""
    prm = ctx.params
    ctx.seed_everything(seed)
    model = build(ctx, kind, act, norm)
    images, labels = ctx.data("train")
    batch = (images[:prm["batch"]], labels[:prm["batch"]])
    curve = [(0, decay_per_layer(gradient_norms(model, *batch)))]
    if kind == "mlp":
        record = EveryNSteps(prm["record_every"], lambda loop: curve.append(
            (loop.states["global_step"], decay_per_layer(gradient_norms(loop.model, *batch)))))
        epochs = max(1, round(prm["steps"] * 64 / len(labels)))
        fit(model, (images, labels), ctx.data("test"), epochs, 64, seed=seed, hooks=[record],
            optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    row = {"model": kind, "act": act, "norm": norm, "seed": seed, "init decay": curve[0][1], "end decay": curve[-1][1]}
    if kind == "mlp" and act == "sigmoid":
        ctx.seed_everything(seed)
        row["max sigmoid'"] = max_sigmoid_derivative(build(ctx, kind, act, norm), batch[0])
    ctx.curve(f"{kind}_{act}_{norm}/seed_{seed}/log10_decay_per_layer", *zip(*curve))
    return row, curve


def _runs(ctx):
    prm = ctx.params
    combos = [(kind, act, norm) for kind in ("mlp", "cnn") for act in prm["acts"] for norm in prm["norms"]]
    ctx.plan(len(combos) * prm["seeds"])
    curves = {}
    for kind, act, norm in combos:
        for seed in ctx.seeds(prm["seeds"]):
            row, curve = one_run(ctx, kind, act, norm, seed)
            curves.setdefault((kind, act, norm), []).append(curve)
            ctx.run_done(f"{kind} {act} {norm} seed={seed}", f"log10 decay per layer {row['init decay']:+.3f} at "
                         f"init, {row['end decay']:+.3f} at the end", **row)
    return curves


def _values(ctx, kind, act, norm, key):
    """The finite values of ``key`` (a run whose training diverged has a NaN gradient; it is counted apart)."""
    values = ctx.run_values(key, model=kind, act=act, norm=norm)
    return [v for v in values if np.isfinite(v)]


def _diverged(ctx):
    """Runs whose training produced non-finite gradients, named in a note."""
    bad = [f"{r['model']} {r['act']} {r['norm']} seed {r['seed']}" for r in ctx.runs if not np.isfinite(r["end decay"])]
    if bad:
        ctx.note(ctx.tr(f"Training diverged (non-finite gradients) in {len(bad)} run(s), left out of the "
                        f"after-training column: {', '.join(bad)}.",
                        f"{len(bad)} 次训练发散（梯度非有限），不计入训练后的列：{'，'.join(bad)}。"))


def _table(ctx):
    rows = []
    for kind in ("mlp", "cnn"):
        for act in ctx.params["acts"]:
            for norm in ctx.params["norms"]:
                init = mean_interval(_values(ctx, kind, act, norm, "init decay"))
                row = {"model": kind, "act": act, "norm": norm, "log10 decay at init": init.format(3),
                       "factor at init": f"{10 ** init.mean:.3f}", "init mean": init.mean,
                       "init half-width": init.half_width}
                finite = _values(ctx, kind, act, norm, "end decay")
                if kind == "mlp" and finite:
                    end = mean_interval(finite)
                    row.update({"log10 decay after training": end.format(3), "factor after training":
                                f"{10 ** end.mean:.3f}", "end mean": end.mean, "end half-width": end.half_width})
                elif kind == "mlp":
                    row["log10 decay after training"] = ctx.tr("diverged", "发散")
                rows.append(row)
    return rows


def _claims(ctx):
    prm, depth = ctx.params, ctx.params["depth"]
    if "sigmoid" in prm["acts"]:
        largest = max(r["max sigmoid'"] for r in ctx.runs if "max sigmoid'" in r)
        ctx.check(("The sigmoid's derivative is at most 1/4", "sigmoid 的导数至多为 1/4"), max(0.0, largest - 0.25), 0.0,
                  f"largest s(1 - s) over every unit and layer: {largest:.4f}")
        none = _values(ctx, "mlp", "sigmoid", "none", "init decay")
        ctx.compare((f"In a {depth}-layer sigmoid MLP without BN, gradients shrink layer by layer at initialization",
                     f"{depth} 层无 BN 的 sigmoid MLP 在初始化时梯度逐层衰减"), mean_interval(none), "less", digits=3,
                    evidence="log10 of the per-layer factor of the weight-gradient norm, output to input (Xavier init)")
        ctx.compare((f"In a {depth}-layer sigmoid MLP without BN, the gradient shrinks by at least the factor 1/4 per "
                     f"layer that the derivative bound suggests",
                     f"{depth} 层无 BN 的 sigmoid MLP 每层梯度至少衰减为 1/4（导数上界所提示的倍数）"), mean_interval(none), "less",
                    margin=float(np.log10(0.25)), digits=3, evidence="log10 factor vs log10(1/4) = -0.602")
        ctx.compare(("The sigmoid MLP's gradients still shrink layer by layer after training",
                     "训练之后 sigmoid MLP 的梯度仍逐层衰减"),
                    mean_interval(_values(ctx, "mlp", "sigmoid", "none", "end decay")), "less", digits=3)
        ctx.compare(("The sigmoid CNN's gradients shrink layer by layer at initialization",
                     "sigmoid CNN 在初始化时梯度逐层衰减"),
                    mean_interval(_values(ctx, "cnn", "sigmoid", "none", "init decay")), "less", digits=3)
        if "bn" in prm["norms"]:
            ctx.compare(("BN reduces the sigmoid MLP's per-layer gradient decay",
                         "BN 减小 sigmoid MLP 每层的梯度衰减"),
                        paired_difference(_values(ctx, "mlp", "sigmoid", "bn", "init decay"), none), "greater",
                        digits=3, evidence="log10 decay with BN minus without, paired by seed")
    if "relu" in prm["acts"]:
        ctx.compare(("ReLU (Kaiming init, no BN) passes gradients whole: per-layer factor within 10^±0.05",
                     "ReLU（Kaiming 初始化、无 BN）完整传回梯度：每层倍数在 10^±0.05 之内"),
                    mean_interval(_values(ctx, "mlp", "relu", "none", "init decay")), "within", margin=0.05, digits=3)


def _chart(ctx, curves):
    fig, axes = ctx.figure(2, width=5.2)
    colors = {"sigmoid": "tab:red", "tanh": "tab:purple", "relu": "tab:green"}
    for ax, norm in zip(axes[0], ctx.params["norms"]):
        for act in ctx.params["acts"]:
            runs = curves[("mlp", act, norm)]
            steps = [s for s, _ in runs[0]]
            values = np.array([[v for _, v in run] for run in runs])
            finite = [values[np.isfinite(values[:, i]), i] for i in range(len(steps))]  # diverged runs left out
            mean = np.array([column.mean() if len(column) else np.nan for column in finite])
            half = np.array([mean_interval(column).half_width if len(column) > 1 else 0.0 for column in finite])
            ax.plot(steps, mean, "o-", color=colors[act], label=act)
            ax.fill_between(steps, mean - half, mean + half, color=colors[act], alpha=0.2,
                            label=ctx.chart_text(f"{act}: 95% interval", f"{act}：95% 区间"))
        ax.axhline(np.log10(0.25), color="black", linestyle="--", label=ctx.chart_text("factor 1/4", "倍数 1/4"))
        ax.axhline(0.0, color="grey", linestyle=":", label=ctx.chart_text("no decay", "不衰减"))
        ax.set_title(ctx.chart_text(f"{ctx.params['depth']}-layer MLP, norm={norm}", f"{ctx.params['depth']} 层 MLP，norm={norm}"))
        ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
        ax.set_ylabel(ctx.chart_text("log10 gradient factor per layer", "每层梯度倍数的 log10"))
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "gradient_flow", ctx.tr("per-layer gradient decay during training",
                                                 "训练中每层的梯度衰减"))


def run(ctx):
    curves = _runs(ctx)
    _diverged(ctx)
    rows = _table(ctx)
    columns = ["model", "act", "norm", "log10 decay at init", "factor at init", "log10 decay after training",
               "factor after training"]
    ctx.table("decay", rows, columns, title=ctx.tr(
        f"Per-layer factor of the weight-gradient norm (output to input), mean ± 95% interval over "
        f"{ctx.params['seeds']} seeds; MLP {ctx.params['depth']} x {ctx.params['width']}, CNN {ctx.params['cnn_convs']} convs",
        f"权重梯度范数每层的倍数（从输出到输入），{ctx.params['seeds']} 个种子的均值 ± 95% 区间；"
        f"MLP {ctx.params['depth']} x {ctx.params['width']}，CNN {ctx.params['cnn_convs']} 个卷积"))
    _chart(ctx, curves)
    _claims(ctx)
    by = {(r["model"], r["act"], r["norm"]): r for r in rows}
    parts = [f"{a} {by[('mlp', a, 'none')]['factor at init']}" for a in ctx.params["acts"]]
    return ctx.tr("Per-layer gradient factor at initialization without BN (MLP): " + ", ".join(parts) + ".",
                  "无 BN 时 MLP 初始化时每层的梯度倍数：" + "，".join(parts) + "。")
