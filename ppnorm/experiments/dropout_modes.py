"""Paddle's two Dropout modes: the formulas, their expectations, channel dropout, and training with each."""
import numpy as np
import paddle
import paddle.nn.functional as F

from ..models import build_model
from .stats import mean_interval, paired_difference
from .training import digits, fit, optimizer_section

QUESTION = ("Do upscale_in_train and downscale_in_infer give the same expected output, and do networks trained "
            "with either mode behave the same, with weights related by the factor (1 - p)?")
QUESTION_ZH = ("upscale_in_train 与 downscale_in_infer 的训练输出期望是否相同？用两种模式训练的网络是否表现一样，"
               "权重是否差一个 (1 - p) 因子？")
DEFAULTS = {"p": 0.5, "mc_samples": 20000, "seeds": 20, "epochs": 20, "hidden": [256, 256], "lr": 0.05}
QUICK = {"mc_samples": 2000, "seeds": 2, "epochs": 2}
MODES = ("upscale_in_train", "downscale_in_infer")
EXPECTATION_MARGIN = 2.0  # %: a wrong formula is off by p/(1-p) or more (100% at p = 0.5)
SAME_MARGIN = 1.0  # points of held-out top-1: under 4 of the 360 digits, well below a "trains differently"
RATIO_MARGIN = 0.1  # relative: the same-lr norm ratio counts as 1/(1-p) when within 10% of it


def _example(ctx, p):
    x = paddle.to_tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    rows, worst = [], 0.0
    for mode in MODES:
        paddle.seed(ctx.seed)
        train = F.dropout(x, p, training=True, mode=mode).numpy()
        evaluated = F.dropout(x, p, training=False, mode=mode).numpy()
        train_scale, eval_scale = (1 / (1 - p), 1.0) if mode == MODES[0] else (1.0, 1 - p)
        expected_train = x.numpy() * (train != 0) * train_scale  # the mask Paddle drew
        worst = max(worst, np.abs(train - expected_train).max(), np.abs(evaluated - x.numpy() * eval_scale).max())
        rows.append({"mode": mode, "train output": str(train.tolist()), "eval output": str(evaluated.tolist()),
                     "train formula": "x*mask/(1-p)" if mode == MODES[0] else "x*mask",
                     "eval formula": "x" if mode == MODES[0] else "x*(1-p)"})
    ctx.table("example", rows, title=ctx.tr(f"x = [[1,2,3],[4,5,6]], p = {p}, the same seed for both modes",
                                            f"x = [[1,2,3],[4,5,6]]，p = {p}，两种模式用同一个种子"))
    return float(worst)


def _monte_carlo(ctx, p, samples):
    """Per mode: the relative deviation of train outputs from the eval output over many masks (in %)."""
    x = paddle.to_tensor(np.linspace(-2, 3, 6, dtype="float32"))
    rows, curves, deviations = [], [], {}
    for mode in MODES:
        paddle.seed(ctx.seed)  # the same masks for both modes
        draws = F.dropout(paddle.tile(x[None], [samples, 1]), p, training=True, mode=mode).numpy()
        evaluated = F.dropout(x[None], p, training=False, mode=mode).numpy()[0]  # (1-D input fails in Paddle 3.3)
        mean, se = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(samples)
        nonzero = evaluated != 0
        deviations[mode] = mean_interval((100 * (draws[:, nonzero] / evaluated[nonzero] - 1)).ravel())
        rows.append({"mode": mode, "masks": samples,
                     "max abs(mean train - eval)": float(np.abs(mean - evaluated).max()),
                     "standard error": float(se.max()), "relative deviation %": deviations[mode].format(2),
                     "relative deviation mean": deviations[mode].mean,
                     "relative deviation half-width": deviations[mode].half_width})
        curves.append((mode, x.numpy(), mean, se, evaluated))
    ctx.table("monte_carlo", rows, ["mode", "masks", "max abs(mean train - eval)", "standard error",
                                    "relative deviation %"], title=ctx.tr(
        "Mean train-mode output over many masks vs the eval output (x = 6 values from -2 to 3); relative deviation: "
        "train output / eval output - 1 over every mask and nonzero x, mean ± 95% interval",
        "多个 mask 下训练输出的均值与推理输出（x 为 -2 到 3 的 6 个值）；相对偏差：训练输出 / 推理输出 - 1，"
        "对所有 mask 和非零 x 求均值 ± 95% 区间"))
    _monte_carlo_chart(ctx, curves, samples)
    return deviations


