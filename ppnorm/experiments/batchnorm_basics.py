"""BatchNorm in Paddle, number by number: the notes' two examples, running statistics, Paddle vs PyTorch."""
import numpy as np
import paddle
import paddle.nn as nn

from ..nn import momentum_from_torch, running_stats, set_running_stats
from .bn_identity import undo_normalization

QUESTION = ("Does Paddle's BatchNorm compute exactly what the formulas say (per-feature / per-channel batch "
            "statistics, moving averages with momentum 0.9, biased running variance, use_global_stats)?")
QUESTION_ZH = ("Paddle 的 BatchNorm 是否正好按公式计算（训练时按特征 / 按通道的 batch 统计量、momentum 0.9 的滑动平均、"
               "有偏的滑动方差、use_global_stats 的作用）？")
DEFAULTS = {"steps": 10, "epsilon": 1e-5}
QUICK = {"steps": 5}
DATA = "it checks BatchNorm's formulas on small hand-made tensors, not on a data set"


def _short(values):
    """A vector as text with 5 decimals (float32 values printed without their float64 noise)."""
    return "[" + ", ".join(f"{float(v):.5g}" for v in values) + "]"


def _numpy_bn(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased, like Paddle
    return (x - mean) / np.sqrt(var + eps)


def _row(ctx, en, zh, mode, statistics, output, expected, first):
    return {"example": ctx.tr(en, zh), "mode": mode, "statistics": statistics,
            "max abs diff vs numpy": float(np.abs(output - expected).max()), "first row": _short(first)}


def _examples(ctx, eps):
    """The notes' two examples (BatchNorm1D on a 3x3 matrix, BatchNorm2D on rand(2,3,3,3)) against numpy."""
    x1 = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype="float32")
    train1 = nn.BatchNorm1D(3, epsilon=eps)(paddle.to_tensor(x1)).numpy()
    fresh = nn.BatchNorm1D(3, epsilon=eps)
    fresh.eval()
    eval1 = fresh(paddle.to_tensor(x1)).numpy()
    np.random.seed(100)
    x2 = np.random.rand(2, 3, 3, 3).astype("float32")
    bn2 = nn.BatchNorm2D(3, epsilon=eps)
    train2 = bn2(paddle.to_tensor(x2)).numpy()
    bn2.eval()
    mean = x2.mean(axis=(0, 2, 3)) * 0.1  # one step from (0, 1) with momentum 0.9
    var = 0.9 + x2.var(axis=(0, 2, 3)) * 0.1
    eval2 = bn2(paddle.to_tensor(x2)).numpy()
    expected2 = (x2 - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + eps)
    rows = [_row(ctx, "BatchNorm1D on [[1,2,3],[4,5,6],[7,8,9]]", "BatchNorm1D，输入 [[1,2,3],[4,5,6],[7,8,9]]",
                 "train", ctx.tr("per feature over N", "每个特征，在 N 上"), train1, _numpy_bn(x1, 0, eps), train1[0]),
            _row(ctx, "BatchNorm1D, fresh layer", "BatchNorm1D，新建的层", "eval",
                 ctx.tr("running mean 0, var 1", "滑动均值 0、方差 1"), eval1, x1 / np.sqrt(1 + eps), eval1[0]),
            _row(ctx, "BatchNorm2D on seed(100) rand(2,3,3,3)", "BatchNorm2D，输入 seed(100) rand(2,3,3,3)", "train",
                 ctx.tr("per channel over N*H*W", "每个通道，在 N*H*W 上"), train2, _numpy_bn(x2, (0, 2, 3), eps),
                 train2[0, 0, 0]),
            _row(ctx, "the same layer after that step", "同一层，训练一步之后", "eval",
                 ctx.tr("running statistics", "滑动统计量"), eval2, expected2, eval2[0, 0, 0])]
    ctx.table("examples", rows, title=ctx.tr("The notes' examples against numpy", "笔记中的例子与 numpy 对比"))
    return max(r["max abs diff vs numpy"] for r in rows)


def _running_chart(ctx, rows):
    """Running mean (left) and variance (right) over steps: Paddle's values against the two formulas."""
    fig, axes = ctx.figure(2, width=5.2, height=3.8)
    ks = [r["k"] for r in rows]
    left, right = axes[0]
    left.plot(ks, [r["mu*(1-0.9^k)"] for r in rows], "-", color="C0", label=ctx.chart_text(
        "formula mu (1 - 0.9^k)", "公式 mu (1 - 0.9^k)"))
    left.plot(ks, [r["running_mean"] for r in rows], "o", color="C0", label="Paddle running_mean")
    left.set_ylabel(ctx.chart_text("running_mean (input units)", "running_mean（输入的单位）"))
    right.plot(ks, [r["1+(biased-1)(1-0.9^k)"] for r in rows], "-", color="C0", label=ctx.chart_text(
        "formula with the biased variance", "有偏方差的公式"))
    right.plot(ks, [r["running_var (Paddle)"] for r in rows], "o", color="C0", label="Paddle running_var")
    right.plot(ks, [r["PyTorch (unbiased)"] for r in rows], "s--", color="C3", mfc="none", label=ctx.chart_text(
        "PyTorch convention (unbiased)", "PyTorch 约定（无偏）"))
    right.set_ylabel(ctx.chart_text("running_var (input units squared)", "running_var（输入单位的平方）"))
    for ax in (left, right):
        ax.set_xlabel(ctx.chart_text("train steps k on the same batch", "在同一 batch 上的训练步数 k"))
        ax.legend(loc="lower right")
    ctx.save_figure(fig, "running_statistics", ctx.tr("running mean and variance vs steps",
                                                      "滑动均值与滑动方差随步数的变化"))


