"""Sigmoid, tanh and ReLU MLPs with and without BatchNorm: speed of training and the pre-activation distribution."""
import numpy as np
import paddle

from ..models import build_model
from .training import EveryNSteps, digits, fit, optimizer_section

QUESTION = ("Does BatchNorm speed up training for sigmoid, tanh and ReLU networks, does it rescue sigmoid "
            "networks, and how does it change the distribution of pre-activations (the BN paper's figure 1)?")
DEFAULTS = {"acts": ["sigmoid", "tanh", "relu"], "hidden": [100, 100, 100], "epochs": 30, "batch_size": 32,
            "lr": 0.1, "eval_every": 15, "target": 0.95, "seeds": 2}
QUICK = {"acts": ["sigmoid", "relu"], "epochs": 2, "seeds": 1}


def _percentile_probe(model, probe, store):
    """Record the 15/50/85th percentiles of the last hidden layer's input to its activation."""
    captured = {}
    hook = model.layers[-1].act.register_forward_pre_hook(lambda layer, inputs: captured.update(x=inputs[0]))

    def record(step):
        model.eval()
        with paddle.no_grad():
            model(probe)
        model.train()
        store.append((step, *np.percentile(captured["x"].numpy(), [15, 50, 85])))

    return record, hook


def _train_one(ctx, act, norm, seed, data):
    """Train one MLP; returns its History and the pre-activation percentiles ``[(step, p15, p50, p85)]``."""
    prm, (train, test) = ctx.params, data
    ctx.seed_everything(seed)
    model = build_model("mlp", hidden=prm["hidden"], act=act, norm=norm, init="xavier")
    store = []
    record, hook = _percentile_probe(model, test[0][:200], store)
    section = optimizer_section(name="SGD", lr={"name": "Constant", "learning_rate": prm["lr"]})
    history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
                  eval_every=prm["eval_every"],
                  hooks=[EveryNSteps(prm["eval_every"], lambda loop: record(loop.states["global_step"]))])
    hook.remove()
    return history, store


def _compare(ctx, act, norm, data):
    """The table row of one (activation, norm) over the seeds; the first seed's History and percentiles."""
    prm = ctx.params
    finals, steps_to, first = [], [], None
    for seed in ctx.seeds(prm["seeds"]):
        history, store = _train_one(ctx, act, norm, seed, data)
        finals.append(history.test_accuracy[-1])
        steps_to.append(history.steps_to(prm["target"]))
        if first is None:
            first = history, store
            ctx.curve(f"{act}_{norm}/test_top1", history.eval_steps, history.test_accuracy)
            for column, name in enumerate(("p15", "p50", "p85"), start=1):
                ctx.curve(f"{act}_{norm}/preactivation_{name}", [p[0] for p in store], [p[column] for p in store])
    reached = [s for s in steps_to if s is not None]
    last = first[1][-1]
    row = {"activation": act, "BN": norm == "bn", "final top1": float(np.mean(finals)),
           f"steps to {prm['target']:.0%}": (float(np.mean(reached)) if len(reached) == len(steps_to)
                                            else "not reached"),
           "pre-act p15/p50/p85 at end": f"{last[1]:.2f} / {last[2]:.2f} / {last[3]:.2f}"}
    return row, first


def _chart(ctx, runs):
    """Accuracy curves (top row) and pre-activation percentiles (bottom row), one column per activation."""
    fig, axes = ctx.figure(len(ctx.params["acts"]), 2, width=4.2, height=3.2)
    for col, act in enumerate(ctx.params["acts"]):
        for norm, style in (("none", "--"), ("bn", "-")):
            history, percentiles = runs[(act, norm)]
            label, color = ("BN", "C0") if norm == "bn" else ("no BN", "C1")
            axes[0][col].plot(history.eval_steps, history.test_accuracy, style, label=f"{act} {label}")
            steps, p15, p50, p85 = zip(*percentiles)
            axes[1][col].plot(steps, p50, style, color=color, label=f"{label} p50")
            axes[1][col].fill_between(steps, p15, p85, alpha=0.2, color=color)
        axes[0][col].set_title(act), axes[0][col].set_xlabel("step"), axes[0][col].set_ylabel("test top-1")
        axes[0][col].legend(fontsize=8)
        axes[1][col].set_xlabel("step"), axes[1][col].set_ylabel("last hidden pre-activation (p15-p85)")
        axes[1][col].legend(fontsize=8)
    ctx.save_figure(fig, "activation_with_bn", "accuracy curves and pre-activation percentiles")


def _claims(ctx, rows):
    """Record the three claims; returns ``steps(act, bn)``, the steps to the target (inf if not reached)."""
    prm = ctx.params
    key = f"steps to {prm['target']:.0%}"
    by = {(r["activation"], r["BN"]): r for r in rows}

    def steps(act, bn):
        value = by[(act, bn)][key]
        return float("inf") if value == "not reached" else value

    faster = {act: steps(act, True) < steps(act, False) for act in prm["acts"]}
    ctx.claim("BN always speeds training", "confirmed" if all(faster.values()) else "depends",
              "; ".join(f"{a}: {steps(a, True):.0f} vs {steps(a, False):.0f} steps" for a in prm["acts"]))
    if "sigmoid" in prm["acts"]:
        plain = by[("sigmoid", False)]["final top1"]
        with_bn = by[("sigmoid", True)]["final top1"]
        ctx.claim("Without BN, sigmoid networks stay near chance (vanishing gradients); BN fixes it",
                  "confirmed" if plain < 0.3 <= with_bn else ("refuted" if plain >= 0.3 else "depends"),
                  f"sigmoid top-1 {plain:.4f} without BN, {with_bn:.4f} with BN after {prm['epochs']} epochs")
    hurts = {act: by[(act, True)]["final top1"] < by[(act, False)]["final top1"] - 0.01 for act in prm["acts"]}
    ctx.claim("BN hurts sigmoid / ReLU networks", "refuted" if not any(hurts.values()) else "depends",
              "; ".join(f"{a}: {by[(a, True)]['final top1']:.4f} with vs {by[(a, False)]['final top1']:.4f} without"
                        for a in prm["acts"]))
    return steps


def run(ctx):
    prm = ctx.params
    data = digits("train"), digits("test")
    rows, runs = [], {}
    for act in prm["acts"]:
        for norm in ("none", "bn"):
            row, runs[(act, norm)] = _compare(ctx, act, norm, data)
            rows.append(row)
    ctx.table("activations", rows, title=f"MLP {prm['hidden']} on digits, SGD lr {prm['lr']}, batch "
                                         f"{prm['batch_size']}, {prm['epochs']} epochs, Xavier init, "
                                         f"mean of {prm['seeds']} seed(s)")
    _chart(ctx, runs)
    steps = _claims(ctx, rows)
    return ("With BN every activation reaches the target in "
            + ", ".join(f"{a} {steps(a, True):.0f} vs {steps(a, False):.0f}" for a in prm["acts"])
            + " steps (with vs without BN), and BN keeps the last layer's pre-activations centred with a stable spread.")
