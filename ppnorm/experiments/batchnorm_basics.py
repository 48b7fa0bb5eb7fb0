"""BatchNorm in Paddle, number by number: the notes' two examples, running statistics, Paddle vs PyTorch."""
import numpy as np
import paddle
import paddle.nn as nn

from ..nn import momentum_from_torch, running_stats, set_running_stats

QUESTION = ("Does Paddle's BatchNorm compute exactly what the formulas say (per-feature / per-channel batch "
            "statistics, moving averages with momentum 0.9, biased running variance, use_global_stats)?")
DEFAULTS = {"steps": 10, "epsilon": 1e-5}
QUICK = {"steps": 5}


def _short(values):
    """A vector as text with 5 decimals (float32 values printed without their float64 noise)."""
    return "[" + ", ".join(f"{float(v):.5g}" for v in values) + "]"


def _numpy_bn(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased, like Paddle
    return (x - mean) / np.sqrt(var + eps)


def _examples(ctx, eps):
    rows = []
    x1 = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype="float32")
    bn1 = nn.BatchNorm1D(3, epsilon=eps)
    train1 = bn1(paddle.to_tensor(x1)).numpy()
    rows.append({"example": "BatchNorm1D on [[1,2,3],[4,5,6],[7,8,9]]", "mode": "train",
                 "statistics": "per feature over N", "max abs diff vs numpy": float(np.abs(train1 - _numpy_bn(x1, 0, eps)).max()),
                 "first row": _short(train1[0])})
    fresh = nn.BatchNorm1D(3, epsilon=eps)
    fresh.eval()
    eval1 = fresh(paddle.to_tensor(x1)).numpy()
    rows.append({"example": "BatchNorm1D, fresh layer", "mode": "eval", "statistics": "running mean 0, var 1",
                 "max abs diff vs numpy": float(np.abs(eval1 - x1 / np.sqrt(1 + eps)).max()),
                 "first row": _short(eval1[0])})
    np.random.seed(100)
    x2 = np.random.rand(2, 3, 3, 3).astype("float32")
    bn2 = nn.BatchNorm2D(3, epsilon=eps)
    train2 = bn2(paddle.to_tensor(x2)).numpy()
    rows.append({"example": "BatchNorm2D on seed(100) rand(2,3,3,3)", "mode": "train",
                 "statistics": "per channel over N*H*W", "max abs diff vs numpy":
                 float(np.abs(train2 - _numpy_bn(x2, (0, 2, 3), eps)).max()),
                 "first row": _short(train2[0, 0, 0])})
    bn2.eval()
    mean = x2.mean(axis=(0, 2, 3)) * 0.1  # one step from (0, 1) with momentum 0.9
    var = 0.9 + x2.var(axis=(0, 2, 3)) * 0.1
    eval2 = bn2(paddle.to_tensor(x2)).numpy()
    expected = (x2 - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + eps)
    rows.append({"example": "the same layer after that step", "mode": "eval", "statistics": "running statistics",
                 "max abs diff vs numpy": float(np.abs(eval2 - expected).max()),
                 "first row": _short(eval2[0, 0, 0])})
    ctx.table("examples", rows, title="The notes' examples against numpy")
    return max(r["max abs diff vs numpy"] for r in rows)


def _running_statistics(ctx, steps, eps):
    x = paddle.to_tensor(np.arange(12, dtype="float32").reshape(2, 1, 2, 3))
    mu, biased = float(x.numpy().mean()), float(x.numpy().var())
    unbiased = biased * x.size / (x.size - 1)
    bn = nn.BatchNorm2D(1, epsilon=eps)
    rows = []
    for k in range(1, steps + 1):
        bn(x)
        rows.append({"k": k, "running_mean": float(running_stats(bn)[0].numpy()[0]), "mu*(1-0.9^k)": mu * (1 - 0.9 ** k),
                     "running_var (Paddle)": float(running_stats(bn)[1].numpy()[0]),
                     "1+(biased-1)(1-0.9^k)": 1 + (biased - 1) * (1 - 0.9 ** k),
                     "PyTorch (unbiased)": 1 + (unbiased - 1) * (1 - 0.9 ** k)})
    ctx.table("running", rows, title="Running statistics over k train steps on the constant batch arange(12) "
                                     "as [2,1,2,3] (mu 5.5, biased var 11.9167, unbiased 13)")
    fig, axes = ctx.figure(2)
    ks = [r["k"] for r in rows]
    axes[0][0].plot(ks, [r["running_mean"] for r in rows], "o", label="Paddle running_mean")
    axes[0][0].plot(ks, [r["mu*(1-0.9^k)"] for r in rows], "-", label="mu (1 - 0.9^k)")
    axes[0][0].set_xlabel("train steps k"), axes[0][0].legend()
    axes[0][1].plot(ks, [r["running_var (Paddle)"] for r in rows], "o", label="Paddle (biased)")
    axes[0][1].plot(ks, [r["PyTorch (unbiased)"] for r in rows], "s", label="PyTorch formula (unbiased)")
    axes[0][1].set_xlabel("train steps k"), axes[0][1].legend()
    ctx.save_figure(fig, "running_statistics", "running mean and variance vs steps")
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
    ctx.table("momentum", rows, title="PyTorch momentum m is Paddle momentum 1 - m (ppnorm.nn.momentum_from_torch)")
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
    ctx.table("global_stats", rows, title="use_global_stats: which statistics normalize, and whether running "
                                          "statistics move")
    return rows


