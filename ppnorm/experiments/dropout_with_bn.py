"""The claim that with BatchNorm less dropout and less L2 are needed: a small grid on digits."""
import itertools

import numpy as np

from ..models import build_model
from .training import digits, fit, optimizer_section

QUESTION = ("With BatchNorm, does a network need less dropout and weight decay (L2) than without it, "
            "to reach its best held-out accuracy?")
DEFAULTS = {"norms": ["none", "bn"], "dropouts": [0.0, 0.25, 0.5], "weight_decays": [0.0, 0.0005],
            "epochs": 12, "batch_size": 32, "lr": 0.05, "seeds": 2, "train_subset": 500}
QUICK = {"dropouts": [0.0, 0.5], "weight_decays": [0.0], "epochs": 1, "seeds": 1}


def _grid(ctx, train, test):
    """One row per (norm, dropout, weight decay): mean and std of held-out top-1 over the seeds."""
    prm = ctx.params
    rows = []
    for norm, dropout, decay in itertools.product(prm["norms"], prm["dropouts"], prm["weight_decays"]):
        scores = []
        for seed in ctx.seeds(prm["seeds"]):
            ctx.seed_everything(seed)
            model = build_model("simple_cnn", in_channels=1, num_classes=10, norm=norm, dropout=dropout)
            section = optimizer_section(name="Momentum", weight_decay=decay,
                                        lr={"name": "Cosine", "learning_rate": prm["lr"]})
            history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section)
            scores.append(history.test_accuracy[-1])
        rows.append({"norm": norm, "dropout": dropout, "weight decay": decay, "top1": float(np.mean(scores)),
                     "seed std": float(np.std(scores))})
    return rows


def _chart(ctx, rows):
    """One heat map of top-1 over dropout x weight decay per norm, on a shared colour scale."""
    prm = ctx.params
    fig, axes = ctx.figure(len(prm["norms"]), width=4)
    for ax, norm in zip(axes[0], prm["norms"]):
        grid = np.array([[next(r["top1"] for r in rows if r["norm"] == norm and r["dropout"] == d
                               and r["weight decay"] == w) for w in prm["weight_decays"]] for d in prm["dropouts"]])
        image = ax.imshow(grid, cmap="viridis", vmin=min(r["top1"] for r in rows), vmax=max(r["top1"] for r in rows))
        ax.set_xticks(range(len(prm["weight_decays"]))), ax.set_xticklabels(prm["weight_decays"])
        ax.set_yticks(range(len(prm["dropouts"]))), ax.set_yticklabels(prm["dropouts"])
        ax.set_xlabel("weight decay"), ax.set_ylabel("dropout"), ax.set_title(f"norm = {norm}")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist())
    ctx.save_figure(fig, "dropout_with_bn", "held-out top-1 over the dropout x weight-decay grid")


def _claims(ctx, rows):
    """Record the claim; returns the verdict sentence."""
    norms = ctx.params["norms"]
    best = {norm: max((r for r in rows if r["norm"] == norm), key=lambda r: r["top1"]) for norm in norms}
    plain = {norm: next(r for r in rows if r["norm"] == norm and r["dropout"] == 0 and r["weight decay"] == 0)
             for norm in norms}
    gains = {norm: best[norm]["top1"] - plain[norm]["top1"] for norm in norms}
    if "bn" in best and "none" in best:
        ctx.claim("With BN, less dropout / L2 is needed",
                  "confirmed" if gains["bn"] < gains["none"] else "refuted",
                  f"regularization adds {100 * gains['bn']:+.2f} points with BN (best: dropout {best['bn']['dropout']}, "
                  f"wd {best['bn']['weight decay']}) vs {100 * gains['none']:+.2f} without (best: dropout "
                  f"{best['none']['dropout']}, wd {best['none']['weight decay']})")
    return ("Best settings: " + "; ".join(f"{n}: top-1 {best[n]['top1']:.4f} at dropout {best[n]['dropout']}, wd "
                                          f"{best[n]['weight decay']} (+{100 * gains[n]:.2f} points over none)"
                                          for n in norms) + ".")


def run(ctx):
    prm = ctx.params
    images, labels = digits("train")
    subset = prm["train_subset"] or len(labels)
    train = (images[:subset], labels[:subset])  # a smaller training set makes regularization matter
    rows = _grid(ctx, train, digits("test"))
    ctx.table("grid", rows, title=f"simple_cnn on {subset} digits training images, {prm['epochs']} epochs, "
                                  f"held-out top-1, mean of {prm['seeds']} seed(s); dropout before the classifier")
    _chart(ctx, rows)
    return _claims(ctx, rows)
