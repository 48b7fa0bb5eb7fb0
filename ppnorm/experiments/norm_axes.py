"""BN, LN, IN, GN on random [N, C, H, W] tensors: which axes each averages over, and the from-scratch versions' error.

A cell is one norm on the tensor of one seed (the seeds only draw several tensors); its errors are numerical
identities, checked with ``ctx.check`` over every run, not claims decided by seed noise."""
import math

import numpy as np
import paddle
import paddle.nn as nn

from ..engine.config import ConfigError
from ..nn import functional as PF
from .framework import Experiment, Stat, Table

ORDER = 20  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Over which axes does each normalization compute its statistics, and do ppnorm's from-scratch "
            "versions match paddle.nn in outputs and gradients?")
QUESTION_ZH = "每种归一化在哪些轴上求统计量？ppnorm 从零实现的版本与 paddle.nn 的输出和梯度是否一致？"
DEFAULTS = {"shape": [4, 6, 5, 5], "groups": 3, "epsilon": 1e-5, "seeds": 3}
QUICK = {"shape": [2, 4, 3, 3], "groups": 2, "seeds": 2}
DATA = "it compares normalizations on random tensors of the shape in params.shape, not on a data set"
EPS32 = float(np.finfo("float32").eps)  # errors are stated in float32 epsilons (2^-23, about 1.2e-7)
AXES = {"BatchNorm2D": ((0, 2, 3), "N, H, W"), "LayerNorm": ((1, 2, 3), "C, H, W"),
        "InstanceNorm2D": ((2, 3), "H, W"), "GroupNorm": (None, "C/G, H, W")}  # GroupNorm: per sample and group
ERRORS = ("output", "dx", "dgamma", "dbeta")


def numpy_norm(x, kind, groups, eps):
    """``x`` normalized over the axes of ``kind`` in numpy, biased variance (GroupNorm: per sample and group)."""
    if kind == "GroupNorm":
        return numpy_norm(x.reshape(x.shape[0], groups, -1, 1), "InstanceNorm2D", groups, eps).reshape(x.shape)
    axes = AXES[kind][0]
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def layers(kind, shape, groups, eps):
    """``(paddle.nn layer, from-scratch function of x, gamma, beta)`` of ``kind`` for an input of ``shape``."""
    c, chw = shape[1], list(shape[1:])
    if kind == "BatchNorm2D":
        return nn.BatchNorm2D(c, epsilon=eps), lambda x, g, b: PF.batch_norm(
            x, paddle.zeros([c]), paddle.ones([c]), g, b, training=True, epsilon=eps)[0]
    if kind == "LayerNorm":
        return nn.LayerNorm(chw, epsilon=eps), lambda x, g, b: PF.layer_norm(x, chw, g, b, epsilon=eps)
    if kind == "InstanceNorm2D":
        return nn.InstanceNorm2D(c, epsilon=eps), lambda x, g, b: PF.instance_norm(x, g, b, epsilon=eps)
    return nn.GroupNorm(groups, c, epsilon=eps), lambda x, g, b: PF.group_norm(x, groups, g, b, epsilon=eps)


def _output_and_grads(y, inputs):
    """``y`` and the gradients of ``sum(y * upstream)`` (a fixed random upstream) with respect to ``inputs``."""
    upstream = paddle.to_tensor(np.random.default_rng(2).standard_normal(y.shape).astype("float32"))
    return [y.numpy()] + [g.numpy() for g in paddle.grad((y * upstream).sum(), inputs)]