def _running_statistics(ctx, steps, eps):
    x = paddle.to_tensor(np.arange(12, dtype="float32").reshape(2, 1, 2, 3))
    mu, biased = float(x.numpy().mean()), float(x.numpy().var())
    unbiased = biased * x.size / (x.size - 1)
    bn = nn.BatchNorm2D(1, epsilon=eps)
    rows = []
    for k in range(1, steps + 1):
        bn(x)
        rows.append({"k": k, "running_mean": float(running_stats(bn)[0].numpy()[0]),
                     "mu*(1-0.9^k)": mu * (1 - 0.9 ** k),
                     "running_var (Paddle)": float(running_stats(bn)[1].numpy()[0]),
                     "1+(biased-1)(1-0.9^k)": 1 + (biased - 1) * (1 - 0.9 ** k),
                     "PyTorch (unbiased)": 1 + (unbiased - 1) * (1 - 0.9 ** k)})
    ctx.table("running", rows, title=ctx.tr(
        "Running statistics over k train steps on the constant batch arange(12) as [2,1,2,3] "
        "(mu 5.5, biased var 11.9167, unbiased 13)",
        "在固定 batch arange(12)（形状 [2,1,2,3]，mu 5.5，有偏方差 11.9167，无偏 13）上训练 k 步后的滑动统计量"))
    _running_chart(ctx, rows)
    mean_error = max(abs(r["running_mean"] - r["mu*(1-0.9^k)"]) for r in rows)
    var_error = max(abs(r["running_var (Paddle)"] - r["1+(biased-1)(1-0.9^k)"]) for r in rows)
    return rows[0], mean_error, var_error


def _momentum_conversion(ctx, eps):
    x = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    rows = []
    for torch_momentum in (0.1, 0.01, 0.5):
        paddle_momentum = momentum_from_torch(torch_momentum)
        bn = nn.BatchNorm1D(4, momentum=paddle_momentum, epsilon=eps)
        bn(paddle.to_tensor(x))
        torch_mean = (1 - torch_momentum) * 0.0 + torch_momentum * x.mean(axis=0)
        rows.append({"PyTorch momentum": torch_momentum, "Paddle momentum": paddle_momentum,
                     "max abs diff Paddle vs PyTorch formula": float(np.abs(running_stats(bn)[0].numpy() - torch_mean).max())})
    ctx.table("momentum", rows, title=ctx.tr("PyTorch momentum m is Paddle momentum 1 - m (ppnorm.nn.momentum_from_torch)",
                                         "PyTorch 的 momentum m 就是 Paddle 的 momentum 1 - m（ppnorm.nn.momentum_from_torch）"))
    return max(r["max abs diff Paddle vs PyTorch formula"] for r in rows)


def _global_stats(ctx, eps):
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((6, 2, 3, 3)).astype("float32") * 2 + 1)
    batch_version = _numpy_bn(x.numpy(), (0, 2, 3), eps)
    rows = []
    for setting in (None, True, False):
        for mode in ("train", "eval"):
            bn = nn.BatchNorm2D(2, epsilon=eps, use_global_stats=setting)
            set_running_stats(bn, paddle.full([2], 5.0), paddle.full([2], 4.0))
            bn.train() if mode == "train" else bn.eval()
            y = bn(x).numpy()
            running_version = (x.numpy() - 5.0) / np.sqrt(4.0 + eps)
            used = ("batch" if np.allclose(y, batch_version, atol=1e-4) else
                    "running" if np.allclose(y, running_version, atol=1e-4) else "neither")
            updated = not np.allclose(running_stats(bn)[0].numpy(), 5.0)
            rows.append({"use_global_stats": str(setting), "mode": mode, "normalizes with": used,
                         "running stats updated": updated})
    ctx.table("global_stats", rows, title=ctx.tr(
        "use_global_stats: which statistics normalize, and whether running statistics move",
        "use_global_stats：用哪种统计量归一化，滑动统计量是否更新"))
    return rows


def _one_value_per_channel(ctx, eps):
    rows = []
    for shape, layer in (([1, 3], nn.BatchNorm1D(3, epsilon=eps)), ([1, 3, 1, 1], nn.BatchNorm2D(3, epsilon=eps))):
        x = paddle.to_tensor(np.array([1.0, 2.0, 3.0], dtype="float32").reshape(shape))
        y = layer(x).numpy()
        rows.append({"input shape": str(shape), "output": _short(y.ravel()),
                     "output == input": bool(np.allclose(y, x.numpy())),
                     "running_mean after": _short(running_stats(layer)[0].numpy())})
    ctx.table("one_value", rows, title=ctx.tr("Train mode with one value per channel (variance 0)",
                                                "训练模式下每个通道只有一个值（方差为 0）"))
    return rows


