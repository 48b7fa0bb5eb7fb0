"""The claim that BatchNorm hurts an extremely imbalanced (99:1) binary task: BN vs GN vs no norm."""
import numpy as np
import paddle

from ..models import build_model
from .training import balanced_accuracy, digits, fit, optimizer_section, predict

QUESTION = ("On a 99:1 binary task (is this digit a 0?), does BatchNorm do worse than GroupNorm or no "
            "normalization, measured by balanced accuracy?")
DEFAULTS = {"norms": ["bn", "gn", "none"], "ratio": 99, "positive_digit": 0, "epochs": 15, "batch_size": 32,
            "lr": 0.05, "seeds": 3}
QUICK = {"norms": ["bn", "none"], "epochs": 1, "seeds": 1}


def _imbalanced(images, labels, digit, ratio, seed):
    """All other digits as negatives and len(negatives)/ratio of the ``digit`` images as positives."""
    labels = labels.numpy()
    negatives = np.flatnonzero(labels != digit)
    positives = np.flatnonzero(labels == digit)
    keep = np.random.default_rng(seed).choice(positives, max(1, round(len(negatives) / ratio)), replace=False)
    index = np.concatenate([negatives, keep])
    return images[paddle.to_tensor(index)], paddle.to_tensor((labels[index] == digit).astype("int64"))


def _score(ctx, norm, train, test, seed):
    """Balanced accuracy and recall of the rare class of simple_cnn with ``norm`` trained with ``seed``."""
    prm = ctx.params
    ctx.seed_everything(seed)
    options = {"groups": 8} if norm == "gn" else None
    model = build_model("simple_cnn", in_channels=1, num_classes=2, norm=norm, norm_options=options)
    section = optimizer_section(name="Momentum", weight_decay=5e-4,
                                lr={"name": "Cosine", "learning_rate": prm["lr"]})
    history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
                  metric=balanced_accuracy)
    predicted = predict(model, test[0]).argmax(axis=1)
    return history.test_accuracy[-1], float((predicted[test[1].numpy() == 1] == 1).mean())


def _measure(ctx):
    """One row per norm: balanced accuracy (mean, seed std), rare-class recall, and the training class counts."""
    prm = ctx.params
    images, labels = digits("train")
    test_images, test_labels = digits("test")
    test = (test_images, paddle.to_tensor((test_labels.numpy() == prm["positive_digit"]).astype("int64")))
    rows = []
    for norm in prm["norms"]:
        scores, recalls = [], []
        for seed in ctx.seeds(prm["seeds"]):
            train = _imbalanced(images, labels, prm["positive_digit"], prm["ratio"], seed)
            score, recall = _score(ctx, norm, train, test, seed)
            scores.append(score)
            recalls.append(recall)
        rows.append({"norm": norm, "balanced accuracy": float(np.mean(scores)), "seed std": float(np.std(scores)),
                     "recall of the rare class": float(np.mean(recalls)),
                     "positives in training": int(train[1].numpy().sum()), "negatives": int((train[1].numpy() == 0).sum())})
    return rows


def run(ctx):
    prm = ctx.params
    rows = _measure(ctx)
    ctx.table("imbalanced", rows, title=f"digit {prm['positive_digit']} vs rest at {prm['ratio']}:1 in training "
                                        f"(test: the 360 held-out digits), simple_cnn, {prm['epochs']} epochs, "
                                        f"{prm['seeds']} seed(s)")
    fig, axes = ctx.figure()
    axes[0][0].bar([r["norm"] for r in rows], [r["balanced accuracy"] for r in rows],
                   yerr=[r["seed std"] for r in rows])
    axes[0][0].set_ylabel("balanced accuracy"), axes[0][0].set_ylim(0.4, 1.0)
    ctx.save_figure(fig, "imbalanced_bn", "balanced accuracy by norm")
    by = {r["norm"]: r["balanced accuracy"] for r in rows}
    others = {n: v for n, v in by.items() if n != "bn"}
    if "bn" in by and others:
        best_other = max(others.values())
        ctx.claim("BN hurts an extremely imbalanced (99:1) binary task",
                  "confirmed" if by["bn"] < best_other - 0.02 else ("refuted" if by["bn"] >= best_other - 0.005 else "depends"),
                  "balanced accuracy " + ", ".join(f"{n} {v:.4f}" for n, v in by.items()))
    return "Balanced accuracy at 99:1: " + ", ".join(f"{n} {v:.4f}" for n, v in by.items()) + "."