def _monte_carlo_chart(ctx, curves, samples):
    fig, axes = ctx.figure(2, width=5.0, height=3.8)
    for ax, (mode, inputs, mean, se, evaluated) in zip(axes[0], curves):
        ax.plot(inputs, evaluated, "k-", label=ctx.chart_text("eval output", "推理输出"))
        ax.errorbar(inputs, mean, yerr=1.96 * se, fmt="o", color="C0", capsize=3, label=ctx.chart_text(
            f"mean of {samples} train outputs (95% interval)", f"{samples} 个训练输出的均值（95% 区间）"))
        ax.set_title(mode), ax.set_xlabel(ctx.chart_text("input x", "输入 x"))
        ax.set_ylabel(ctx.chart_text("output (same units as x)", "输出（与 x 同单位）"))
        ax.legend(loc="upper left", fontsize=8)
    axes[0][1].sharey(axes[0][0])
    ctx.save_figure(fig, "monte_carlo", ctx.tr("train-mode mean vs eval output for both modes",
                                               "两种模式下训练输出的均值与推理输出"))


def _axis(ctx, p):
    x = paddle.ones([8, 16, 4, 4])
    rows = []
    for label, axis in (("element (axis=None)", None), ("channel (axis=[0, 1])", [0, 1])):
        paddle.seed(ctx.seed)
        y = F.dropout(x, p, axis=axis, training=True).numpy()
        channel_zero = (y.reshape(8, 16, -1) == 0).all(axis=-1).mean()
        rows.append({"dropout": label, "zeroed elements": float((y == 0).mean()),
                     "fully zeroed channels": float(channel_zero),
                     "values inside a kept channel all equal": bool(all(
                         len(np.unique(c)) == 1 for c in y.reshape(128, -1) if c.any()))})
    ctx.table("axis", rows, title=ctx.tr(f"The axis argument on a [8, 16, 4, 4] tensor of ones, p = {p}",
                                         f"axis 参数，输入为全 1 的 [8, 16, 4, 4] 张量，p = {p}"))
    return rows


def _train(ctx, mode, p, seed, scaled_like_upscale=False):
    """Train the MLP with dropout ``mode``; the same seed gives both modes the same initial weights and masks.

    ``scaled_like_upscale``: start from W / (1 - p) after every dropout and train those weights with
    lr / (1 - p)^2, which makes downscale_in_infer compute exactly what upscale_in_train computes.
    """
    prm = ctx.params
    ctx.seed_everything(seed)
    model = build_model("mlp", hidden=prm["hidden"], dropout=p, dropout_mode=mode)
    if scaled_like_upscale:
        for param in _after_dropout(model):
            param.set_value(param / (1 - p))
            param.optimize_attr["learning_rate"] = 1.0 / (1 - p) ** 2
    # cosine decay: the last epoch is a settled model, not a snapshot of a noisy constant-lr walk
    section = optimizer_section(name="Momentum", lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, digits("train"), digits("test"), prm["epochs"], 32, seed=seed, optimizer=section)
    variant = "_scaled" if scaled_like_upscale else ""
    ctx.curve(f"{mode}{variant}/seed_{seed}/test_top1", history.eval_steps, history.test_accuracy)
    top1 = 100 * history.test_accuracy[-1]
    ctx.run_done(f"{mode}{variant} seed={seed}", f"top-1 {top1:.2f}%")
    return model, top1, history.test_accuracy


def _after_dropout(model):
    """Weights whose input comes out of a dropout layer: every layer after the first hidden one, and fc."""
    return [layer.linear.weight for layer in list(model.layers)[1:]] + [model.fc.weight]


def _norm_ratio(up, down):
    """Mean over the after-dropout weight matrices of ||W_down|| / ||W_up||."""
    return float(np.mean([np.linalg.norm(b.numpy()) / np.linalg.norm(a.numpy())
                          for a, b in zip(_after_dropout(up), _after_dropout(down))]))


def _same_lr(ctx, p):
    """Both modes trained alike for each seed: per-seed rows, per-mode curves, and the first seed's upscale run."""
    prm = ctx.params
    rows, curves, first = [], {mode: [] for mode in MODES}, None
    for seed in ctx.seeds(prm["seeds"]):
        results = {mode: _train(ctx, mode, p, seed) for mode in MODES}
        first = first or results[MODES[0]][:2]  # reused for the exact correspondence
        curves = {mode: curves[mode] + [results[mode][2]] for mode in MODES}
        rows.append({"seed": seed, "top1 % upscale_in_train": results[MODES[0]][1],
                     "top1 % downscale_in_infer": results[MODES[1]][1],
                     "difference (points)": results[MODES[1]][1] - results[MODES[0]][1],
                     "norm ratio W_down/W_up after dropout": _norm_ratio(results[MODES[0]][0], results[MODES[1]][0])})
        ctx.runs.append(dict(rows[-1]))
    ctx.table("training", rows, title=ctx.tr(
        f"MLP {prm['hidden']} with dropout {p} after each hidden layer on digits, {prm['epochs']} epochs (cosine lr "
        f"{prm['lr']}), the same init, masks and lr in both modes; held-out top-1 (%) per seed",
        f"MLP {prm['hidden']}，每个隐藏层后接 p = {p} 的 dropout，digits 上训练 {prm['epochs']} 轮（cosine 学习率 "
        f"{prm['lr']}），两种模式的初始化、mask 和学习率相同；每个种子的留出集 top-1（%）"))
    return rows, curves, first


