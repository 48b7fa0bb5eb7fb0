"""Paddle's two Dropout modes: the formulas, their expectations, channel dropout, and training with each."""
import numpy as np
import paddle
import paddle.nn.functional as F

from ..models import build_model
from .training import digits, fit, optimizer_section

QUESTION = ("Do upscale_in_train and downscale_in_infer give the same expected output, and do networks trained "
            "with either mode behave the same, with weights related by the factor (1 - p)?")
DEFAULTS = {"p": 0.5, "mc_samples": 20000, "seeds": 5, "epochs": 20, "hidden": [256, 256], "lr": 0.05}
QUICK = {"mc_samples": 2000, "seeds": 1, "epochs": 2}
MODES = ("upscale_in_train", "downscale_in_infer")


def _example(ctx, p):
    x = paddle.to_tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    rows, worst = [], 0.0
    for mode in MODES:
        paddle.seed(ctx.seed)
        train = F.dropout(x, p, training=True, mode=mode).numpy()
        evaluated = F.dropout(x, p, training=False, mode=mode).numpy()
        mask = (train != 0).astype("float32")
        expected_train = x.numpy() * mask / (1 - p) if mode == MODES[0] else x.numpy() * mask
        expected_eval = x.numpy() if mode == MODES[0] else x.numpy() * (1 - p)
        worst = max(worst, np.abs(train - expected_train).max(), np.abs(evaluated - expected_eval).max())
        rows.append({"mode": mode, "train output": str(train.tolist()), "eval output": str(evaluated.tolist()),
                     "train formula": "x*mask/(1-p)" if mode == MODES[0] else "x*mask",
                     "eval formula": "x" if mode == MODES[0] else "x*(1-p)"})
    ctx.table("example", rows, title=f"x = [[1,2,3],[4,5,6]], p = {p}, the same seed for both modes")
    return worst


def _monte_carlo(ctx, p, samples):
    x = paddle.to_tensor(np.linspace(-2, 3, 6, dtype="float32"))
    rows, curves = [], []
    for mode in MODES:
        paddle.seed(ctx.seed)
        draws = F.dropout(paddle.tile(x[None], [samples, 1]), p, training=True, mode=mode).numpy()
        mean, se = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(samples)
        evaluated = F.dropout(x[None], p, training=False, mode=mode).numpy()[0]  # (1-D input fails in Paddle 3.3)
        z = np.abs(mean - evaluated) / np.where(se > 0, se, 1)
        rows.append({"mode": mode, "masks": samples, "max abs(mean train - eval)": float(np.abs(mean - evaluated).max()),
                     "standard error": float(se.max()), "max z-score": float(z.max())})
        curves.append((mode, x.numpy(), mean, se, evaluated))
    ctx.table("monte_carlo", rows, title="Mean train-mode output over many masks vs the eval output "
                                         "(x = 6 values from -2 to 3)")
    fig, axes = ctx.figure(2)
    for ax, (mode, inputs, mean, se, evaluated) in zip(axes[0], curves):
        ax.plot(inputs, evaluated, "k-", label="eval output")
        ax.errorbar(inputs, mean, yerr=2 * se, fmt="o", label=f"mean of {samples} train outputs (±2 SE)")
        ax.set_title(mode), ax.set_xlabel("input x"), ax.legend(fontsize=8)
    ctx.save_figure(fig, "monte_carlo", "train-mode mean vs eval output for both modes")
    return max(r["max z-score"] for r in rows)


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
    ctx.table("axis", rows, title=f"The axis argument on a [8, 16, 4, 4] tensor of ones, p = {p}")
    return rows


def _train(ctx, mode, p, seed, hidden, epochs, lr, scaled_like_upscale=False):
    """Train the MLP with dropout ``mode``; the same seed gives both modes the same initial weights.

    ``scaled_like_upscale``: start from W / (1 - p) after every dropout and train those weights with
    lr / (1 - p)^2, which makes downscale_in_infer compute exactly what upscale_in_train computes.
    """
    ctx.seed_everything(seed)
    model = build_model("mlp", hidden=hidden, dropout=p, dropout_mode=mode)
    if scaled_like_upscale:
        for param in _after_dropout(model):
            param.set_value(param / (1 - p))
            param.optimize_attr["learning_rate"] = 1.0 / (1 - p) ** 2
    section = optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": lr})
    history = fit(model, digits("train"), digits("test"), epochs, 32, seed=seed, optimizer=section)
    return model, history.test_accuracy[-1]


def _after_dropout(model):
    """Weights whose input comes out of a dropout layer: every layer after the first hidden one, and fc."""
    return [layer.linear.weight for layer in list(model.layers)[1:]] + [model.fc.weight]


