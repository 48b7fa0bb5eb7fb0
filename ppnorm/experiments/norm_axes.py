"""BN, LN, IN, GN on one [N, C, H, W] tensor: which axes each averages over, and the from-scratch versions' error."""
import numpy as np
import paddle
import paddle.nn as nn

from ..engine.config import ConfigError
from ..nn import functional as PF

QUESTION = ("Over which axes does each normalization compute its statistics, and do ppnorm's from-scratch "
            "versions match paddle.nn in outputs and gradients?")
DEFAULTS = {"shape": [4, 6, 5, 5], "groups": 3, "epsilon": 1e-5}
QUICK = {"shape": [2, 4, 3, 3], "groups": 2}

AXES = {"BatchNorm2D": ((0, 2, 3), "N, H, W (per channel)"), "LayerNorm": ((1, 2, 3), "C, H, W (per sample)"),
        "InstanceNorm2D": ((2, 3), "H, W (per sample and channel)"),
        "GroupNorm": (None, "C/G, H, W (per sample and group)")}


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
        ax.set_xlabel("N (samples)", labelpad=-10), ax.set_ylabel("C (channels)", labelpad=-10)
        ax.set_zlabel("H*W", labelpad=-10)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
        ax.set_box_aspect((n, c, hw))
        ax.set_title(kind if kind != "GroupNorm" else f"GroupNorm ({groups} groups)", fontsize=10)
    fig.suptitle("blue: the values that share one mean and variance", fontsize=9)
    ctx.save_figure(fig, "norm_axes", "which values share one mean and variance")


def run(ctx):
    shape, groups, eps = ctx.params["shape"], ctx.params["groups"], ctx.params["epsilon"]
    if len(shape) != 4 or not all(isinstance(d, int) and d >= 2 for d in shape):
        raise ConfigError(f"params.shape must be [N, C, H, W] with every size >= 2, got {shape}")
    n, c, h, w = shape
    if c % groups:
        raise ConfigError(f"params.groups={groups} must divide the {c} channels of params.shape")
    x_np = (np.random.default_rng(ctx.seed).standard_normal(shape) * 3 + 2).astype("float32")
    rows = []
    for kind, (axes, description) in AXES.items():
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
        errors = [float(np.abs(a - b).max()) for a, b in zip(ref, ours)]
        rows.append({"norm": kind, "averages over": description, "values per statistic": per_stat,
                     "statistics": count, "paddle.nn vs numpy over these axes": axes_error,
                     "output err": errors[0], "dx err": errors[1], "dgamma err": errors[2], "dbeta err": errors[3]})
    ctx.table("axes", rows, title=f"One tensor {shape}: axes of the statistics and max |from-scratch - paddle.nn| "
                                  f"(GroupNorm with {groups} groups)")
    _draw_cubes(ctx, n, c, min(h * w, 8), groups)
    worst_axes = max(r["paddle.nn vs numpy over these axes"] for r in rows)
    worst = max(max(r["output err"], r["dx err"], r["dgamma err"], r["dbeta err"]) for r in rows)
    ctx.claim("BN averages over N,H,W; LN over C,H,W; IN over H,W; GN over C/G,H,W",
              "confirmed" if worst_axes < 1e-4 else "refuted", f"max |paddle.nn - numpy| {worst_axes:.2g}")
    ctx.claim("ppnorm.nn.functional matches paddle.nn (outputs and gradients)",
              "confirmed" if worst < 1e-4 else "refuted", f"max error {worst:.2g}")
    return (f"Each norm averages over exactly the axes in the table (numpy over those axes matches paddle.nn to "
            f"{worst_axes:.1g}), and the from-scratch versions match paddle.nn to {worst:.1g} in outputs and in "
            f"input, gamma and beta gradients.")
