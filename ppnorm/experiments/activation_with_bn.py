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


def run(ctx):
    prm = ctx.params
    train, test = digits("train"), digits("test")
    probe = test[0][:200]
    rows, curves, percentiles = [], {}, {}
    for act in prm["acts"]:
        for norm in ("none", "bn"):
            finals, steps_to, histories = [], [], []
            for seed in range(ctx.seed, ctx.seed + prm["seeds"]):
                ctx.seed_everything(seed)
                model = build_model("mlp", hidden=prm["hidden"], act=act, norm=norm, init="xavier")
                store = []
                record, hook = _percentile_probe(model, probe, store)
                section = optimizer_section(name="SGD", lr={"name": "Constant", "learning_rate": prm["lr"]})
                history = fit(model, train, test, prm["epochs"], prm["batch_size"], seed=seed, optimizer=section,
                              eval_every=prm["eval_every"],
                              hooks=[EveryNSteps(prm["eval_every"], lambda loop: record(loop.states["global_step"]))])
                hook.remove()
                finals.append(history.test_accuracy[-1])
                steps_to.append(history.steps_to(prm["target"]))
                histories.append(history)
                if seed == ctx.seed:
                    percentiles[(act, norm)] = store
                    for step, value in zip(history.eval_steps, history.test_accuracy):
                        ctx.scalar(f"{act}_{norm}/test_top1", value, step)
                    for step, p15, p50, p85 in store:
                        for name, value in (("p15", p15), ("p50", p50), ("p85", p85)):
                            ctx.scalar(f"{act}_{norm}/preactivation_{name}", value, step)
            reached = [s for s in steps_to if s is not None]
            curves[(act, norm)] = histories[0]
            last = percentiles[(act, norm)][-1]
            rows.append({"activation": act, "BN": norm == "bn", "final top1": float(np.mean(finals)),
                         f"steps to {prm['target']:.0%}": (float(np.mean(reached)) if len(reached) == len(steps_to)
                                                          else "not reached"),
                         "pre-act p15/p50/p85 at end": f"{last[1]:.2f} / {last[2]:.2f} / {last[3]:.2f}"})
    ctx.table("activations", rows, title=f"MLP {prm['hidden']} on digits, SGD lr {prm['lr']}, batch "
                                         f"{prm['batch_size']}, {prm['epochs']} epochs, Xavier init, "
                                         f"mean of {prm['seeds']} seed(s)")
    fig, axes = ctx.figure(len(prm["acts"]), 2, width=4.2, height=3.2)
    for col, act in enumerate(prm["acts"]):
        for norm, style in (("none", "--"), ("bn", "-")):
            history = curves[(act, norm)]
            axes[0][col].plot(history.eval_steps, history.test_accuracy, style, label=f"{act} {'BN' if norm == 'bn' else 'no BN'}")
            steps, p15, p50, p85 = zip(*percentiles[(act, norm)])
            axes[1][col].plot(steps, p50, style, color="C0" if norm == "bn" else "C1", label=f"{'BN' if norm == 'bn' else 'no BN'} p50")
            axes[1][col].fill_between(steps, p15, p85, alpha=0.2, color="C0" if norm == "bn" else "C1")
        axes[0][col].set_title(act), axes[0][col].set_xlabel("step"), axes[0][col].set_ylabel("test top-1")
        axes[0][col].legend(fontsize=8)
        axes[1][col].set_xlabel("step"), axes[1][col].set_ylabel("last hidden pre-activation (p15-p85)")
        axes[1][col].legend(fontsize=8)
    ctx.save_figure(fig, "activation_with_bn", "accuracy curves and pre-activation percentiles")
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
    return ("With BN every activation reaches the target in "
            + ", ".join(f"{a} {steps(a, True):.0f} vs {steps(a, False):.0f}" for a in prm["acts"])
            + " steps (with vs without BN), and BN keeps the last layer's pre-activations centred with a stable spread.")