def _one_value_per_channel(ctx, eps):
    rows = []
    for shape, layer in (([1, 3], nn.BatchNorm1D(3, epsilon=eps)), ([1, 3, 1, 1], nn.BatchNorm2D(3, epsilon=eps))):
        x = paddle.to_tensor(np.array([1.0, 2.0, 3.0], dtype="float32").reshape(shape))
        y = layer(x).numpy()
        rows.append({"input shape": str(shape), "output": _short(y.ravel()),
                     "output == input": bool(np.allclose(y, x.numpy())),
                     "running_mean after": _short(running_stats(layer)[0].numpy())})
    ctx.table("one_value", rows, title="Train mode with one value per channel (variance 0)")
    return rows


def run(ctx):
    eps = ctx.params["epsilon"]
    example_error = _examples(ctx, eps)
    first, mean_error, var_error = _running_statistics(ctx, ctx.params["steps"], eps)
    momentum_error = _momentum_conversion(ctx, eps)
    global_rows = _global_stats(ctx, eps)
    one_value = _one_value_per_channel(ctx, eps)
    ctx.note(f"Golden case after one step: running_mean {first['running_mean']:.7g}, running_var "
             f"{first['running_var (Paddle)']:.7g} (PyTorch's unbiased convention would give "
             f"{first['PyTorch (unbiased)']:.7g}).")
    ctx.note(f"One value per channel in train mode: output == input is "
             f"{[r['output == input'] for r in one_value]}, running_mean after {one_value[0]['running_mean after']}.")
    ctx.claim("Paddle's BN uses batch statistics per feature (N) / per channel (N*H*W) in train mode",
              "confirmed" if example_error < 1e-5 else "refuted", f"max abs diff vs numpy = {example_error:.2g}")
    ctx.claim("running = 0.9 * running + 0.1 * batch (momentum is the weight of the old value)",
              "confirmed" if mean_error < 1e-5 else "refuted", f"max error vs mu(1-0.9^k) = {mean_error:.2g}")
    ctx.claim("Paddle's running variance uses the biased batch variance (PyTorch: unbiased)",
              "confirmed" if var_error < 1e-5 else "refuted",
              f"running_var {first['running_var (Paddle)']:.7g} vs unbiased {first['PyTorch (unbiased)']:.7g}")
    ctx.claim("PyTorch momentum m equals Paddle momentum 1 - m", "confirmed" if momentum_error < 1e-6 else "refuted",
              f"max difference {momentum_error:.2g}")
    table = {(r["use_global_stats"], r["mode"]): r["normalizes with"] for r in global_rows}
    expected = {("None", "train"): "batch", ("None", "eval"): "running", ("True", "train"): "running",
                ("True", "eval"): "running", ("False", "train"): "batch", ("False", "eval"): "batch"}
    ctx.claim("use_global_stats=True always uses running statistics, False always batch statistics, None follows "
              "the mode", "confirmed" if table == expected else "refuted", str(table))
    ok = example_error < 1e-5 and mean_error < 1e-5 and var_error < 1e-5 and table == expected
    return ("Paddle's BatchNorm matches the formulas to float precision: batch statistics in train mode, "
            f"running = 0.9*running + 0.1*batch with the biased variance (golden case {first['running_var (Paddle)']:.7g}, "
            "not PyTorch's 2.2), and use_global_stats overrides the mode." if ok else
            "Paddle's BatchNorm departs from the formulas; see the tables.")
