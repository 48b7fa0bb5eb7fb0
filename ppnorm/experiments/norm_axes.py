"""BN, LN, IN, GN on one [N, C, H, W] tensor: which axes each averages over, and the from-scratch versions' error."""
import numpy as np
import paddle
import paddle.nn as nn

from ..engine.config import ConfigError
from ..nn import functional as PF

QUESTION = ("Over which axes does each normalization compute its statistics, and do ppnorm's from-scratch "
            "versions match paddle.nn in outputs and gradients?")
QUESTION_ZH = "每种归一化在哪些轴上求统计量？ppnorm 从零实现的版本与 paddle.nn 的输出和梯度是否一致？"
DEFAULTS = {"shape": [4, 6, 5, 5], "groups": 3, "epsilon": 1e-5}
QUICK = {"shape": [2, 4, 3, 3], "groups": 2}
DATA = "it compares normalizations on one random tensor of the shape in params.shape, not on a data set"

AXES = {"BatchNorm2D": ((0, 2, 3), "N, H, W (per channel)", "N, H, W（每个通道）"),
        "LayerNorm": ((1, 2, 3), "C, H, W (per sample)", "C, H, W（每个样本）"),
        "InstanceNorm2D": ((2, 3), "H, W (per sample and channel)", "H, W（每个样本的每个通道）"),
        "GroupNorm": (None, "C/G, H, W (per sample and group)", "C/G, H, W（每个样本的每一组）")}


def _grads(y, inputs, seed):
    upstream = paddle.to_tensor(np.random.default_rng(seed).standard_normal(y.shape).astype("float32"))
    return [g.numpy() for g in paddle.grad((y * upstream).sum(), inputs)]


def _paddle_layer(kind, shape, groups, eps):
    """The ``paddle.nn`` layer of ``kind`` for an input of ``shape`` [N, C, H, W]."""
    _, c, h, w = shape
    if kind == "BatchNorm2D":
        return nn.BatchNorm2D(c, epsilon=eps)
    if kind == "LayerNorm":
        return nn.LayerNorm([c, h, w], epsilon=eps)
    if kind == "InstanceNorm2D":
        return nn.InstanceNorm2D(c, epsilon=eps)
    return nn.GroupNorm(groups, c, epsilon=eps)


def _pair(kind, x_np, groups, eps):
    """(paddle.nn output + grads, from-scratch output + grads) for one kind."""
    n, c, h, w = x_np.shape
    rng = np.random.default_rng(1)
    affine_shape = [c, h, w] if kind == "LayerNorm" else [c]
    gamma_np = rng.uniform(0.5, 1.5, affine_shape).astype("float32")
    beta_np = rng.standard_normal(affine_shape).astype("float32")
    layer = _paddle_layer(kind, x_np.shape, groups, eps)
    scale = layer.scale if isinstance(layer, nn.InstanceNorm2D) else layer.weight
    params = [scale, layer.bias]  # not parameters(): BatchNorm lists its running statistics there too
    params[0].set_value(gamma_np.reshape(params[0].shape)), params[1].set_value(beta_np.reshape(params[1].shape))
    x = paddle.to_tensor(x_np, stop_gradient=False)
    y_ref = layer(x)
    ref = [y_ref.numpy()] + [g.reshape(gamma_np.shape) if i else g
                             for i, g in enumerate(_grads(y_ref, [x] + params, 2))]
    x2 = paddle.to_tensor(x_np, stop_gradient=False)
    gamma = paddle.to_tensor(gamma_np, stop_gradient=False)
    beta = paddle.to_tensor(beta_np, stop_gradient=False)
    if kind == "BatchNorm2D":
        y = PF.batch_norm(x2, paddle.zeros([c]), paddle.ones([c]), gamma, beta, training=True, epsilon=eps)[0]
    elif kind == "LayerNorm":
        y = PF.layer_norm(x2, [c, h, w], gamma, beta, epsilon=eps)
    elif kind == "InstanceNorm2D":
        y = PF.instance_norm(x2, gamma, beta, epsilon=eps)
    else:
        y = PF.group_norm(x2, groups, gamma, beta, epsilon=eps)
    ours = [y.numpy()] + _grads(y, [x2, gamma, beta], 2)
    return ref, ours


