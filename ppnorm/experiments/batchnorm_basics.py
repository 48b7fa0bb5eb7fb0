"""BatchNorm in Paddle, number by number: every result is a numerical identity (``ctx.check``). A cell trains a
BatchNorm2D with Paddle momentum 1 - m on a random batch (one per seed) against PyTorch's formulas with momentum m;
the hooks add the notes' examples, the golden batch, use_global_stats and gamma, beta undoing BN."""
import numpy as np
import paddle
import paddle.nn as nn

from ..nn import momentum_from_torch, running_stats, set_running_stats
from .bn_identity import undo_normalization
from .charts import Chart, draw
from .framework import Experiment, Stat, Table

ORDER = 10  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does Paddle's BatchNorm compute exactly what the formulas say (per-feature / per-channel batch "
            "statistics, moving averages with momentum 0.9, biased running variance, use_global_stats)?")
QUESTION_ZH = ("Paddle 的 BatchNorm 是否正好按公式计算（训练时按特征 / 按通道的 batch 统计量、momentum 0.9 的滑动平均、"
               "有偏的滑动方差、use_global_stats 的作用）？")
DEFAULTS = {"steps": 10, "epsilon": 1e-5, "torch_momenta": [0.1, 0.01, 0.5], "seeds": 3}
QUICK = {"steps": 5, "seeds": 2}
DATA = "it checks BatchNorm's formulas on small hand-made tensors, not on a data set"
EPS32 = float(np.finfo("float32").eps)  # the cells' errors are stated in float32 epsilons (2^-23, about 1.2e-7)
AXES = (0, 2, 3)  # BatchNorm2D's statistics: per channel over N, H, W
GOLDEN_COLUMNS = ("k", "running_mean", "mu*(1-0.9^k)", "running_var (Paddle)", "1+(biased-1)(1-0.9^k)",
                  "PyTorch (unbiased)", "output err", "mean err", "var err")  # the formulas' names are momentum 0.9's


def numpy_bn(x, axes, eps, mean=None, var=None):
    """``x`` normalized with ``mean``, ``var`` (default: its batch statistics over ``axes``, biased like Paddle)."""
    mean = x.mean(axis=axes, keepdims=True) if mean is None else mean
    return (x - mean) / np.sqrt((x.var(axis=axes, keepdims=True) if var is None else var) + eps)


def running_rows(x, torch_momentum, steps, eps):
    """After k = 1..steps train steps with Paddle momentum 1 - m on the constant one-channel batch ``x``: Paddle's
    running statistics, the closed forms from (0, 1) (mean; variance biased and unbiased) and the errors."""
    bn, rows = nn.BatchNorm2D(1, momentum=momentum_from_torch(torch_momentum), epsilon=eps), []
    for k in range(1, steps + 1):
        error = float(np.abs(bn(paddle.to_tensor(x)).numpy() - numpy_bn(x, AXES, eps)).max())
        (mean, var), weight = (float(t.numpy()[0]) for t in running_stats(bn)), 1 - (1 - torch_momentum) ** k
        forms = [float(x.mean()) * weight] + [1 + (float(x.var(ddof=d)) - 1) * weight for d in (0, 1)]
        rows.append(dict(zip(GOLDEN_COLUMNS, (k, mean, forms[0], var, *forms[1:], error, abs(mean - forms[0]),
                                              abs(var - forms[1])))))
    return rows


