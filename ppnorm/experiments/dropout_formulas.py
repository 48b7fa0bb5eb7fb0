"""dropout_modes' measurements that are not trainings: Paddle's two Dropout modes against their formulas, their
expectations over many masks, and the axis argument (element vs channel dropout)."""
import numpy as np
import paddle
import paddle.nn.functional as F

from .stats import mean_interval

MODES = ("upscale_in_train", "downscale_in_infer")


def formulas(ctx, p, samples, estimates):
    """Paddle against the formulas, per mode: on one x with the mask Paddle drew (a check; returns its largest gap),
    and the relative deviation (%) of train outputs from the eval output over ``samples`` masks (into ``estimates``:
    two claims measured over masks, not seeds)."""
    examples, rows, worst = [], [], 0.0
    x = paddle.to_tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    xs = paddle.to_tensor(np.linspace(-2, 3, 6, dtype="float32"))
    formulas = {MODES[0]: ("x*mask/(1-p)", "x", 1 / (1 - p), 1.0), MODES[1]: ("x*mask", "x*(1-p)", 1.0, 1 - p)}
    for mode, (train_formula, eval_formula, train_scale, eval_scale) in formulas.items():
        paddle.seed(ctx.seed)
        train, evaluated = (F.dropout(x, p, training=t, mode=mode).numpy() for t in (True, False))
        expected_train = x.numpy() * (train != 0) * train_scale  # the mask Paddle drew
        worst = max(worst, np.abs(train - expected_train).max(), np.abs(evaluated - x.numpy() * eval_scale).max())
        examples.append({"mode": mode, "train output": str(train.tolist()), "eval output": str(evaluated.tolist()),
                         "train formula": train_formula, "eval formula": eval_formula})
        paddle.seed(ctx.seed)  # the same masks for both modes
        draws = F.dropout(paddle.tile(xs[None], [samples, 1]), p, training=True, mode=mode).numpy()
        evaluated = F.dropout(xs[None], p, training=False, mode=mode).numpy()[0]  # (1-D input fails in Paddle 3.3)
        mean, se, nonzero = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(samples), evaluated != 0
        deviation = estimates[f"expectation_{mode}"] = mean_interval(
            (100 * (draws[:, nonzero] / evaluated[nonzero] - 1)).ravel())
        rows.append({"mode": mode, "masks": samples, "max abs(mean train - eval)": float(np.abs(mean - evaluated).max()),
                     "standard error": float(se.max()), "relative deviation %": deviation.format(2),
                     "mean train output per x": str([round(float(v), 3) for v in mean]),
                     "eval output per x": str([round(float(v), 3) for v in evaluated])})
    ctx.table("example", examples, title=ctx.tr(f"x = [[1,2,3],[4,5,6]], p = {p}, the same seed for both modes",
                                                f"x = [[1,2,3],[4,5,6]]，p = {p}，两种模式用同一个种子"))
    ctx.check(("Train and eval outputs follow the formulas (upscale: x*mask/(1-p), x; downscale: x*mask, x*(1-p))",
               "训练与推理输出符合公式（upscale：x*mask/(1-p)、x；downscale：x*mask、x*(1-p)）"),
              float(worst), 1e-6, "max |Paddle - formula| on x = [[1,2,3],[4,5,6]] with the mask Paddle drew")
    ctx.table("monte_carlo", rows, title=ctx.tr(
        "Mean train-mode output over many masks vs the eval output (x = 6 values from -2 to 3); relative deviation: "
        "train output / eval output - 1 over every mask and nonzero x, mean ± 95% interval",
        "多个 mask 下训练输出的均值与推理输出（x 为 -2 到 3 的 6 个值）；相对偏差：训练输出 / 推理输出 - 1，"
        "对所有 mask 和非零 x 求均值 ± 95% 区间"))
    return float(worst)


def axis_table(ctx, p):
    """Element and channel dropout of a [8, 16, 4, 4] tensor of ones (a table and a note)."""
    axes = []
    for label, axis in (("element (axis=None)", None), ("channel (axis=[0, 1])", [0, 1])):
        paddle.seed(ctx.seed)
        y = F.dropout(paddle.ones([8, 16, 4, 4]), p, axis=axis, training=True).numpy()
        axes.append({"dropout": label, "zeroed elements": float((y == 0).mean()),
                     "fully zeroed channels": float((y.reshape(8, 16, -1) == 0).all(axis=-1).mean()),
                     "values inside a kept channel all equal": all(len(set(c)) == 1
                                                                   for c in y.reshape(128, -1) if c.any())})
    ctx.table("axis", axes, title=ctx.tr(f"The axis argument on a [8, 16, 4, 4] tensor of ones, p = {p}",
                                         f"axis 参数，输入为全 1 的 [8, 16, 4, 4] 张量，p = {p}"))
    element, channel = (r["fully zeroed channels"] for r in axes)
    ctx.note(ctx.tr(f"Channel dropout zeroes {channel:.2f} of the channels, element dropout {element:.2f}.",
                    f"按通道 dropout 整通道置零的比例为 {channel:.2f}，按元素的为 {element:.2f}。"))
    return axes