def _exact(ctx, p, up_model, up_top1):
    """Train downscale_in_infer from W_up / (1 - p) with lr / (1 - p)^2; returns the largest relative weight gap."""
    down_model, down_top1, _ = _train(ctx, MODES[1], p, ctx.seed, scaled_like_upscale=True)
    exact = max(float(np.abs(b.numpy() * (1 - p) - a.numpy()).max() / np.abs(a.numpy()).max())
                for a, b in zip(_after_dropout(up_model), _after_dropout(down_model)))
    up_model.eval(), down_model.eval()
    logits_gap = float((up_model(digits("test")[0]) - down_model(digits("test")[0])).abs().max())
    ctx.table("equivalence", [{"top1 % upscale": up_top1, "top1 % downscale (scaled start, lr/(1-p)^2)": down_top1,
                               "max rel diff W_down*(1-p) vs W_up": exact, "max abs logit difference": logits_gap}],
              title=ctx.tr("Exact correspondence: W_down = W_up / (1 - p) when trained from W_up/(1-p) with lr/(1-p)^2",
                           "精确对应：从 W_up/(1-p) 出发、学习率 lr/(1-p)^2 训练时 W_down = W_up / (1 - p)"))
    return exact, logits_gap


def _training_chart(ctx, curves, rows):
    """Left: held-out error per epoch of both modes (mean, 95% band); right: per-seed paired differences."""
    fig, axes = ctx.figure(2, width=5.0, height=3.8)
    left, right = axes[0]
    for color, mode in zip(("C0", "C1"), MODES):
        errors = 100 * (1 - np.array(curves[mode]))  # [seeds, epochs]
        estimates = [mean_interval(errors[:, e]) for e in range(errors.shape[1])]
        mean = np.array([e.mean for e in estimates])
        half = np.nan_to_num([e.half_width for e in estimates])
        epochs = np.arange(1, len(mean) + 1)
        left.plot(epochs, mean, "-", color=color, label=ctx.chart_text(f"{mode} (mean)", f"{mode}（均值）"))
        left.fill_between(epochs, mean - half, mean + half, color=color, alpha=0.25, lw=0,
                          label=ctx.chart_text(f"{mode} (95% interval)", f"{mode}（95% 区间）"))
    left.set_xlabel(ctx.chart_text("epoch", "轮"))
    left.set_ylabel(ctx.chart_text("held-out error (%)", "留出集错误率（%）"))
    left.legend(fontsize=8)
    difference = paired_difference([r["top1 % downscale_in_infer"] for r in rows],
                                   [r["top1 % upscale_in_train"] for r in rows])
    right.axhspan(-SAME_MARGIN, SAME_MARGIN, color="0.9", label=ctx.chart_text(
        f"claim: within ±{SAME_MARGIN:g} point", f"说法：在 ±{SAME_MARGIN:g} 个点以内"))
    right.plot([r["seed"] for r in rows], [r["difference (points)"] for r in rows], "o", color="C2",
               label=ctx.chart_text("one seed", "单个种子"))
    right.errorbar([max(r["seed"] for r in rows) + 1.5], [difference.mean], yerr=[np.nan_to_num(difference.half_width)],
                   fmt="s", color="k", capsize=4, label=ctx.chart_text("mean (95% interval)", "均值（95% 区间）"))
    right.set_xlabel(ctx.chart_text("seed", "种子"))
    right.set_ylabel(ctx.chart_text("top-1 downscale - upscale (points)", "top-1：downscale - upscale（个点）"))
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: no point hidden
    ctx.save_figure(fig, "training", ctx.tr("both modes trained alike: error curves and paired differences",
                                            "两种模式同样训练：错误率曲线与按种子配对的差"))
    return difference


