"""The Group Normalization paper's question at small scale: how does each norm's error depend on the batch size?"""
import numpy as np

from ..models import build_model
from .training import digits, fit, optimizer_section

QUESTION = ("How does held-out error change with the batch size (32 down to 2, learning rate scaled linearly) "
            "for BN, GN, LN and IN, and does it reproduce Wu & He's ResNet-50 ImageNet trend?")
DEFAULTS = {"norms": ["bn", "gn", "ln", "in"], "batch_sizes": [32, 16, 8, 4, 2], "epochs": 6, "base_lr": 0.05,
            "seeds": 2, "groups": 8, "widths": [32, 64]}
QUICK = {"norms": ["bn", "gn"], "batch_sizes": [16, 4], "epochs": 1}
PAPER_BN = {32: 23.6, 16: 23.7, 8: 24.8, 4: 27.3, 2: 34.7}  # Wu & He 2018, ResNet-50 ImageNet val error (%)
PAPER_GN = 24.1  # "~24.1 at every batch size"


def train_one(ctx, norm, batch, prm, seed):
    ctx.seed_everything(seed)
    options = {"groups": prm["groups"]} if norm == "gn" else None
    model = build_model("simple_cnn", widths=prm["widths"], in_channels=1, num_classes=10, norm=norm,
                        norm_options=options)
    lr = prm["base_lr"] * batch / 32
    section = optimizer_section(name="Momentum", weight_decay=5e-4,
                                lr={"name": "Cosine", "learning_rate": lr})
    train, test = digits("train"), digits("test")
    history = fit(model, train, test, prm["epochs"], batch, seed=seed, optimizer=section)
    return 1.0 - history.test_accuracy[-1]


def _measure(ctx):
    """One row per batch size: its learning rate and each norm's mean held-out error (%)."""
    prm = ctx.params
    rows = []
    for batch in prm["batch_sizes"]:
        row = {"batch": batch, "lr": prm["base_lr"] * batch / 32}
        for norm in prm["norms"]:
            errors = [train_one(ctx, norm, batch, prm, seed) for seed in ctx.seeds(prm["seeds"])]
            row[f"{norm} error %"] = 100 * float(np.mean(errors))
            ctx.log(f"[batch_size_sweep] batch {batch} {norm}: error {100 * np.mean(errors):.2f}%")
        row["paper BN %"] = PAPER_BN.get(batch, float("nan"))
        row["paper GN %"] = PAPER_GN
        rows.append(row)
    return rows


def _chart(ctx, rows):
    """Error vs batch size: ours on the left, the paper's on the right."""
    fig, axes = ctx.figure(2)
    ours, paper = axes[0]
    batches = [r["batch"] for r in rows]
    for norm in ctx.params["norms"]:
        ours.plot(batches, [r[f"{norm} error %"] for r in rows], "o-", label=norm)
    paper.plot(list(PAPER_BN), list(PAPER_BN.values()), "o-", label="BN")
    paper.plot(list(PAPER_BN), [PAPER_GN] * len(PAPER_BN), "o-", label="GN")
    for ax, data, title in ((ours, "digits held-out", "ppnorm, simple_cnn on digits"),
                            (paper, "ImageNet val", "Wu & He 2018, ResNet-50")):
        ax.set_xscale("log", base=2), ax.invert_xaxis()
        ax.set_xlabel("batch size"), ax.set_ylabel(f"{data} error %"), ax.legend()
        ax.set_title(title)
    ctx.save_figure(fig, "batch_size_sweep", "error vs batch size, ours beside the paper's")


def _claims(ctx, rows):
    """Record the claims; returns the verdict sentence."""
    prm = ctx.params
    batches = [r["batch"] for r in rows]
    largest, smallest = max(batches), min(batches)
    first, last = rows[batches.index(largest)], rows[batches.index(smallest)]
    bn_rise = last["bn error %"] - first["bn error %"] if "bn" in prm["norms"] else float("nan")
    others = {n: last[f"{n} error %"] - first[f"{n} error %"] for n in prm["norms"] if n != "bn"}
    gn_rise = others.get("gn", float("nan"))
    ctx.claim(f"BN's error grows as the batch shrinks, GN's stays flat (batch {largest} -> {smallest})",
              "confirmed" if bn_rise > max(1.0, gn_rise + 1.0) else ("refuted" if bn_rise <= 0.5 else "depends"),
              f"BN +{bn_rise:.2f} points, GN {gn_rise:+.2f} points")
    small = [b for b in batches if b <= 4]
    if small and "bn" in prm["norms"] and "gn" in prm["norms"]:
        b4 = rows[batches.index(max(small))]
        ctx.claim(f"BN hurts at batch {max(small)} (worse than GN there)",
                  "confirmed" if b4["bn error %"] > b4["gn error %"] + 0.5 else "refuted",
                  f"BN {b4['bn error %']:.2f}% vs GN {b4['gn error %']:.2f}%")
    paper = (f"paper: BN {PAPER_BN[smallest] - PAPER_BN[largest]:+.1f}, GN ~0"
             if largest in PAPER_BN and smallest in PAPER_BN else "paper: BN grows, GN flat")
    rest = "; ".join(f"{n} {others[n]:+.2f}" for n in others if n != "gn")
    return (f"From batch {largest} to {smallest} BN's error changes by {bn_rise:+.2f} points and GN's by "
            f"{gn_rise:+.2f} ({paper})" + (f"; other norms: {rest}." if rest else "."))


def run(ctx):
    prm = ctx.params
    rows = _measure(ctx)
    ctx.table("errors", rows, title=f"simple_cnn {prm['widths']} on digits, {prm['epochs']} epochs, held-out error (%) "
                                    f"vs batch size; mean of {prm['seeds']} seed(s). Paper: ResNet-50 on ImageNet")
    _chart(ctx, rows)
    return _claims(ctx, rows)
