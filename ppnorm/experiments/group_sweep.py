"""GroupNorm's number of groups, from 1 (= LayerNorm over C,H,W) to one channel per group (= InstanceNorm)."""
import paddle

from ..engine.config import ConfigError
from ..models import build_model
from ..nn import build_norm
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import fit, optimizer_section

ORDER = 50  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("How does GroupNorm's error depend on the number of groups, and are its two ends really LN "
            "(1 group) and IN (one channel per group)?")
QUESTION_ZH = "GroupNorm 的错误率如何随组数变化？它的两端真的就是 LN（1 组）和 IN（每组一个通道）吗？"
DATA = True  # any image data set (ctx.data)
DEFAULTS = {"groups": [1, 2, 4, 8, 16, 32], "channels": 32, "epochs": 5, "batch_size": 32, "lr": 0.05, "seeds": 20}
QUICK = {"groups": [1, 4, 32], "epochs": 1, "seeds": 2}


def ends_are_ln_and_in(channels):
    """Largest differences of GroupNorm(1, C) from the ``ln`` norm and from LayerNorm by hand, and of
    GroupNorm(C, C) from InstanceNorm (same input)."""
    x = paddle.randn([4, channels, 5, 5]) * 3 + 1
    ln_error = float((build_norm("gn", channels, groups=1)(x) - build_norm("ln", channels)(x)).abs().max())
    centered = x - x.mean(axis=[1, 2, 3], keepdim=True)  # by hand: paddle.var type-promotes and warns
    per_sample = centered / paddle.sqrt((centered ** 2).mean(axis=[1, 2, 3], keepdim=True) + 1e-5)
    ln_by_hand = float((build_norm("gn", channels, groups=1)(x) - per_sample).abs().max())
    in_error = float((build_norm("gn", channels, groups=channels)(x) - build_norm("in", channels)(x)).abs().max())
    return ln_error, ln_by_hand, in_error


def cell(ctx, setting, seed):
    """Held-out error (%) of simple_cnn with GroupNorm(``groups``) trained with ``seed``."""
    prm, c = ctx.params, ctx.params["channels"]
    model = build_model("simple_cnn", widths=[c, c], norm="gn", **ctx.data_info.model_options,
                        norm_options={"groups": setting["groups"]})
    section = optimizer_section(name="Momentum", weight_decay=5e-4, lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, ctx.data("train"), ctx.data("test"), prm["epochs"], prm["batch_size"], seed=seed,
                  optimizer=section)
    return {"error_pct": 100 * (1.0 - history.test_accuracy[-1])}


def _validate(params):
    bad = [g for g in params["groups"] if params["channels"] % g]
    if bad:
        raise ConfigError(f"params.groups {bad} do not divide params.channels={params['channels']}")


def _claims(params):
    """Each end against the per-seed mean of the middle groupings (Wu & He: the ends are the worst)."""
    c, groups = params["channels"], params["groups"]
    middle = [g for g in groups if 1 < g < c]
    ends = [(1, "ln_end_worse", "LN (1 group)", "LN（1 组）"), (c, "in_end_worse", "IN (C groups)", "IN（C 组）")]
    return {cid: Claim(f"{en} has a higher error than the middle groupings (Wu & He: the ends are the worst)",
                       f"{zh}的错误率高于中间的组数（Wu & He：两端最差）", "error_pct", {"groups": end},
                       {"groups": middle}, unit=" points",
                       evidence=f"error of {end} group(s) minus the mean of groups {middle}, per seed")
            for end, cid, en, zh in ends if middle and end in groups}


def _before(ctx, results):
    errors = ends_are_ln_and_in(ctx.params["channels"])
    results.store["identity"] = max(errors[0], errors[2])
    ctx.check(("GroupNorm with 1 group is LayerNorm over (C, H, W); with C groups it is InstanceNorm",
               "1 组的 GroupNorm 就是在 (C, H, W) 上的 LayerNorm；C 组的就是 InstanceNorm"), max(errors), 1e-4,
              "max differences {:.1g} (ln), {:.1g} (by hand), {:.1g} (in)".format(*errors))


def _extra(setting, params):
    g, c = setting["groups"], params["channels"]
    return {"channels per group": c // g, "same as": "= LN" if g == 1 else ("= IN" if g == c else "")}


def _summary(ctx, results):
    best = min(results.rows, key=lambda r: r["error % mean"])
    return ctx.tr(f"GN(1) equals LN and GN(C) equals IN to {results.store['identity']:.1g}; the lowest mean error is "
                  f"{best['groups']} groups ({best['error %']}%).",
                  f"GN(1) 与 LN、GN(C) 与 IN 相差不超过 {results.store['identity']:.1g}；平均错误率最低的是 "
                  f"{best['groups']} 组（{best['error %']}%）。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"groups": g} for g in params["groups"]], cell=cell, metrics=("error_pct",),
    claims=_claims, validate=_validate, before=_before, summary=_summary,
    table=Table("groups", ("GroupNorm in simple_cnn [{channels}, {channels}] on {data}, {epochs} epochs, held-out "
                           "error (%), mean ± 95% interval over {seeds} seeds",
                           "simple_cnn [{channels}, {channels}] 中的 GroupNorm，{data} 上训练 {epochs} 轮，留出集错误率（%），"
                           "{seeds} 个种子的均值 ± 95% 区间"),
                ("groups", "channels per group", "same as", Stat("error %", "error_pct")), extra=_extra),
    charts=(Chart("sweep", "group_sweep", ("error_pct",), ("error vs number of groups", "错误率与组数"),
                  ("held-out error (%)", "留出集错误率（%）"), ("groups (1 = LN, C = IN)", "组数（1 = LN，C = IN）"),
                  x="groups", log2=True, bounds=(0.0, 100.0),
                  labels={"error_pct": ("mean ± 95% interval over seeds (cut to 0–100 %)",
                                        "均值 ± 95% 区间（多个种子；截在 0–100 % 内）")}),))
run = EXPERIMENT.run
