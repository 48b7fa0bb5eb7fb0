"""EMA running statistics vs PreciseBN during a short, high-learning-rate training (Wu & Johnson 2021)."""
import copy

import numpy as np
import paddle

from ..models import build_model
from ..nn.precise_bn import update_bn_stats
from .training import EveryNSteps, accuracy, digits, fit, optimizer_section

QUESTION = ("How far is evaluation with BatchNorm's EMA running statistics from evaluation with PreciseBN "
            "(population statistics recomputed with the weights frozen) during a short high-lr training?")
DEFAULTS = {"model": "resnet20", "epochs": 8, "batch_size": 32, "lr": 0.4, "precise_batches": 45, "seeds": 2,
            "momentum": 0.9}
QUICK = {"epochs": 2, "seeds": 1, "precise_batches": 10}


def _batches(images, batch_size, seed):
    order = np.random.default_rng(seed).permutation(len(images))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        yield images[paddle.to_tensor(order[start:start + batch_size])]


def _train_and_compare(ctx, seed, train, test, rows):
    """Train with ``seed``; after each epoch append a row comparing EMA and PreciseBN evaluation to ``rows``."""
    prm = ctx.params
    steps_per_epoch = len(train[1]) // prm["batch_size"]
    ctx.seed_everything(seed)
    model = build_model(prm["model"], in_channels=1, num_classes=10, norm_options={"momentum": prm["momentum"]})
    section = optimizer_section(name="Momentum", weight_decay=5e-4,
                                lr={"name": "Constant", "learning_rate": prm["lr"]})

    def compare(loop):
        epoch = loop.states["global_step"] // steps_per_epoch
        ema = loop.history.test_accuracy[-1]  # fit has just evaluated the model with its EMA statistics
        frozen = copy.deepcopy(loop.model)
        used = update_bn_stats(frozen, _batches(train[0], prm["batch_size"], epoch), prm["precise_batches"])
        precise = accuracy(frozen, *test)
        rows.append({"seed": seed, "epoch": epoch, "top1 EMA stats": ema, "top1 PreciseBN": precise,
                     "gain (points)": 100 * (precise - ema), "PreciseBN samples": used * prm["batch_size"]})
        ctx.scalar(f"seed_{seed}/top1_ema", ema, epoch)
        ctx.scalar(f"seed_{seed}/top1_precise_bn", precise, epoch)

    fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
        hooks=[EveryNSteps(steps_per_epoch, compare)])


def _chart(ctx, rows):
    fig, axes = ctx.figure()
    for seed in ctx.seeds(ctx.params["seeds"]):
        mine = [r for r in rows if r["seed"] == seed]
        axes[0][0].plot([r["epoch"] for r in mine], [r["top1 EMA stats"] for r in mine], "o--", label=f"EMA, seed {seed}")
        axes[0][0].plot([r["epoch"] for r in mine], [r["top1 PreciseBN"] for r in mine], "s-", label=f"PreciseBN, seed {seed}")
    axes[0][0].set_xlabel("epoch"), axes[0][0].set_ylabel("held-out top-1"), axes[0][0].legend(fontsize=8)
    ctx.save_figure(fig, "precise_bn", "EMA vs PreciseBN accuracy during training")


def run(ctx):
    prm = ctx.params
    train, test = digits("train"), digits("test")
    rows = []
    for seed in ctx.seeds(prm["seeds"]):
        _train_and_compare(ctx, seed, train, test, rows)
    ctx.table("precise_bn", rows, title=f"{prm['model']} on digits, constant lr {prm['lr']} (high), batch "
                                        f"{prm['batch_size']}, BN momentum {prm['momentum']}; eval after each epoch")
    _chart(ctx, rows)
    gains = np.array([r["gain (points)"] for r in rows])
    ctx.claim("EMA running statistics can be inaccurate with a high learning rate; PreciseBN fixes it",
              "confirmed" if gains.mean() > 0.5 else ("refuted" if gains.mean() <= 0 else "depends"),
              f"mean gain {gains.mean():+.2f} points (max {gains.max():+.2f}) over {len(gains)} evaluations")
    return (f"PreciseBN changes held-out top-1 by {gains.mean():+.2f} points on average (range {gains.min():+.2f} to "
            f"{gains.max():+.2f}) at lr {prm['lr']}: " +
            ("the EMA statistics lag the weights." if gains.mean() > 0.5 else
             "on this small problem the EMA statistics are already close to the population ones."))
