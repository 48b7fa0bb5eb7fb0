"""GroupNorm's number of groups, from 1 (= LayerNorm over C,H,W) to one channel per group (= InstanceNorm)."""
import numpy as np
import paddle

from ..engine.config import ConfigError
from ..models import build_model
from ..nn import build_norm
from .stats import mean_interval, paired_difference
from .training import digits, fit, optimizer_section

QUESTION = ("How does GroupNorm's error depend on the number of groups, and are its two ends really LN "
            "(1 group) and IN (one channel per group)?")
QUESTION_ZH = "GroupNorm 的错误率如何随组数变化？它的两端真的就是 LN（1 组）和 IN（每组一个通道）吗？"
DEFAULTS = {"groups": [1, 2, 4, 8, 16, 32], "channels": 32, "epochs": 5, "batch_size": 32, "lr": 0.05, "seeds": 5}
QUICK = {"groups": [1, 4, 32], "epochs": 1, "seeds": 2}


def _ends_are_ln_and_in(channels):
    """GroupNorm(1, C) equals the ``ln`` factory norm and GroupNorm(C, C) equals InstanceNorm (same input)."""
    x = paddle.randn([4, channels, 5, 5]) * 3 + 1
    ln_error = float((build_norm("gn", channels, groups=1)(x) - build_norm("ln", channels)(x)).abs().max())
    centered = x - x.mean(axis=[1, 2, 3], keepdim=True)  # by hand: paddle.var type-promotes and warns
    per_sample = centered / paddle.sqrt((centered ** 2).mean(axis=[1, 2, 3], keepdim=True) + 1e-5)
    ln_by_hand = float((build_norm("gn", channels, groups=1)(x) - per_sample).abs().max())
    in_error = float((build_norm("gn", channels, groups=channels)(x) - build_norm("in", channels)(x)).abs().max())
    return ln_error, ln_by_hand, in_error


def _error(ctx, groups, seed):
    """Held-out error of simple_cnn with GroupNorm(``groups``) trained with ``seed``."""
    prm, c = ctx.params, ctx.params["channels"]
    ctx.seed_everything(seed)
    model = build_model("simple_cnn", widths=[c, c], in_channels=1, num_classes=10, norm="gn",
                        norm_options={"groups": groups})
    section = optimizer_section(name="Momentum", weight_decay=5e-4,
                                lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, digits("train"), digits("test"), prm["epochs"], prm["batch_size"], seed=seed,
                  optimizer=section)
    ctx.curve(f"groups_{groups}/seed_{seed}/test_top1", history.eval_steps, history.test_accuracy)
    error = 100 * (1.0 - history.test_accuracy[-1])
    ctx.run_done(f"groups={groups} seed={seed}", f"error {error:.2f}%", groups=groups, seed=seed, error_pct=error)
    return error


def _sweep(ctx):
    """``{groups: [error % per seed]}`` and one table row per number of groups (mean ± 95% interval)."""
    prm, c = ctx.params, ctx.params["channels"]
    ctx.plan(len(prm["groups"]) * prm["seeds"])
    errors = {groups: [_error(ctx, groups, seed) for seed in ctx.seeds(prm["seeds"])] for groups in prm["groups"]}
    rows = []
    for groups, values in errors.items():
        estimate = mean_interval(values)
        label = "= LN" if groups == 1 else ("= IN" if groups == c else "")
        rows.append({"groups": groups, "channels per group": c // groups, "same as": label,
                     "error %": estimate.format(2), "mean": estimate.mean, "half-width": estimate.half_width})
    return errors, rows


def _error_bars(rows):
    """(below, above) lengths of each row's 95% interval, cut at 0 % and 100 %: an error rate outside them is
    impossible, and with few seeds the interval of the mean reaches past them (the table keeps the full ±)."""
    below = [min(r["half-width"], r["mean"]) for r in rows]
    above = [min(r["half-width"], 100.0 - r["mean"]) for r in rows]
    return below, above


