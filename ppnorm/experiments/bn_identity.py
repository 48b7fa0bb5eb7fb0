"""batchnorm_basics, the notes' "gamma and beta can undo the normalization": with gamma = sqrt(var_B + eps)
and beta = mu_B a BatchNorm2D returns its input. Forward and input gradient, in train mode (batch statistics,
which depend on x) and in eval mode (running statistics set to the same batch's, constants)."""
import numpy as np
import paddle
import paddle.nn as nn

from ..nn import set_running_stats

AXES = (0, 2, 3)  # BatchNorm2D's statistics: per channel over N, H, W


def undo_batch(seed=2):
    """An [8, 3, 4, 4] float32 batch whose channels have different means and scales."""
    scale = np.array([0.5, 2.0, 5.0], dtype="float32")[None, :, None, None]
    shift = np.array([-1.0, 0.0, 3.0], dtype="float32")[None, :, None, None]
    return np.random.default_rng(seed).standard_normal((8, 3, 4, 4)).astype("float32") * scale + shift


def undoing_bn(x, eps):
    """A fresh BatchNorm2D with gamma = sqrt(var_B + eps), beta = mu_B of the batch ``x`` (biased variance,
    as Paddle normalizes) and running statistics equal to that batch's; returns it, mu_B and var_B."""
    mean, var = x.mean(axis=AXES), x.var(axis=AXES)
    bn = nn.BatchNorm2D(x.shape[1], epsilon=eps)
    bn.weight.set_value(np.sqrt(var + eps).astype("float32"))
    bn.bias.set_value(mean.astype("float32"))
    set_running_stats(bn, paddle.to_tensor(mean), paddle.to_tensor(var))
    return bn, mean, var


def forward_backward(bn, x, w, mode):
    """``BN(x)`` and the input gradient of ``sum(w * BN(x))`` in ``mode`` ("train" or "eval")."""
    bn.train() if mode == "train" else bn.eval()
    tensor = paddle.to_tensor(x, stop_gradient=False)
    y = bn(tensor)
    (y * paddle.to_tensor(w)).sum().backward()
    return y.numpy(), tensor.grad.numpy()


def train_gradient(x, w, mean, var, eps):
    """The train-mode input gradient of ``sum(w * BN(x))`` when gamma = sqrt(var + eps): because mu_B and
    sigma_B depend on x, it is ``w`` minus its per-channel mean and its per-channel component along x_hat."""
    shape = (1, -1, 1, 1)
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var + eps).reshape(shape)
    return w - w.mean(axis=AXES, keepdims=True) - x_hat * (w * x_hat).mean(axis=AXES, keepdims=True)


def _row(ctx, mode, loss, w, x, eps):
    bn, mean, var = undoing_bn(x, eps)
    y, dx = forward_backward(bn, x, w, mode)
    expected = train_gradient(x, w, mean, var, eps) if mode == "train" else w
    return {"mode": mode, "statistics": ctx.tr("batch (depend on x)", "batch（随 x 变化）") if mode == "train" else
            ctx.tr("running = this batch's (constants)", "滑动统计量 = 这个 batch 的（常数）"),
            "loss": loss, "max |BN(x) - x|": float(np.abs(y - x).max()),
            "|dx - w| / |w|": float(np.linalg.norm(dx - w) / np.linalg.norm(w)),
            "expected dx": "w - mean_c(w) - x_hat*mean_c(w*x_hat)" if mode == "train" else "w",
            "max |dx - expected|": float(np.abs(dx - expected).max())}


def undo_normalization(ctx, eps):
    """The table of the three cases and the four claims they decide (``ctx.check``: numerical identities)."""
    x = undo_batch()
    w = np.random.default_rng(3).standard_normal(x.shape).astype("float32")
    rows = [_row(ctx, "train", "sum(w*BN(x)), w ~ N(0,1)", w, x, eps),
            _row(ctx, "train", "sum(BN(x)) (w = 1)", np.ones_like(x), x, eps),
            _row(ctx, "eval", "sum(w*BN(x)), w ~ N(0,1)", w, x, eps)]
    ctx.table("undo", rows, title=ctx.tr(
        "gamma = sqrt(var_B + eps), beta = mu_B on BatchNorm2D, x [8,3,4,4]: output and input gradient vs the "
        "identity's",
        "BatchNorm2D 取 gamma = sqrt(var_B + eps)、beta = mu_B，x 形状 [8,3,4,4]：输出和输入梯度与恒等映射对比"))
    train, ones, frozen = rows
    ctx.check(("With gamma = sqrt(var_B + eps) and beta = mu_B, BN in train mode returns its input: BN(x) = x for that "
               "batch", "γ = √(σ_B² + ε)、β = μ_B 时，训练模式的 BN 原样返回输入：对这个 batch 有 BN(x) = x"),
              max(train["max |BN(x) - x|"], ones["max |BN(x) - x|"]), 1e-5, "max |BN(x) - x| in train mode")
    ctx.check(("In eval mode with running statistics equal to the batch's, the same gamma, beta make BN exactly the "
               "identity: output x and input gradient w",
               "推理模式下滑动统计量等于这个 batch 的统计量时，同样的 γ、β 让 BN 恰好是恒等映射：输出 x，输入梯度 w"),
              max(frozen["max |BN(x) - x|"], frozen["max |dx - expected|"]), 1e-5,
              "max of |BN(x) - x| and |dx - w| in eval mode")
    ctx.check(("In train mode the input gradient with these gamma, beta is the identity's too: d sum(w*BN(x))/dx = w",
               "训练模式下这组 γ、β 的 BN 的输入梯度也等于恒等映射的：d sum(w·BN(x))/dx = w"),
              max(train["|dx - w| / |w|"], ones["|dx - w| / |w|"]), 1e-5,
              f"|dx - w| / |w|: {train['|dx - w| / |w|']:.3f} for w ~ N(0,1), {ones['|dx - w| / |w|']:.3f} for w = 1 "
              "(the gradient of sum(BN(x)) is 0, not 1)")
    ctx.check(("In train mode the input gradient is w - mean_c(w) - x_hat*mean_c(w*x_hat): mu_B and sigma_B depend on x",
               "训练模式下输入梯度是 w − mean_c(w) − x̂·mean_c(w·x̂)：μ_B 和 σ_B 随 x 变化"),
              max(train["max |dx - expected|"], ones["max |dx - expected|"]), 1e-5,
              "max |dx - formula| over both train-mode losses")
    ctx.note(ctx.tr(
        "gamma, beta undo the normalization as a map of the batch's values (forward) and exactly in eval mode; in train "
        "mode the gradient still flows through mu_B and sigma_B, which removes the per-channel mean of w and its "
        f"component along x_hat (|dx - w| / |w| = {train['|dx - w| / |w|']:.3f} for a random w, 1 for w = 1).",
        "γ、β 能撤销归一化：作为这个 batch 上的映射（前向）成立，推理模式下连梯度也恰好是恒等的；训练模式下梯度仍经过 μ_B 和 σ_B，"
        f"于是去掉了 w 的每通道均值和沿 x̂ 的分量（随机 w 时 |dx − w| / |w| = {train['|dx - w| / |w|']:.3f}，w = 1 时为 1）。"))
    return rows