def cell(ctx, setting, seed):
    """``running_rows`` on the seed's random [4, 1, 3, 3] batch: its worst errors in float32 epsilons."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((4, 1, 3, 3)) * rng.uniform(0.5, 3) + rng.normal(0, 2)).astype("float32")  # one channel
    rows = running_rows(x, setting["PyTorch momentum"], ctx.params["steps"], ctx.params["epsilon"])
    return {f"{name}_eps": max(r[f"{name} err"] for r in rows) / EPS32 for name in ("output", "mean", "var")}


def _before(ctx, results):
    """The notes' examples and the golden case against numpy (tables, chart); checked with the cells' in after."""
    eps = ctx.params["epsilon"]
    x1 = np.arange(1, 10, dtype="float32").reshape(3, 3)
    x2 = np.random.RandomState(100).rand(2, 3, 3, 3).astype("float32")  # the notes' seed(100) rand(2,3,3,3)
    bn1, fresh, bn2 = nn.BatchNorm1D(3, epsilon=eps), nn.BatchNorm1D(3, epsilon=eps), nn.BatchNorm2D(3, epsilon=eps)
    one_step = 0.1 * x2.mean(AXES, keepdims=True), 0.9 + 0.1 * x2.var(AXES, keepdims=True)  # running, from (0, 1)
    cases = [(bn1, x1, "train", numpy_bn(x1, 0, eps), "BatchNorm1D on [[1,2,3],[4,5,6],[7,8,9]]",
              "BatchNorm1D，输入 [[1,2,3],[4,5,6],[7,8,9]]", ("per feature over N", "每个特征，在 N 上")),
             (fresh, x1, "eval", x1 / np.sqrt(1 + eps), "BatchNorm1D, fresh layer",
              "BatchNorm1D，新建的层", ("running mean 0, var 1", "滑动均值 0、方差 1")),
             (bn2, x2, "train", numpy_bn(x2, AXES, eps), "BatchNorm2D on seed(100) rand(2,3,3,3)",
              "BatchNorm2D，输入 seed(100) rand(2,3,3,3)", ("per channel over N*H*W", "每个通道，在 N*H*W 上")),
             (bn2, x2, "eval", numpy_bn(x2, AXES, eps, *one_step), "the same layer after that step", "同一层，训练一步之后",
              ("running statistics", "滑动统计量"))]
    rows = []
    for layer, x, mode, expected, en, zh, statistics in cases:
        layer.train() if mode == "train" else layer.eval()
        output = layer(paddle.to_tensor(x)).numpy()
        rows.append({"example": ctx.tr(en, zh), "mode": mode, "statistics": ctx.tr(*statistics),
                     "max abs diff vs numpy": float(np.abs(output - expected).max()),
                     "first row": "[" + ", ".join(f"{float(v):.5g}" for v in output.reshape(-1, 3)[0]) + "]"})
    ctx.table("examples", rows, title=ctx.tr("The notes' examples against numpy", "笔记中的例子与 numpy 对比"))
    golden = running_rows(np.arange(12, dtype="float32").reshape(2, 1, 2, 3), 0.1, ctx.params["steps"], eps)
    results.store.update(examples=max(r["max abs diff vs numpy"] for r in rows), golden=golden)
    ctx.table("running", golden, title=ctx.tr(
        "Running statistics over k train steps with momentum 0.9 on the constant batch arange(12) as [2,1,2,3] (mu "
        "5.5, biased var 11.9167, unbiased 13)", "在固定 batch arange(12)（形状 [2,1,2,3]，mu 5.5，有偏方差 11.9167，无偏 13）"
        "上以 momentum 0.9 训练 k 步后的滑动统计量"))
    draw(ctx, Chart("curves", "running_statistics", GOLDEN_COLUMNS[1:6], (
        "running statistics vs steps on the golden batch", "黄金 batch 上滑动统计量随步数的变化"), (
        "input units (variance: squared)", "输入的单位（方差：平方）"), ("train steps k on the same batch",
        "在同一 batch 上的训练步数 k")), [{key: [r[key] for r in golden] for key in GOLDEN_COLUMNS}])


def _global_stats(ctx, eps):
    """Per use_global_stats and mode: which statistics normalize (running ones 5, 4), whether they move; checked."""
    x, rows = (np.random.default_rng(1).standard_normal((6, 2, 3, 3)) * 2 + 1).astype("float32"), []
    for setting, mode in ((setting, mode) for setting in (None, True, False) for mode in ("train", "eval")):
        bn = nn.BatchNorm2D(2, epsilon=eps, use_global_stats=setting)
        set_running_stats(bn, paddle.full([2], 5.0), paddle.full([2], 4.0))
        bn.train() if mode == "train" else bn.eval()
        y = bn(paddle.to_tensor(x)).numpy()
        used = [name for name, stats in (("batch", ()), ("running", (5.0, 4.0)))
                if np.allclose(y, numpy_bn(x, AXES, eps, *stats), atol=1e-4)]
        rows.append({"use_global_stats": str(setting), "mode": mode, "normalizes with": (used or ["neither"])[0],
                     "running stats updated": not np.allclose(running_stats(bn)[0].numpy(), 5.0),
                     "the rule says": "running" if setting or (setting is None and mode == "eval") else "batch"})
    ctx.table("global_stats", rows, title=ctx.tr("use_global_stats: which statistics normalize, and whether running "
                                                 "statistics move", "use_global_stats：用哪种统计量归一化，滑动统计量是否更新"))
    wrong = [f"{r['use_global_stats']}/{r['mode']}" for r in rows if r["normalizes with"] != r["the rule says"]]
    return ctx.check(("use_global_stats=True always uses running statistics, False always batch statistics, None "
                      "follows the mode", "use_global_stats=True 总用滑动统计量，False 总用 batch 统计量，None 随模式而定"),
                     len(wrong), 0, f"cells of the 3 x 2 table that differ from the claim: {len(wrong)} {wrong}")


def _after(ctx, results):
    """The identities, each the worst error over the examples, the golden case and every cell that measure it;
    use_global_stats; gamma, beta undoing the normalization (bn_identity)."""
    golden, eps = results.store["golden"], ctx.params["epsilon"]
    var = golden[0]["running_var (Paddle)"]
    worst = {name: EPS32 * max(run[f"{name}_eps"] for run in results.runs) for name in ("output", "mean", "var")}
    cells = f"{len(results.runs)} cells (m = {ctx.params['torch_momenta']})"
    checks = [  # (claim, error, tolerance, evidence); the cells run k float32 steps: the same 1e-5 for all four
        (("Paddle's BN uses batch statistics per feature (N) / per channel (N*H*W) in train mode",
          "Paddle 的 BN 在训练模式下按特征（N 上）/ 按通道（N*H*W 上）用 batch 统计量"),
         max(results.store["examples"], worst["output"]), 1e-5, f"max |Paddle - numpy|, the notes' examples, {cells}"),
        (("running = 0.9 * running + 0.1 * batch (momentum is the weight of the old value)",
          "running = 0.9 * running + 0.1 * batch（momentum 是旧值的权重）"),
         max(r["mean err"] for r in golden), 1e-5, f"max |running_mean - mu(1-0.9^k)| over {len(golden)} golden steps"),
        (("Paddle's running variance uses the biased batch variance (PyTorch: unbiased)",
          "Paddle 的滑动方差用有偏的 batch 方差（PyTorch 用无偏的）"), max(max(r["var err"] for r in golden), worst["var"]),
         1e-5, f"max |running_var - biased formula|, the golden case and {cells}; after one golden step running_var "
         f"{var:.7g}, the unbiased convention would give {golden[0]['PyTorch (unbiased)']:.7g}"),
        (("PyTorch momentum m equals Paddle momentum 1 - m", "PyTorch 的 momentum m 等于 Paddle 的 momentum 1 - m"),
         worst["mean"], 1e-5, f"max |running_mean - PyTorch formula| over {cells}")]
    passed = [ctx.check(*check) for check in checks] + [_global_stats(ctx, eps)]
    results.store["summary"] = ctx.tr(
        f"The five identities hold to float precision (golden case: running_var {var:.7g}, not PyTorch's 2.2).",
        f"五条恒等式在浮点精度内成立（黄金用例：running_var {var:.7g}，不是 PyTorch 的 2.2）。") if passed.count(
        "passed") == 5 else ctx.tr("A check failed: see the checks table.", "有数值核对未通过，见数值核对表。")
    undo_normalization(ctx, eps)  # the notes' gamma, beta undoing the normalization: four more checks


EXPERIMENT = Experiment(
    grid=lambda params: [{"PyTorch momentum": m} for m in params["torch_momenta"]], cell=cell,
    metrics=("output_eps", "mean_eps", "var_eps"), before=_before, after=_after,
    summary=lambda ctx, results: results.store["summary"],
    table=Table("momentum", (
        "{steps} train steps on a random [4,1,3,3] batch (one per seed, {seeds} seeds) with Paddle momentum 1 - m "
        "against numpy and PyTorch's formulas with momentum m: worst errors in float32 epsilons (1.2e-7)",
        "在随机 [4,1,3,3] batch（每个种子一个，共 {seeds} 个种子）上以 Paddle momentum 1 - m 训练 {steps} 步，与 numpy "
        "及 momentum 为 m 的 PyTorch 公式对比：最大误差，以 float32 的 epsilon（1.2e-7）为单位"),
        ("PyTorch momentum", "Paddle momentum", Stat("train output vs numpy (eps)", "output_eps", 1),
         Stat("running_mean vs PyTorch formula (eps)", "mean_eps", 1),
         Stat("running_var vs biased formula (eps)", "var_eps", 1)),
        extra=lambda setting, params: {"Paddle momentum": momentum_from_torch(setting["PyTorch momentum"])}))
run = EXPERIMENT.run
