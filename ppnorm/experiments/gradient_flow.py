"""Vanishing gradients: per-layer gradient norms of deep sigmoid / tanh / ReLU networks, with and without BN. The
norms are analysis gradients (one fixed batch, no weight update); the MLPs train through ``training.fit``, the CNNs
are measured at initialization only."""
import numpy as np
import paddle

from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import EveryNSteps, fit, optimizer_section

ORDER = 130  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Do gradients shrink layer by layer in deep sigmoid networks (the sigmoid's derivative is at most 1/4) "
            "while ReLU passes them whole, at initialization and during training, and what does BN change?")
QUESTION_ZH = ("深层 sigmoid 网络的梯度是否逐层衰减（sigmoid 的导数至多 1/4），而 ReLU 能完整传回？"
               "初始化时和训练中各如何？BN 改变了什么？")
DEFAULTS = {"acts": ["sigmoid", "tanh", "relu"], "norms": ["none", "bn"], "depth": 10, "width": 64,
            "cnn_convs": 8, "cnn_width": 16, "batch": 256, "steps": 300, "record_every": 50, "lr": 0.02, "seeds": 12}
QUICK = {"acts": ["sigmoid", "relu"], "depth": 4, "cnn_convs": 3, "steps": 10, "record_every": 5, "seeds": 2,
         "width": 16, "cnn_width": 4, "batch": 64}
DATA = True  # any image data set (ctx.data)
INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "kaiming"}


def gradient_norms(model, images, labels):
    """Analysis gradient (not a training step): the Frobenius norm of each weight layer's gradient of the mean
    cross-entropy on one batch, input layer first (the fc classifier excluded); the gradients are cleared again."""
    layers = [b.linear for b in model.layers] if hasattr(model, "layers") else [b.conv for b in model.features]
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    model.clear_gradients()
    loss.backward()
    norms = [float(paddle.linalg.norm(layer.weight.grad)) for layer in layers]
    model.clear_gradients()
    return norms


def decay_per_layer(norms):
    """log10 of the geometric-mean factor by which the gradient norm changes per layer, output -> input
    (negative: gradients shrink on their way to the input)."""
    return float(np.log10(norms[0] / norms[-1]) / (len(norms) - 1))


def build(ctx, kind, act, norm):
    prm, info = ctx.params, ctx.data_info  # each activation with its usual init
    if kind == "mlp":
        return build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"],
                           num_classes=info.num_classes, norm=norm, act=act, init=INIT[act])
    return build_model("simple_cnn", widths=[prm["cnn_width"]], convs_per_stage=prm["cnn_convs"],
                       **info.model_options, norm=norm, act=act, init=INIT[act])


@paddle.no_grad()
def max_sigmoid_derivative(model, images):
    """The largest sigmoid'(z) = s(1 - s) over every unit of every layer of a sigmoid MLP for ``images``."""
    largest, out = 0.0, paddle.flatten(images, start_axis=1)
    for block in model.layers:
        out = paddle.nn.functional.sigmoid(block.norm(block.linear(out)))
        largest = max(largest, float((out * (1 - out)).max()))
    return largest


def cell(ctx, setting, seed):
    """Decay per layer at initialization and, for the MLP, every ``record_every`` steps of its training (end: the
    last one; a CNN is not trained, so it has none). ``diverged``: a loss or a decay became non-finite."""
    prm, kind, (images, labels) = ctx.params, setting["model"], ctx.data("train")
    model, batch = build(ctx, kind, setting["act"], setting["norm"]), (images[:prm["batch"]], labels[:prm["batch"]])
    curve, losses = [decay_per_layer(gradient_norms(model, *batch))], []
    if kind == "mlp":
        record = EveryNSteps(prm["record_every"], lambda loop: curve.append(
            decay_per_layer(gradient_norms(loop.model, *batch))))
        epochs = max(1, round(prm["steps"] * 64 / len(labels)))
        losses = fit(model, (images, labels), ctx.data("test"), epochs, 64, seed=seed, hooks=[record],
                     optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]})
                     ).losses
    return {"init_decay": curve[0], "end_decay": curve[-1] if kind == "mlp" else np.nan,
            "diverged": float(not np.all(np.isfinite(curve + losses))), "decay_curve": curve}


