"""CS231n's weight-initialization experiment: activation statistics through a deep tanh / ReLU MLP, with and without BN."""
import numpy as np
import paddle

from ..models import build_model

QUESTION = ("How do the per-layer activation statistics of a deep MLP depend on the initialization "
            "(std 0.01, 0.05, Xavier, Kaiming) and the activation, and what does BatchNorm change?")
DEFAULTS = {"layers": 10, "width": 500, "samples": 1000,
            "cases": [["tanh", "normal", 0.01], ["tanh", "normal", 0.05], ["tanh", "normal", 1.0], ["tanh", "xavier", 0.0],
                      ["relu", "xavier", 0.0], ["relu", "kaiming", 0.0]]}
QUICK = {"layers": 4, "width": 64, "samples": 128}


def _activations(act, init, std, norm, prm, seed):
    paddle.seed(seed)
    model = build_model("mlp", in_features=prm["width"], hidden=[prm["width"]] * prm["layers"], act=act,
                        norm=norm, init=init, init_std=std or 0.01)
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((prm["samples"], prm["width"]))
                         .astype("float32"))
    outputs = []
    with paddle.no_grad():  # train mode: BN normalizes with the batch's own statistics, as at the start of training
        for layer in model.layers:
            x = layer(x)
            outputs.append(x.numpy())
    return outputs


def _measure(ctx):
    """One row per (case, norm) with each layer's std, and ``{label: [layer outputs]}``."""
    prm = ctx.params
    rows, outputs_of = [], {}
    for act, init, std in prm["cases"]:
        for norm in ("none", "bn"):
            outputs = _activations(act, init, std, norm, prm, ctx.seed)
            label = f"{act} {init}{f' {std}' if init == 'normal' else ''}{' + BN' if norm == 'bn' else ''}"
            row = {"case": label}
            for i, out in enumerate(outputs, start=1):
                row[f"L{i} std"] = float(out.std())
                ctx.histogram(f"{label.replace(' ', '_')}/layer{i}", out, 0)
            row["last mean"] = float(outputs[-1].mean())
            rows.append(row)
            outputs_of[label] = outputs
    return rows, outputs_of


def _chart(ctx, outputs_of):
    """Histograms of the first, middle and last layers: one column per case, without BN above, with BN below."""
    cases = [label for label in outputs_of if "BN" not in label]
    fig, axes = ctx.figure(len(cases), 2, width=3.0, height=2.6)
    for col, label in enumerate(cases):
        for row, name in enumerate((label, label + " + BN")):
            ax = axes[row][col]
            for i, out in enumerate(outputs_of[name]):
                if i in (0, len(outputs_of[name]) // 2, len(outputs_of[name]) - 1):
                    ax.hist(out.ravel(), bins=50, histtype="step", label=f"layer {i + 1}", density=True)
            ax.set_title(name, fontsize=8), ax.legend(fontsize=6)
    ctx.save_figure(fig, "init_stats", "activation histograms of the first, middle and last layers")


def _claims(ctx, rows, outputs_of):
    """Record the claims about initialization without BN and the one about BN."""
    prm = ctx.params
    by = {r["case"]: r for r in rows}
    last = f"L{prm['layers']} std"

    def std(label):
        return by[label][last] if label in by else float("nan")

    ctx.claim("tanh with std 0.01 collapses activations to 0", "confirmed" if std("tanh normal 0.01") < 1e-3 else "refuted",
              f"last-layer std {std('tanh normal 0.01'):.2g}")
    for std_value in ("0.05", "1.0"):
        label = f"tanh normal {std_value}"
        if label in outputs_of:
            saturated = float(np.mean(np.abs(outputs_of[label][-1]) > 0.9))
            ctx.claim(f"tanh with std {std_value} saturates at ±1 (width {prm['width']})",
                      "confirmed" if saturated > 0.5 else ("refuted" if saturated < 0.2 else "depends"),
                      f"{saturated:.0%} of last-layer activations beyond ±0.9")
    ctx.claim("Xavier keeps tanh's scale; ReLU + Xavier shrinks; Kaiming keeps ReLU's scale",
              "confirmed" if std("relu xavier") < 0.5 * std("relu kaiming") and std("tanh xavier") > 0.1 else "depends",
              f"last-layer std: tanh Xavier {std('tanh xavier'):.3f}, ReLU Xavier {std('relu xavier'):.3f}, "
              f"ReLU Kaiming {std('relu kaiming'):.3f}")
    with_bn = [r[last] for r in rows if "BN" in r["case"]]
    ctx.claim("With BN inserted, every initialization keeps the activations' scale",
              "confirmed" if min(with_bn) > 0.2 else "refuted",
              f"last-layer std with BN {min(with_bn):.3f}-{max(with_bn):.3f}")


def run(ctx):
    prm = ctx.params
    rows, outputs_of = _measure(ctx)
    ctx.table("activations", rows, title=f"Std of each layer's activations, {prm['layers']}-layer MLP of width "
                                         f"{prm['width']}, {prm['samples']} standard-normal inputs")
    _chart(ctx, outputs_of)
    _claims(ctx, rows, outputs_of)
    last = f"L{prm['layers']} std"
    without_bn = [r[last] for r in rows if "BN" not in r["case"]]
    with_bn = [r[last] for r in rows if "BN" in r["case"]]
    return (f"Without BN the last layer's std ranges from {min(without_bn):.2g} to "
            f"{max(without_bn):.2g} depending on the initialization; with BN it "
            f"stays between {min(with_bn):.2f} and {max(with_bn):.2f} for every case.")