def _one_statistic(kind, n, c, hw, groups):
    """For the picture: the (sample, channel, position) cells that share the first mean/variance."""
    cells = np.zeros((n, c, hw), dtype=bool)
    if kind == "BatchNorm2D":
        cells[:, 0, :] = True
    elif kind == "LayerNorm":
        cells[0] = True
    elif kind == "InstanceNorm2D":
        cells[0, 0] = True
    else:
        cells[0, :c // groups] = True
    return cells


def _draw_cubes(ctx, n, c, hw, groups):
    """Wu & He's figure: the [N, C, H*W] cube of each norm, with the cells of one statistic in blue."""
    fig, axes = ctx.figure(4, width=3.4, height=3.9, projection="3d")
    for ax, kind in zip(axes[0], AXES):
        cells = _one_statistic(kind, n, c, hw, groups)
        colors = np.zeros(cells.shape + (4,))
        colors[cells] = (0.2, 0.4, 0.9, 0.95)
        colors[~cells] = (0.85, 0.85, 0.85, 0.12)
        ax.voxels(np.ones_like(cells), facecolors=colors, edgecolor=(0, 0, 0, 0.15), linewidth=0.3)
        ax.view_init(elev=22, azim=-55)
        ax.set_xlabel(ctx.chart_text("N (samples)", "N（样本）"), labelpad=-10)
        ax.set_ylabel(ctx.chart_text("C (channels)", "C（通道）"), labelpad=-10)
        ax.set_zlabel(ctx.chart_text("H*W (positions)", "H*W（位置）"), labelpad=-10)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
        ax.set_box_aspect((n, c, hw))
        ax.set_title(kind if kind != "GroupNorm" else ctx.chart_text(f"GroupNorm ({groups} groups)",
                                                                     f"GroupNorm（{groups} 组）"), fontsize=10)
    fig.suptitle(ctx.chart_text("blue cells: the values that share one mean and variance; grey: all other values",
                                "蓝色：共用一个均值和方差的值；灰色：其余的值"), fontsize=10)
    ctx.save_figure(fig, "norm_axes", ctx.tr("which values share one mean and variance", "哪些值共用一个均值和方差"))


def _row(ctx, kind, axes, description, x_np, groups, eps):
    """Statistics counts, paddle.nn against numpy over ``axes``, and the from-scratch errors for one kind."""
    n, c, h, w = shape = x_np.shape
    ref, ours = _pair(kind, x_np, groups, eps)
    if axes is None:  # GroupNorm: reshape to [N, G, C/G*H*W] and normalize the last axis
        grouped = x_np.reshape(n, groups, -1)
        by_hand = ((grouped - grouped.mean(-1, keepdims=True)) /
                   np.sqrt(grouped.var(-1, keepdims=True) + eps)).reshape(shape)
        per_stat, count = c // groups * h * w, n * groups
    else:
        by_hand = (x_np - x_np.mean(axis=axes, keepdims=True)) / np.sqrt(x_np.var(axis=axes, keepdims=True) + eps)
        per_stat = int(np.prod([shape[a] for a in axes]))
        count = int(np.prod(shape)) // per_stat
    layer_plain = _paddle_layer(kind, shape, groups, eps)  # scale 1, shift 0
    axes_error = float(np.abs(layer_plain(paddle.to_tensor(x_np)).numpy() - by_hand).max())
    # relative to the largest reference value (at least 1): dbeta sums N*H*W upstream values, so float32 rounding
    # grows with the tensor; an absolute tolerance would fail on large shapes for no fault of the code
    errors = [float(np.abs(a - b).max() / max(1.0, np.abs(a).max())) for a, b in zip(ref, ours)]
    return {"norm": kind, "averages over": ctx.tr(*description), "values per statistic": per_stat,
            "number of statistics": count, "paddle.nn vs numpy over these axes": axes_error,
            "output err": errors[0], "dx err": errors[1], "dgamma err": errors[2], "dbeta err": errors[3]}


def run(ctx):
    shape, groups, eps = ctx.params["shape"], ctx.params["groups"], ctx.params["epsilon"]
    if len(shape) != 4 or not all(isinstance(d, int) and d >= 2 for d in shape):
        raise ConfigError(f"params.shape must be [N, C, H, W] with every size >= 2, got {shape}")
    n, c, h, w = shape
    if c % groups:
        raise ConfigError(f"params.groups={groups} must divide the {c} channels of params.shape")
    x_np = (np.random.default_rng(ctx.seed).standard_normal(shape) * 3 + 2).astype("float32")
    rows = [_row(ctx, kind, axes, (en, zh), x_np, groups, eps) for kind, (axes, en, zh) in AXES.items()]
    ctx.table("axes", rows, title=ctx.tr(
        f"One tensor {shape}: axes of the statistics, and max |from-scratch - paddle.nn| divided by the largest "
        f"|paddle.nn value| (at least 1) (GroupNorm with {groups} groups)",
        f"同一个张量 {shape}：统计量所在的轴，以及 max |从零实现 - paddle.nn| 除以 paddle.nn 的最大绝对值（至少取 1）"
        f"（GroupNorm 取 {groups} 组）"))
    _draw_cubes(ctx, n, c, min(h * w, 8), groups)
    worst_axes = max(r["paddle.nn vs numpy over these axes"] for r in rows)
    worst = max(max(r["output err"], r["dx err"], r["dgamma err"], r["dbeta err"]) for r in rows)
    ctx.check(("BN averages over N,H,W; LN over C,H,W; IN over H,W; GN over C/G,H,W",
               "BN 在 N,H,W 上求统计量；LN 在 C,H,W 上；IN 在 H,W 上；GN 在 C/G,H,W 上"), worst_axes, 1e-4,
              "max |paddle.nn - numpy over these axes| over the four norms (float32 outputs of size ~1: "
              "rounding ~1e-6; normalizing over other axes would differ by ~1)")
    ctx.check(("ppnorm.nn.functional matches paddle.nn (outputs and gradients)",
               "ppnorm.nn.functional 与 paddle.nn 一致（输出和梯度）"), worst, 1e-4,
              "max |from-scratch - paddle.nn| / max(1, max |paddle.nn|) over outputs and x, gamma, beta gradients "
              "of the four norms (float32: ~1e-6)")
    return ctx.tr(f"Each norm averages over exactly the axes in the table (numpy over those axes matches paddle.nn to "
                  f"{worst_axes:.1g}), and the from-scratch versions match paddle.nn to {worst:.1g} in outputs and in "
                  f"input, gamma and beta gradients.",
                  f"每种归一化正好在表中的轴上求统计量（按这些轴用 numpy 计算与 paddle.nn 相差 {worst_axes:.1g}），"
                  f"从零实现的版本与 paddle.nn 的输出以及输入、gamma、beta 的梯度相差 {worst:.1g}。")
