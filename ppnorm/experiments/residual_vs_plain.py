"""The degradation problem: plain vs residual networks of increasing depth, with DenseNet beside them."""
import numpy as np

from ..models import build_model
from .training import digits, fit, optimizer_section

QUESTION = ("Does a deeper plain network train worse than a shallower one (the degradation that motivated "
            "ResNet), and do residual connections (and DenseNet's concatenations) remove it?")
DEFAULTS = {"depths": [20, 56], "epochs": 12, "batch_size": 64, "lr": 0.1, "warmup_epochs": 1.0, "densenet": True}
QUICK = {"depths": [20], "epochs": 2, "densenet": False}


def _train(ctx, name, options, prm):
    ctx.seed_everything()
    model = build_model(name, in_channels=1, num_classes=10, **options)
    section = optimizer_section(name="Momentum", weight_decay=1e-4, lr={"name": "Cosine", "learning_rate": prm["lr"],
                                                                         "warmup_epochs": prm["warmup_epochs"]})
    history = fit(model, digits("train"), digits("test"), prm["epochs"], prm["batch_size"], seed=ctx.seed,
                  optimizer=section, track_train=True)
    return history


def _networks(prm):
    """``[(label, model name, options)]``: plain and residual nets of each depth, then DenseNet if asked."""
    runs = []
    for depth in prm["depths"]:
        for residual in (False, True):
            runs.append((f"{'resnet' if residual else 'plain'}{depth}", f"resnet{depth}", {"residual": residual}))
    if prm["densenet"]:
        runs.append(("densenet_small", "densenet_small", {}))
    return runs


def _measure(ctx):
    """One row per network and ``{label: History}``."""
    rows, curves = [], {}
    for label, name, options in _networks(ctx.params):
        history = _train(ctx, name, options, ctx.params)
        curves[label] = history
        steps_per_epoch = history.eval_steps[0]
        epochs = range(1, len(history.test_accuracy) + 1)
        ctx.curve(f"{label}/train_error", epochs, [1 - a for a in history.train_accuracy])
        ctx.curve(f"{label}/test_error", epochs, [1 - a for a in history.test_accuracy])
        first_epoch_loss = float(np.mean(history.losses[:steps_per_epoch]))
        rows.append({"network": label, "train error % (end)": 100 * (1 - history.train_accuracy[-1]),
                     "test error % (end)": 100 * (1 - history.test_accuracy[-1]),
                     "train error % after epoch 1": 100 * (1 - history.train_accuracy[0]),
                     "mean loss epoch 1": first_epoch_loss})
    return rows, curves


def _chart(ctx, curves):
    fig, axes = ctx.figure(2)
    for label, history in curves.items():
        epochs = range(1, len(history.train_accuracy) + 1)
        style = "--" if label.startswith("plain") else "-"
        axes[0][0].plot(epochs, [100 * (1 - a) for a in history.train_accuracy], style, label=label)
        axes[0][1].plot(epochs, [100 * (1 - a) for a in history.test_accuracy], style, label=label)
    for ax, title in zip(axes[0], ("training error %", "test error %")):
        ax.set_xlabel("epoch"), ax.set_ylabel(title), ax.set_yscale("log"), ax.legend(fontsize=8)
    ctx.save_figure(fig, "residual_vs_plain", "training and test error per epoch")


def _claims(ctx, rows):
    """Record the degradation claim (needs two depths); returns the verdict sentence."""
    prm = ctx.params
    if len(prm["depths"]) < 2:
        return "Run with two depths to compare degradation; see the table."
    by = {r["network"]: r for r in rows}
    key = "train error % (end)"
    shallow, deep = min(prm["depths"]), max(prm["depths"])
    plain_gap = by[f"plain{deep}"][key] - by[f"plain{shallow}"][key]
    res_gap = by[f"resnet{deep}"][key] - by[f"resnet{shallow}"][key]
    ctx.claim(f"The deeper plain net ({deep}) trains worse than the shallower one ({shallow}); "
              f"residual nets do not degrade",
              "confirmed" if plain_gap > 0.5 and res_gap <= 0.5 else ("refuted" if plain_gap <= 0 else "depends"),
              f"plain {shallow}->{deep}: {plain_gap:+.2f} points train error; resnet: {res_gap:+.2f}")
    return (f"Going from {shallow} to {deep} layers changes the final training error by {plain_gap:+.2f} points "
            f"for plain nets and {res_gap:+.2f} for residual nets "
            f"(epoch-1 training error: plain{deep} {by[f'plain{deep}']['train error % after epoch 1']:.1f}% vs "
            f"resnet{deep} {by[f'resnet{deep}']['train error % after epoch 1']:.1f}%).")


def run(ctx):
    prm = ctx.params
    rows, curves = _measure(ctx)
    ctx.table("depth", rows, title=f"digits, {prm['epochs']} epochs, batch {prm['batch_size']}, cosine lr "
                                   f"{prm['lr']} after {prm['warmup_epochs']:g} warm-up epoch(s), BN everywhere; "
                                   f"training error measured in eval mode")
    _chart(ctx, curves)
    return _claims(ctx, rows)