def compare(kind, x_np, groups, eps):
    """paddle.nn against ppnorm.nn.functional with the same gamma, beta: ``[output, dx, dgamma, dbeta]`` of each."""
    rng, affine = np.random.default_rng(1), list(x_np.shape[1:]) if kind == "LayerNorm" else [x_np.shape[1]]
    gamma_np, beta_np = rng.uniform(0.5, 1.5, affine).astype("float32"), rng.standard_normal(affine).astype("float32")
    layer, from_scratch = layers(kind, x_np.shape, groups, eps)
    params = [layer.scale if kind == "InstanceNorm2D" else layer.weight, layer.bias]  # BN's parameters() has more
    for param, value in zip(params, (gamma_np, beta_np)):
        param.set_value(value.reshape(param.shape))
    x, gamma, beta = (paddle.to_tensor(v, stop_gradient=False) for v in (x_np, gamma_np, beta_np))
    reference = _output_and_grads(layer(x), [x] + params)
    ours = _output_and_grads(from_scratch(x, gamma, beta), [x, gamma, beta])
    return reference[:2] + [g.reshape(gamma_np.shape) for g in reference[2:]], ours


def cell(ctx, setting, seed):
    """One norm on the seed's tensor: |paddle.nn - numpy over its axes| and |from-scratch - paddle.nn| (relative to
    the largest |paddle.nn value|, at least 1: dbeta sums N*H*W values), in float32 epsilons."""
    kind, shape, groups, eps = setting["norm"], ctx.params["shape"], ctx.params["groups"], ctx.params["epsilon"]
    x_np = (np.random.default_rng(seed).standard_normal(shape) * 3 + 2).astype("float32")
    plain = layers(kind, shape, groups, eps)[0](paddle.to_tensor(x_np)).numpy()  # scale 1, shift 0
    errors = [np.abs(a - b).max() / max(1.0, np.abs(a).max()) for a, b in zip(*compare(kind, x_np, groups, eps))]
    return {"axes_eps": float(np.abs(plain - numpy_norm(x_np, kind, groups, eps)).max()) / EPS32,
            **{f"{name}_eps": float(error) / EPS32 for name, error in zip(ERRORS, errors)}}


