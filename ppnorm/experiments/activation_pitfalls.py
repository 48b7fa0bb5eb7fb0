"""Two activation pitfalls: ReLU units that die at a large learning rate (with BN, leaky ReLU, ELU as fixes),
and the one-sign weight gradients behind sigmoid's non-zero-centred outputs (and the training speed they cost)."""
import copy
import math

import numpy as np
import paddle

from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import fit, optimizer_section

ORDER = 170  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Do ReLU units die (never fire on the training set) when the learning rate is too large, and do BN, "
            "leaky ReLU or ELU prevent it? Do sigmoid outputs, being all positive, make a layer's weight-gradient "
            "rows share one sign, and does that slow training compared with tanh?")
QUESTION_ZH = ("学习率过大时 ReLU 单元是否会\"死亡\"（在训练集上从不激活）？BN、leaky ReLU、ELU 能否避免？"
               "sigmoid 的输出全为正，是否让下一层权重梯度的每一行同号，并因此比 tanh 训练得慢？")
DEFAULTS = {"depth": 4, "width": 64, "lrs": [0.01, 0.1, 0.5], "dying": [["relu", "none"], ["relu", "bn"], ["leaky_relu",
            "none"], ["elu", "none"]], "epochs": 8, "batch": 64, "seeds": 20, "sign_acts": ["sigmoid", "tanh"], "norms":
            ["none", "bn"], "sign_lr": 0.05, "sign_epochs": 10, "sign_samples": 32, "target": 0.85}
DATA = True  # any image data set (ctx.data)
PLAIN = ["dying", "relu", "none"]  # the ReLU MLP without BN that the fixes are compared with
QUICK = {"depth": 2, "width": 16, "lrs": [0.01, 0.5], "epochs": 1, "seeds": 2, "sign_epochs": 1, "sign_samples": 4}


@paddle.no_grad()
def dead_fraction(model, images):
    """Share of hidden units whose pre-activation (eval mode) is never positive on ``images``; non-finite is dead."""
    model.eval()
    dead, x = [], paddle.flatten(images, start_axis=1)
    for block in model.layers:
        pre = block.norm(block.linear(x))
        dead.append((~(pre > 0).any(axis=0)).numpy())
        x = block.dropout(block.act(pre))
    model.train()
    return float(np.concatenate(dead).mean())


def one_sign_fraction(grad):
    """Fraction of units j of an ``[in, out]`` weight gradient whose column ``grad[:, j]`` is all >= 0 or all <= 0."""
    return float(np.mean((np.asarray(grad) >= 0).all(axis=0) | (np.asarray(grad) <= 0).all(axis=0)))


def second_layer_gradient(model, images, labels):
    """Analysis gradient (no training step): the mean cross-entropy's gradient of the 2nd hidden layer's weight
    ``[in, out]`` (fed by layer 1's outputs); the gradients are cleared after (the model must start without any)."""
    paddle.nn.functional.cross_entropy(model(images), labels).backward()
    grad = model.layers[1].linear.weight.grad.numpy()
    model.clear_gradients()
    return grad