def _same_lr(ctx, p):
    """Both modes trained alike for each seed; returns the rows and the first seed's upscale (model, top-1)."""
    prm = ctx.params
    rows, first = [], None
    for seed in ctx.seeds(prm["seeds"]):
        results = {mode: _train(ctx, mode, p, seed, prm["hidden"], prm["epochs"], prm["lr"]) for mode in MODES}
        first = first or results[MODES[0]]  # reused for the exact correspondence
        up, down = results[MODES[0]][0], results[MODES[1]][0]
        norm_ratio = float(np.mean([np.linalg.norm(b.numpy()) / np.linalg.norm(a.numpy())
                                    for a, b in zip(_after_dropout(up), _after_dropout(down))]))
        rows.append({"seed": seed, "top1 upscale_in_train": results[MODES[0]][1],
                     "top1 downscale_in_infer": results[MODES[1]][1],
                     "norm ratio W_down/W_up after dropout": norm_ratio})
    ctx.table("training", rows, title=f"MLP {prm['hidden']} with dropout {p} after each hidden layer on digits, "
                                      f"{prm['epochs']} epochs, the same init, masks and lr in both modes")
    return rows, first


def _exact(ctx, p, up_model, up_acc):
    """Train downscale_in_infer from W_up / (1 - p) with lr / (1 - p)^2; returns the largest relative weight gap."""
    prm = ctx.params
    down_model, down_acc = _train(ctx, MODES[1], p, ctx.seed, prm["hidden"], prm["epochs"], prm["lr"],
                                  scaled_like_upscale=True)
    exact = [float(np.abs(b.numpy() * (1 - p) - a.numpy()).max() / np.abs(a.numpy()).max())
             for a, b in zip(_after_dropout(up_model), _after_dropout(down_model))]
    images = digits("test")[0]
    up_model.eval(), down_model.eval()
    logits_gap = float((up_model(images) - down_model(images)).abs().max())
    ctx.table("equivalence", [{"top1 upscale": up_acc, "top1 downscale (scaled start, lr/(1-p)^2)": down_acc,
                               "max rel diff W_down*(1-p) vs W_up": max(exact), "max abs logit difference": logits_gap}],
              title="Exact correspondence: W_down = W_up / (1 - p) when trained from W_up/(1-p) with lr/(1-p)^2")
    return max(exact)


def run(ctx):
    prm = ctx.params
    p = prm["p"]
    example_error = _example(ctx, p)
    worst_z = _monte_carlo(ctx, p, prm["mc_samples"])
    axis_rows = _axis(ctx, p)
    rows, (up_model, up_acc) = _same_lr(ctx, p)
    exact = _exact(ctx, p, up_model, up_acc)
    ups = [r["top1 upscale_in_train"] for r in rows]
    downs = [r["top1 downscale_in_infer"] for r in rows]
    ratio = np.mean([r["norm ratio W_down/W_up after dropout"] for r in rows])
    gap = abs(np.mean(ups) - np.mean(downs))
    noise = (np.std(ups) + np.std(downs)) / 2 if len(ups) > 1 else float("nan")
    ctx.claim("Both modes give the eval output as the expectation of the train output",
              "confirmed" if worst_z < 5 else "refuted", f"max z-score {worst_z:.2f} over {prm['mc_samples']} masks")
    ctx.claim("The two modes train equally well", "confirmed" if not gap > 2 * noise + 0.005 else "refuted",
              f"mean top-1 {np.mean(ups):.4f} vs {np.mean(downs):.4f} (seed std {noise:.4f})")
    ctx.claim("Weights trained in downscale mode are those of upscale mode divided by (1-p)",
              "depends", f"exactly (rel. err {exact:.1g}) when lr is scaled by 1/(1-p)^2; with the same lr "
              f"the norm ratio is {ratio:.2f} (1/(1-p) = {1 / (1 - p):.2f})")
    ctx.note(f"Formulas hold exactly on the example (max error {example_error:.1g}); channel dropout zeroes "
             f"{axis_rows[1]['fully zeroed channels']:.2f} of the channels vs {axis_rows[0]['fully zeroed channels']:.2f}.")
    return (f"Both modes have the eval output as their mean (max z {worst_z:.1f}); trained the same way they reach "
            f"{np.mean(ups):.4f} vs {np.mean(downs):.4f} top-1, and downscale_in_infer's weights equal "
            f"upscale_in_train's divided by (1-p) exactly when its learning rate is scaled by 1/(1-p)^2 "
            f"(with the same lr the ratio is {ratio:.2f}, not {1 / (1 - p):.1f}).")