def _draw_cubes(ctx, n, c, hw, groups):
    """Wu & He's figure: the [N, C, H*W] cube of each norm, with the cells of one statistic in blue."""
    fig, axes = ctx.figure(4, width=3.4, height=3.9, projection="3d")
    first = {"BatchNorm2D": np.s_[:, 0], "LayerNorm": np.s_[0], "InstanceNorm2D": np.s_[0, 0],
             "GroupNorm": np.s_[0, :c // groups]}  # the cells that share the first mean and variance
    for ax, kind in zip(axes[0], AXES):
        cells = np.zeros((n, c, hw), dtype=bool)
        cells[first[kind]] = True
        colors = np.where(cells[..., None], (0.2, 0.4, 0.9, 0.95), (0.85, 0.85, 0.85, 0.12))
        ax.voxels(np.ones_like(cells), facecolors=colors, edgecolor=(0, 0, 0, 0.15), linewidth=0.3)
        ax.view_init(elev=22, azim=-55)
        for axis, text in zip("xyz", (("N (samples)", "N（样本）"), ("C (channels)", "C（通道）"),
                                      ("H*W (positions)", "H*W（位置）"))):
            getattr(ax, f"set_{axis}label")(ctx.chart_text(*text), labelpad=-10)
        ax.set(xticks=[], yticks=[], zticks=[], box_aspect=(n, c, hw))
        ax.set_title(ctx.chart_text(f"GroupNorm ({groups} groups)", f"GroupNorm（{groups} 组）")
                     if kind == "GroupNorm" else kind, fontsize=10)
    fig.suptitle(ctx.chart_text("blue cells: the values that share one mean and variance; grey: all other values",
                                "蓝色：共用一个均值和方差的值；灰色：其余的值"), fontsize=10)
    ctx.save_figure(fig, "norm_axes", ctx.tr("which values share one mean and variance", "哪些值共用一个均值和方差"))


def _after(ctx, results):
    """The cube figure and the two identities, each the worst error over every norm and seed."""
    (n, c, h, w), tensors = ctx.params["shape"], f"{ctx.params['seeds']} random tensors"
    _draw_cubes(ctx, n, c, min(h * w, 8), ctx.params["groups"])
    worst_axes = EPS32 * max(run["axes_eps"] for run in results.runs)
    worst = EPS32 * max(run[f"{name}_eps"] for run in results.runs for name in ERRORS)
    passed = [ctx.check(
        ("BN averages over N,H,W; LN over C,H,W; IN over H,W; GN over C/G,H,W",
         "BN 在 N,H,W 上求统计量；LN 在 C,H,W 上；IN 在 H,W 上；GN 在 C/G,H,W 上"), worst_axes, 1e-4,
        f"max |paddle.nn - numpy over these axes|, four norms, {tensors} (float32: ~1e-6; other axes: ~1)"), ctx.check(
        ("ppnorm.nn.functional matches paddle.nn (outputs and gradients)",
         "ppnorm.nn.functional 与 paddle.nn 一致（输出和梯度）"), worst, 1e-4,
        f"max |from-scratch - paddle.nn| / max(1, max |paddle.nn|), outputs and x, gamma, beta gradients, {tensors}")]
    results.store["summary"] = ctx.tr(
        f"Each norm averages over exactly the axes in the table (numpy over them matches paddle.nn to "
        f"{worst_axes:.1g}); the from-scratch versions match paddle.nn to {worst:.1g} in outputs and gradients.",
        f"每种归一化正好在表中的轴上求统计量（按这些轴用 numpy 计算与 paddle.nn 相差 {worst_axes:.1g}）；从零实现的版本"
        f"与 paddle.nn 的输出以及 x、gamma、beta 的梯度相差 {worst:.1g}。") if passed.count("passed") == 2 else ctx.tr(
        "A check failed: see the checks table.", "有数值核对未通过，见数值核对表。")


def _validate(params):
    shape, groups = params["shape"], params["groups"]
    if len(shape) != 4 or not all(isinstance(d, int) and d >= 2 for d in shape):
        raise ConfigError(f"params.shape must be [N, C, H, W] with every size >= 2, got {shape}")
    if groups < 1 or shape[1] % groups:
        raise ConfigError(f"params.groups={groups} must divide the {shape[1]} channels of params.shape")


def _extra(setting, params):
    """The axes of ``setting``'s norm, how many values share one statistic, and how many statistics there are."""
    (axes, letters), shape = AXES[setting["norm"]], params["shape"]  # GroupNorm: C/G*H*W values per statistic
    per_stat = shape[1] // params["groups"] * shape[2] * shape[3] if axes is None else math.prod(shape[a] for a in axes)
    return {"averages over": letters, "values per statistic": per_stat,
            "number of statistics": math.prod(shape) // per_stat}


EXPERIMENT = Experiment(
    grid=lambda params: [{"norm": kind} for kind in AXES], cell=cell, validate=_validate, after=_after,
    metrics=("axes_eps",) + tuple(f"{name}_eps" for name in ERRORS), summary=lambda ctx, r: r.store["summary"],
    table=Table("axes", (
        "{seeds} random tensors {shape} (one per seed; GroupNorm: {groups} groups): the axes of the statistics, and "
        "errors in float32 epsilons (1.2e-7), from-scratch ones divided by the largest |paddle.nn value| (at least 1)",
        "{seeds} 个随机张量 {shape}（每个种子一个；GroupNorm 取 {groups} 组）：统计量所在的轴，以及以 float32 的 epsilon"
        "（1.2e-7）为单位的误差，从零实现的误差除以 paddle.nn 的最大绝对值（至少取 1）"),
        ("norm", "averages over", "values per statistic", "number of statistics",
         Stat("paddle.nn vs numpy over these axes (eps)", "axes_eps", 1),
         *(Stat(f"{name} err (eps)", f"{name}_eps", 1) for name in ERRORS)), extra=_extra))
run = EXPERIMENT.run