def cell(ctx, setting, seed):
    """One MLP (dying: Kaiming, SGD, ``epochs``; sign: Xavier, Momentum, ``sign_epochs``): never-firing units (%) at
    init and after training (nan: diverged); one-sign rows (%) at init, per sample and per batch, on a copy (the
    model stays as built); top-1 %; diverged, reached (0/1, within the budget); steps to the target (nan: censored)."""
    prm, info, (images, labels), dying = ctx.params, ctx.data_info, ctx.data("train"), setting["case"] == "dying"
    model = build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"], act=setting["act"],
                        num_classes=info.num_classes, norm=setting["norm"], init="kaiming" if dying else "xavier")
    copied, x, y = copy.deepcopy(model), images[:prm["batch"]], labels[:prm["batch"]]
    m = {"dead_at_init_pct": 100 * dead_fraction(model, images), "one_sign_sample_pct": 100 * float(np.mean([
        one_sign_fraction(second_layer_gradient(copied, x[i:i + 1], y[i:i + 1])) for i in range(prm["sign_samples"])])),
         "one_sign_batch_pct": 100 * one_sign_fraction(second_layer_gradient(copied, x, y))}  # at init, in this order
    lr = {"name": "Constant", "learning_rate": setting["lr"]}
    history = fit(model, (images, labels), ctx.data("test"), prm["epochs" if dying else "sign_epochs"], prm["batch"],
                  seed=seed, optimizer=optimizer_section(name="SGD" if dying else "Momentum", lr=lr),
                  eval_every=max(1, len(labels) // prm["batch"] // 2))
    diverged, steps = not np.all(np.isfinite(history.losses)), history.steps_to(prm["target"])
    return {**m, "top1_pct": 100 * history.test_accuracy[-1], "diverged": float(diverged),
            "dead_pct": math.nan if diverged else 100 * dead_fraction(model, images), "reached": float(bool(steps)),
            "steps_to_target": float(steps or math.nan), "top1_curve": [100 * a for a in history.test_accuracy]}


def _claims(params):
    """Dying ReLU at the top lr, each fix (fewer dead units, diverging more?); sigmoid vs tanh rows and speed."""
    high, low, found = max(params["lrs"]), min(params["lrs"]), []
    dying = lambda act, norm, lr=high: {"case": "dying", "act": act, "norm": norm, "lr": lr}  # noqa: E731
    sign = lambda act, norm="none": {"case": "sign", "act": act, "norm": norm, "lr": params["sign_lr"]}  # noqa: E731
    plain, has_plain = dying("relu", "none"), ["relu", "none"] in params["dying"]
    if has_plain and high != low:
        found.append(("relu_dies_more_at_high_lr", "dead_pct", plain, dying("relu", "none", low), "greater", 1,
                      "ReLU without BN: more units die at lr {a[lr]:g} than at lr {b[lr]:g}",
                      "无 BN 的 ReLU：学习率 {a[lr]:g} 时死亡单元比 {b[lr]:g} 时多"))
    for act, norm in (p for p in params["dying"] if p != ["relu", "none"] and has_plain):
        fix = "BN" if norm == "bn" else act
        found += [(f"fewer_dead_with_{fix.lower()}", "dead_pct", dying(act, norm), plain, "less", 1,
                   f"At lr {{a[lr]:g}}, {fix} leaves fewer never-firing units than plain ReLU",
                   f"学习率 {{a[lr]:g}} 时，{fix} 的从不激活单元比普通 ReLU 少"),
                  (f"diverges_more_with_{fix.lower()}", "diverged", dying(act, norm), plain, "greater", 100,
                   f"At lr {{a[lr]:g}}, {fix} diverges more often than plain ReLU (rate)",
                   f"学习率 {{a[lr]:g}} 时，{fix} 比普通 ReLU 更常发散（比例）")]
    for norm in params["norms"] if {"sigmoid", "tanh"} <= set(params["sign_acts"]) else ():
        found += [("more_one_sign_rows_with_sigmoid", "one_sign_batch_pct", sign("sigmoid"), sign("tanh"), "greater", 1,
                   "Sigmoid inputs give more one-sign weight-gradient rows than tanh inputs (over a mini-batch)",
                   "sigmoid 输入比 tanh 输入产生更多同号的权重梯度行（一个小批量）")] * (norm == "none")
        found += [(f"sigmoid_reaches_target_less_{norm}", "reached", sign("sigmoid", norm), sign("tanh", norm), "less",
                   100, f"Sigmoid reaches {{target:.0%}} within the step budget less often than tanh (norm={norm})",
                   f"sigmoid 在步数预算内达到 {{target:.0%}} 的比例低于 tanh（norm={norm}）"),
                  (f"sigmoid_slower_{norm}", "steps_to_target", sign("sigmoid", norm), sign("tanh", norm), "greater",
                   1, f"Sigmoid trains slower than tanh (norm={norm}): more steps to {{target:.0%}}",
                   f"sigmoid 比 tanh 训练得慢（norm={norm}）：达到 {{target:.0%}} 所需步数更多")]
    evidence = "paired by seed; a diverged run (dead units) or one short of the target (steps) counts as failed"
    return {cid: Claim(en, zh, metric, a, b, side=side, scale=scale, digits=1 if scale == 1 else 0, evidence=evidence)
            for cid, metric, a, b, side, scale, en, zh in found}


def _after(ctx, results):
    """Diverged and reached counts into the table; sigmoid's one-sign rows per sample as a check (by construction)."""
    for row, key in ((row, key) for row in results.rows for key in ("diverged", "reached")):
        found = results.values(key, {k: row[k] for k in ("case", "act", "norm", "lr")})
        row[key] = f"{int(sum(found))}/{len(found)}"
    if single := results.values("one_sign_sample_pct", {"case": "sign", "act": "sigmoid", "norm": "none"}):
        ctx.check(("Per sample, every weight-gradient row of a layer fed by sigmoid outputs has one sign",
                   "单个样本时，以 sigmoid 输出为输入的层，其权重梯度的每一行都同号"), 1.0 - min(single) / 100, 0.0,
                  ctx.tr("1 minus the smallest per-sample one-sign fraction", "1 减去最小的单样本同号比例"))


def _summary(ctx, results):
    dead = "; ".join(f"lr {r['lr']:g}: {r['dead after training %']}" for r in results.rows
                     if [r["case"], r["act"], r["norm"]] == PLAIN)
    return ctx.tr(f"Dead ReLU units (%) by lr without BN: {dead}.", f"无 BN 时各学习率下死亡 ReLU 单元（%）：{dead}。")


EXPERIMENT = Experiment(
    grid=lambda p: [{"case": "dying", "act": a, "norm": n, "lr": lr} for a, n in p["dying"] for lr in p["lrs"]] + [
        {"case": "sign", "act": a, "norm": n, "lr": p["sign_lr"]} for a in p["sign_acts"] for n in p["norms"]],
    cell=cell, claims=_claims, after=_after, summary=_summary,
    metrics=("top1_pct", "diverged", "dead_at_init_pct", "dead_pct", "one_sign_sample_pct", "one_sign_batch_pct",
             "reached", "steps_to_target", "top1_curve"),
    table=Table("pitfalls", (
        "MLP {depth} x {width}, batch {batch}; dying: Kaiming, SGD, {epochs} epochs; sign: Xavier, Momentum, "
        "{sign_epochs} epochs; mean ± 95% interval over {seeds} seeds, diverged runs (dead units) and runs short of "
        "{target:.0%} (steps) counted apart", "MLP {depth} x {width}，batch {batch}；dying：Kaiming，SGD，{epochs} 轮；sign："
        "Xavier，Momentum，{sign_epochs} 轮；{seeds} 个种子的均值 ± 95% 区间，发散的（死亡单元）和未达到 {target:.0%} 的（步数）单独计数"),
        ("case", "act", "norm", "lr", Stat("top1 %", "top1_pct", 1), "diverged", Stat("dead at init %",
         "dead_at_init_pct", 1), Stat("dead after training %", "dead_pct", 1), Stat("one-sign per sample %",
         "one_sign_sample_pct", 1), Stat("one-sign per batch %", "one_sign_batch_pct", 1), "reached",
         Stat("steps to target", "steps_to_target", 0))),
    charts=(Chart("heatmap", "activation_pitfalls", ("dead_pct",), ("units never firing on the training set after "
                  "training (diverged runs left out)", "训练后在训练集上从不激活的单元（发散的运行不计）"), ("never-firing units "
                  "(%)", "从不激活的单元（%）"), ("learning rate (SGD)", "学习率（SGD）"), x="lr", y="act", by="norm",
                  where={"case": "dying"}),
            *(Chart("curves", f"activation_pitfalls_speed_{norm}", ("top1_curve",), (
                f"sigmoid vs tanh MLP, norm={norm}: held-out top-1 (mean, 95% band over seeds)",
                f"sigmoid 与 tanh MLP，norm={norm}：留出集 top-1（各种子的均值与 95% 区间）"),
                ("held-out top-1 (%)", "留出集 top-1（%）"), ("evaluation (every half epoch)", "评估次序（每半轮一次）"),
                by="act", where={"case": "sign", "norm": norm}, bounds=(0.0, 100.0)) for norm in ("none", "bn"))))
run = EXPERIMENT.run