def _claims(params):
    """Sigmoid MLP / CNN gradients shrink (at init, by 1/4 per layer, after training), BN reduces it, ReLU does not."""
    mlp, found = {"model": "mlp", "act": "sigmoid", "norm": "none"}, []
    if "sigmoid" in params["acts"] and "none" in params["norms"]:
        found += [("sigmoid_mlp_shrinks_at_init", "init_decay", mlp, None, "less", 0.0,
                   "In a {depth}-layer sigmoid MLP without BN, gradients shrink layer by layer at initialization",
                   "{depth} 层无 BN 的 sigmoid MLP 在初始化时梯度逐层衰减"),
                  ("sigmoid_mlp_shrinks_by_a_quarter", "init_decay", mlp, None, "less", float(np.log10(0.25)),
                   "In a {depth}-layer sigmoid MLP without BN, the gradient shrinks by at least the factor 1/4 per "
                   "layer that the derivative bound suggests",
                   "{depth} 层无 BN 的 sigmoid MLP 每层梯度至少衰减为 1/4（导数上界所提示的倍数）"),
                  ("sigmoid_mlp_shrinks_after_training", "end_decay", mlp, None, "less", 0.0,
                   "The sigmoid MLP's gradients still shrink layer by layer after training",
                   "训练之后 sigmoid MLP 的梯度仍逐层衰减"),
                  ("sigmoid_cnn_shrinks_at_init", "init_decay", {**mlp, "model": "cnn"}, None, "less", 0.0,
                   "The sigmoid CNN's gradients shrink layer by layer at initialization", "sigmoid CNN 在初始化时梯度逐层衰减")]
        found += [("bn_reduces_sigmoid_decay", "init_decay", {**mlp, "norm": "bn"}, mlp, "greater", 0.0,
                   "BN reduces the sigmoid MLP's per-layer gradient decay",
                   "BN 减小 sigmoid MLP 每层的梯度衰减")] * ("bn" in params["norms"])
    if "relu" in params["acts"] and "none" in params["norms"]:
        found.append(("relu_passes_gradients_whole", "init_decay", {**mlp, "act": "relu"}, None, "within", 0.05,
                      "ReLU (Kaiming init, no BN) passes gradients whole: per-layer factor within 10^±{margin:g}",
                      "ReLU（Kaiming 初始化、无 BN）完整传回梯度：每层倍数在 10^±{margin:g} 之内"))
    return {cid: Claim(en, zh, metric, a, b, side=side, margin=margin, digits=3, evidence="log10 of the per-layer "
                       "factor of the weight-gradient norm on one fixed batch; diverged: failed")
            for cid, metric, a, b, side, margin, en, zh in found}


def _after(ctx, results):
    """The factors (10^mean) and diverged counts into the table; the sigmoid derivative bound as a check."""
    for row in results.rows:
        for when in ("at init", "after training"):
            mean = row[f"log10 decay {when} mean"]
            row[f"factor {when}"] = f"{10 ** mean:.3f}" if np.isfinite(mean) else ""
        selected = results.values("diverged", {k: row[k] for k in ("model", "act", "norm")})
        row["diverged"] = f"{int(sum(selected))}/{len(selected)}" if row["model"] == "mlp" else ""
    if "sigmoid" in ctx.params["acts"]:
        ctx.seed_everything(ctx.seed)  # sigmoid MLPs at initialization, with and without BN
        images = ctx.data("train")[0][:ctx.params["batch"]]
        largest = max(max_sigmoid_derivative(build(ctx, "mlp", "sigmoid", n), images) for n in ctx.params["norms"])
        ctx.check(("The sigmoid's derivative is at most 1/4", "sigmoid 的导数至多为 1/4"), max(0.0, largest - 0.25), 0.0,
                  f"largest s(1 - s) over every unit and layer of the sigmoid MLPs at initialization: {largest:.4f}")


def _summary(ctx, results):
    parts = [f"{r['act']} {r['factor at init']}" for r in results.rows if (r["model"], r["norm"]) == ("mlp", "none")]
    return ctx.tr(f"Per-layer gradient factor at initialization without BN (MLP): {', '.join(parts)}.",
                  f"无 BN 时 MLP 初始化时每层的梯度倍数：{'，'.join(parts)}。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"model": kind, "act": act, "norm": norm} for kind in ("mlp", "cnn") for act in params["acts"]
                         for norm in params["norms"]],
    cell=cell, metrics=("init_decay", "end_decay", "diverged", "decay_curve"), claims=_claims, after=_after,
    summary=_summary, charts=tuple(Chart(
        "curves", "gradient_flow" + ("" if norm == "none" else f"_{norm}"), ("decay_curve",), (
            f"per-layer gradient decay during training (mean, 95% band over seeds), MLP, norm={norm}",
            f"训练中每层的梯度衰减（各种子的均值与 95% 区间），MLP，{zh}"),
        ("log10 gradient factor per layer", "每层梯度倍数的 log10"),
        ("recording (1: initialization, then every record_every steps)", "记录次序（1：初始化时，之后每 record_every 步）"),
        by="act", where={"model": "mlp", "norm": norm}, labels={"decay_curve": ("log10 factor", "log10 倍数")})
        for norm, zh in (("none", "无 BN"), ("bn", "有 BN"))),
    table=Table("decay", (
        "Per-layer factor of the weight-gradient norm (output to input), mean ± 95% interval over {seeds} seeds "
        "(diverged runs left out and counted); MLP {depth} x {width} trained (Momentum, lr {lr}, whole epochs of "
        "batch 64), CNN {cnn_convs} convs (initialization only)",
        "权重梯度范数每层的倍数（从输出到输入），{seeds} 个种子的均值 ± 95% 区间（发散的运行不计入区间、单独计数）；"
        "MLP {depth} x {width} 训练（Momentum，学习率 {lr}，batch 64 的整轮），CNN {cnn_convs} 个卷积（只看初始化）"),
                ("model", "act", "norm", Stat("log10 decay at init", "init_decay", 3), "factor at init",
                 Stat("log10 decay after training", "end_decay", 3), "factor after training", "diverged")))
run = EXPERIMENT.run