EXPECTED_GLOBAL = {("None", "train"): "batch", ("None", "eval"): "running", ("True", "train"): "running",
                   ("True", "eval"): "running", ("False", "train"): "batch", ("False", "eval"): "batch"}


def _claims(ctx, example_error, first, mean_error, var_error, momentum_error, global_rows):
    """Numerical identities: each is an error against its formula (no seed noise), decided by ctx.check."""
    ctx.check(("Paddle's BN uses batch statistics per feature (N) / per channel (N*H*W) in train mode",
               "Paddle 的 BN 在训练模式下按特征（N 上）/ 按通道（N*H*W 上）用 batch 统计量"),
              example_error, 1e-5, "max |Paddle - numpy| over the four examples (float32 rounding is ~1e-7)")
    ctx.check(("running = 0.9 * running + 0.1 * batch (momentum is the weight of the old value)",
               "running = 0.9 * running + 0.1 * batch（momentum 是旧值的权重）"),
              mean_error, 1e-5, f"max |running_mean - mu(1-0.9^k)| over {ctx.params['steps']} steps")
    ctx.check(("Paddle's running variance uses the biased batch variance (PyTorch: unbiased)",
               "Paddle 的滑动方差用有偏的 batch 方差（PyTorch 用无偏的）"),
              var_error, 1e-5, f"max |running_var - biased formula|; after one step running_var "
              f"{first['running_var (Paddle)']:.7g}, the unbiased convention would give "
              f"{first['PyTorch (unbiased)']:.7g}")
    ctx.check(("PyTorch momentum m equals Paddle momentum 1 - m", "PyTorch 的 momentum m 等于 Paddle 的 momentum 1 - m"),
              momentum_error, 1e-6, "max |Paddle running_mean - PyTorch formula| for m = 0.1, 0.01, 0.5")
    table = {(r["use_global_stats"], r["mode"]): r["normalizes with"] for r in global_rows}
    wrong = sum(table.get(key) != used for key, used in EXPECTED_GLOBAL.items())
    ctx.check(("use_global_stats=True always uses running statistics, False always batch statistics, None follows "
               "the mode", "use_global_stats=True 总用滑动统计量，False 总用 batch 统计量，None 随模式而定"),
              wrong, 0, f"cells of the 3 x 2 table that differ from the claim: {wrong}; {table}")
    return max(example_error, mean_error, var_error) < 1e-5 and momentum_error < 1e-6 and wrong == 0


def run(ctx):
    eps = ctx.params["epsilon"]
    example_error = _examples(ctx, eps)
    first, mean_error, var_error = _running_statistics(ctx, ctx.params["steps"], eps)
    momentum_error = _momentum_conversion(ctx, eps)
    global_rows = _global_stats(ctx, eps)
    one_value = _one_value_per_channel(ctx, eps)
    ctx.note(ctx.tr(f"Golden case after one step: running_mean {first['running_mean']:.7g}, running_var "
                    f"{first['running_var (Paddle)']:.7g} (PyTorch's unbiased convention would give "
                    f"{first['PyTorch (unbiased)']:.7g}).",
                    f"黄金用例训练一步后：running_mean {first['running_mean']:.7g}，running_var "
                    f"{first['running_var (Paddle)']:.7g}（PyTorch 的无偏约定会得到 {first['PyTorch (unbiased)']:.7g}）。"))
    same = [r["output == input"] for r in one_value]
    ctx.note(ctx.tr(f"One value per channel in train mode: output == input is {same}, running_mean after "
                    f"{one_value[0]['running_mean after']}.",
                    f"训练模式下每通道一个值：输出 == 输入为 {same}，之后的 running_mean 为 {one_value[0]['running_mean after']}。"))
    formulas_hold = _claims(ctx, example_error, first, mean_error, var_error, momentum_error, global_rows)
    undo_normalization(ctx, eps)  # the notes' gamma, beta undoing the normalization: four more claims
    if formulas_hold:
        return ctx.tr("Paddle's BatchNorm matches the formulas to float precision: batch statistics in train mode, "
                      f"running = 0.9*running + 0.1*batch with the biased variance (golden case "
                      f"{first['running_var (Paddle)']:.7g}, not PyTorch's 2.2), and use_global_stats overrides "
                      "the mode.",
                      "Paddle 的 BatchNorm 在浮点精度内与公式一致：训练时用 batch 统计量，running = 0.9*running + 0.1*batch，"
                      f"方差是有偏的（黄金用例 {first['running_var (Paddle)']:.7g}，不是 PyTorch 的 2.2），"
                      "use_global_stats 优先于模式。")
    return ctx.tr("Paddle's BatchNorm departs from the formulas; see the tables.", "Paddle 的 BatchNorm 与公式不符，见各表。")