def _chart(ctx, rows):
    fig, axes = ctx.figure()
    ax = axes[0][0]
    groups, below_above = [r["groups"] for r in rows], _error_bars(rows)
    ax.errorbar(groups, [r["mean"] for r in rows], yerr=below_above,
                fmt="o-", capsize=3, label=ctx.chart_text("mean ± 95% interval over seeds (cut to 0–100 %)",
                                                          "均值 ± 95% 区间（多个种子；截在 0–100 % 内）"))
    ax.set_xscale("log", base=2)
    ax.set_xticks(groups, [str(g) for g in groups])  # the groups run, as plain numbers (not 2^k)
    ax.minorticks_off()
    top = max(r["mean"] + above for r, above in zip(rows, below_above[1]))
    ax.set_ylim(0, min(100.0, 1.3 * top) or 1.0)  # from 0 % error, with room for the legend above the bars
    ax.set_xlabel(ctx.chart_text("groups (1 = LN, C = IN)", "组数（1 = LN，C = IN）"))
    ax.set_ylabel(ctx.chart_text("held-out error (%)", "留出集错误率（%）"))
    ax.legend()
    ctx.save_figure(fig, "group_sweep", ctx.tr("error vs number of groups", "错误率与组数"))


def _claims(ctx, errors, ln_error, ln_by_hand, in_error):
    """The identity of the two ends, then each end against the middle groupings (paired by seed)."""
    c = ctx.params["channels"]
    ctx.check(("GroupNorm with 1 group is LayerNorm over (C, H, W); with C groups it is InstanceNorm",
               "1 组的 GroupNorm 就是在 (C, H, W) 上的 LayerNorm；C 组的就是 InstanceNorm"),
              max(ln_error, ln_by_hand, in_error), 1e-4,
              f"max differences {ln_error:.1g} (ln), {ln_by_hand:.1g} (by hand), {in_error:.1g} (in)")
    middle = [g for g in errors if 1 < g < c]
    if not middle:
        return
    middle_mean = np.mean([errors[g] for g in middle], axis=0)  # per seed: the average middle grouping
    for end, en, zh in ((1, "LN (1 group)", "LN（1 组）"), (c, "IN (C groups)", "IN（C 组）")):
        if end in errors:
            ctx.compare((f"{en} has a higher error than the middle groupings (Wu & He: the ends are the worst)",
                         f"{zh}的错误率高于中间的组数（Wu & He：两端最差）"),
                        paired_difference(errors[end], middle_mean), "greater", unit=" points",
                        evidence=f"error of {end} group(s) minus the mean of groups {middle}, per seed")


def run(ctx):
    prm = ctx.params
    c = prm["channels"]
    bad = [g for g in prm["groups"] if c % g]
    if bad:
        raise ConfigError(f"params.groups {bad} do not divide params.channels={c}")
    ln_error, ln_by_hand, in_error = _ends_are_ln_and_in(c)
    errors, rows = _sweep(ctx)
    ctx.table("groups", rows, ["groups", "channels per group", "same as", "error %"],
              title=ctx.tr(f"GroupNorm in simple_cnn [{c}, {c}] on digits, {prm['epochs']} epochs, held-out error (%), "
                           f"mean ± 95% interval over {prm['seeds']} seeds",
                           f"simple_cnn [{c}, {c}] 中的 GroupNorm，digits 上训练 {prm['epochs']} 轮，留出集错误率（%），"
                           f"{prm['seeds']} 个种子的均值 ± 95% 区间"))
    _chart(ctx, rows)
    _claims(ctx, errors, ln_error, ln_by_hand, in_error)
    best = min(rows, key=lambda r: r["mean"])
    return ctx.tr(f"GN(1) equals LN and GN(C) equals IN to {max(ln_error, in_error):.1g}; the lowest mean error is "
                  f"{best['groups']} groups ({best['error %']}%).",
                  f"GN(1) 与 LN、GN(C) 与 IN 相差不超过 {max(ln_error, in_error):.1g}；平均错误率最低的是 "
                  f"{best['groups']} 组（{best['error %']}%）。")
