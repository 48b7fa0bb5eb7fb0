"""GroupNorm's number of groups, from 1 (= LayerNorm over C,H,W) to one channel per group (= InstanceNorm)."""
import numpy as np
import paddle

from ..engine.config import ConfigError
from ..models import build_model
from ..nn import build_norm
from .training import digits, fit, optimizer_section

QUESTION = ("How does GroupNorm's error depend on the number of groups, and are its two ends really LN "
            "(1 group) and IN (one channel per group)?")
DEFAULTS = {"groups": [1, 2, 4, 8, 16, 32], "channels": 32, "epochs": 10, "batch_size": 32, "lr": 0.05, "seeds": 2}
QUICK = {"groups": [1, 32], "epochs": 1, "seeds": 1}


def _ends_are_ln_and_in(channels):
    """GroupNorm(1, C) equals the ``ln`` factory norm and GroupNorm(C, C) equals InstanceNorm (same input)."""
    x = paddle.randn([4, channels, 5, 5]) * 3 + 1
    ln_error = float((build_norm("gn", channels, groups=1)(x) - build_norm("ln", channels)(x)).abs().max())
    per_sample = (x - x.mean(axis=[1, 2, 3], keepdim=True)) / paddle.sqrt(x.var(axis=[1, 2, 3], keepdim=True,
                                                                                    unbiased=False) + 1e-5)
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
    return 1.0 - history.test_accuracy[-1]


def _sweep(ctx):
    """One row per number of groups: mean and seed std of the error (%)."""
    prm, c = ctx.params, ctx.params["channels"]
    rows = []
    for groups in prm["groups"]:
        errors = [_error(ctx, groups, seed) for seed in ctx.seeds(prm["seeds"])]
        label = "= LN" if groups == 1 else ("= IN" if groups == c else "")
        rows.append({"groups": groups, "channels per group": c // groups, "same as": label,
                     "error %": 100 * float(np.mean(errors)), "seed std": 100 * float(np.std(errors))})
    return rows


def _chart(ctx, rows):
    fig, axes = ctx.figure()
    axes[0][0].errorbar([r["groups"] for r in rows], [r["error %"] for r in rows],
                        yerr=[r["seed std"] for r in rows], fmt="o-")
    axes[0][0].set_xscale("log", base=2), axes[0][0].set_xlabel("groups (1 = LN, C = IN)")
    axes[0][0].set_ylabel("held-out error %")
    ctx.save_figure(fig, "group_sweep", "error vs number of groups")


def _claims(ctx, rows, ln_error, ln_by_hand, in_error):
    """Record the claims about the two ends and the middle; returns ``{groups: error %}``."""
    c = ctx.params["channels"]
    ctx.claim("GroupNorm with 1 group is LayerNorm over (C, H, W); with C groups it is InstanceNorm",
              "confirmed" if max(ln_error, ln_by_hand, in_error) < 1e-4 else "refuted",
              f"max differences {ln_error:.1g} (ln), {ln_by_hand:.1g} (by hand), {in_error:.1g} (in)")
    errors = {r["groups"]: r["error %"] for r in rows}
    middle = [errors[g] for g in errors if 1 < g < c]
    ends = [errors[g] for g in (1, c) if g in errors]
    if middle and ends:
        verdict = "confirmed" if min(ends) > max(middle) else ("refuted" if max(ends) < min(middle) else "depends")
        ctx.claim("The ends (LN, IN) are the worst groupings; the middle is flat (Wu & He: groups 2..64 within ~0.6)",
                  verdict, f"ends {', '.join(f'{e:.2f}%' for e in ends)}; middle {min(middle):.2f}-{max(middle):.2f}%")
    return errors


def run(ctx):
    prm = ctx.params
    c = prm["channels"]
    bad = [g for g in prm["groups"] if c % g]
    if bad:
        raise ConfigError(f"params.groups {bad} do not divide params.channels={c}")
    ln_error, ln_by_hand, in_error = _ends_are_ln_and_in(c)
    rows = _sweep(ctx)
    ctx.table("groups", rows, title=f"GroupNorm in simple_cnn [{c}, {c}] on digits, {prm['epochs']} epochs, "
                                    f"held-out error (%), {prm['seeds']} seed(s)")
    _chart(ctx, rows)
    errors = _claims(ctx, rows, ln_error, ln_by_hand, in_error)
    best = min(rows, key=lambda r: r["error %"])
    return (f"GN(1) equals LN and GN(C) equals IN to {max(ln_error, in_error):.1g}; the best grouping on digits is "
            f"{best['groups']} groups ({best['error %']:.2f}% error), errors range "
            f"{min(errors.values()):.2f}-{max(errors.values()):.2f}% across groupings.")