def _claims(ctx, p, example_error, deviations, difference, ratios, exact, logits_gap):
    """Formulas and the exact correspondence are checks; expectation, training and same-lr weights are intervals."""
    ctx.check(("Train and eval outputs follow the formulas (upscale: x*mask/(1-p), x; downscale: x*mask, x*(1-p))",
               "训练与推理输出符合公式（upscale：x*mask/(1-p)、x；downscale：x*mask、x*(1-p)）"),
              example_error, 1e-6, "max |Paddle - formula| on x = [[1,2,3],[4,5,6]] with the mask Paddle drew")
    for mode in MODES:
        ctx.compare((f"{mode}: the expectation of the train output is the eval output "
                     f"(within ±{EXPECTATION_MARGIN:g}%)",
                     f"{mode}：训练输出的期望等于推理输出（相对偏差在 ±{EXPECTATION_MARGIN:g}% 以内）"),
                    deviations[mode], "within", EXPECTATION_MARGIN, unit=" %",
                    evidence=f"train output / eval output - 1 over {ctx.params['mc_samples']} masks and 5 nonzero x; "
                             f"a wrong scale would be off by {100 * p / (1 - p):.0f}% or more")
    ctx.compare((f"The two modes train equally well (same init, masks and lr; top-1 within ±{SAME_MARGIN:g} point)",
                 f"两种模式训练得一样好（初始化、mask、学习率相同；top-1 相差在 ±{SAME_MARGIN:g} 个点以内）"),
                difference, "within", SAME_MARGIN, unit=" points",
                evidence=f"downscale minus upscale held-out top-1 per seed (paired); {SAME_MARGIN:g} point is "
                         f"{3.6 * SAME_MARGIN:.1f} of the 360 held-out digits")
    ctx.check(("Downscale weights equal upscale weights / (1-p) when trained from W_up/(1-p) with lr/(1-p)^2",
               "从 W_up/(1-p) 出发、学习率乘 1/(1-p)^2 训练时，downscale 的权重等于 upscale 的权重 / (1-p)"),
              exact, 1e-5, f"max relative |W_down*(1-p) - W_up| after training; max logit difference {logits_gap:.2g}")
    target = 1 / (1 - p)
    ctx.compare((f"With the same lr, downscale weights are upscale weights / (1-p) (norm ratio within "
                 f"{RATIO_MARGIN:.0%} of {target:g})",
                 f"学习率相同时，downscale 的权重是 upscale 的权重 / (1-p)（范数比在 {target:g} 的 {RATIO_MARGIN:.0%} 以内）"),
                mean_interval(np.array(ratios) - target), "within", RATIO_MARGIN * target,
                evidence=f"per seed, mean over the after-dropout matrices of ||W_down|| / ||W_up||, minus {target:g}")


def run(ctx):
    prm = ctx.params
    p = prm["p"]
    example_error = _example(ctx, p)
    deviations = _monte_carlo(ctx, p, prm["mc_samples"])
    axis_rows = _axis(ctx, p)
    ctx.plan(2 * prm["seeds"] + 1)
    rows, curves, (up_model, up_top1) = _same_lr(ctx, p)
    exact, logits_gap = _exact(ctx, p, up_model, up_top1)
    difference = _training_chart(ctx, curves, rows)
    ratios = [r["norm ratio W_down/W_up after dropout"] for r in rows]
    _claims(ctx, p, example_error, deviations, difference, ratios, exact, logits_gap)
    element, channel = (r["fully zeroed channels"] for r in axis_rows)
    ctx.note(ctx.tr(f"Channel dropout zeroes {channel:.2f} of the channels, element dropout {element:.2f}.",
                    f"按通道 dropout 整通道置零的比例为 {channel:.2f}，按元素的为 {element:.2f}。"))
    ups, downs = (mean_interval([r[f"top1 % {mode}"] for r in rows]) for mode in MODES)
    return ctx.tr(f"Both modes have the eval output as their mean; trained the same way they reach {ups.format(2)}% vs "
                  f"{downs.format(2)}% top-1 (difference {difference.format(2)} points), and downscale_in_infer's "
                  f"weights equal upscale_in_train's divided by (1-p) exactly when its learning rate is scaled by "
                  f"1/(1-p)^2 (with the same lr the norm ratio is {np.mean(ratios):.2f}, not {1 / (1 - p):g}).",
                  f"两种模式训练输出的均值都等于推理输出；同样训练时 top-1 分别为 {ups.format(2)}% 与 {downs.format(2)}%"
                  f"（差 {difference.format(2)} 个点）；downscale_in_infer 的学习率乘 1/(1-p)^2 时其权重正好是 "
                  f"upscale_in_train 的权重除以 (1-p)（学习率相同时范数比为 {np.mean(ratios):.2f}，不是 {1 / (1 - p):g}）。")
