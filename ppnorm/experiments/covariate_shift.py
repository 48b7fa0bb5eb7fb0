"""Internal covariate shift: the variance products at init, and how far a deep layer's input moves in training."""
import copy

import numpy as np
import paddle

from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .i18n import verdict_word
from .input_scaling import zscore
from .stats import mean_interval
from .training import EveryNSteps, fit, optimizer_section

ORDER = 200  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Is a layer's output variance n·D(x)·D(w) at initialization, layer by layer, and does BN reduce how "
            "much a deep layer's input distribution moves during training (Santurkar et al. 2018 say it does not)?")
QUESTION_ZH = "初始化时各层输出的方差是否等于 n·D(x)·D(w)？BN 是否减小训练中深层输入分布的移动（Santurkar 等 2018 的测量说不减小）？"
DEFAULTS = {"init_width": 256, "init_depth": 6, "depth": 6, "width": 64, "probe": 512, "steps": 400, "every": 10,
            "batch": 64, "lr": 0.05, "tolerance": 0.1, "seeds": 8}
DATA = True  # any image data set (ctx.data)
QUICK = {"init_width": 32, "init_depth": 3, "depth": 3, "width": 16, "probe": 64, "steps": 20, "every": 5, "seeds": 2}
FORMULA = {"product": "n·D(x)·D(w)", "corrected": "n·E[x²]·D(w)"}  # a layer's output variance at init, predicted


@paddle.no_grad()
def variance_rows(model, x):
    """Per hidden layer: n, D(x), E[x²], D(w), the measured D(y) (pooled over samples and units) and its predictions."""
    rows = []
    for index, block in enumerate(model.layers):
        w, xs, ys = block.linear.weight.numpy(), x.numpy().astype("float64"), block.linear(x).numpy().astype("float64")
        n, x = w.shape[0], block(x)
        rows.append({"layer": index + 1, "n": n, "D(x)": xs.var(), "E[x^2]": (xs ** 2).mean(), "D(w)": w.var(),
                     "D(y)": ys.var(), "product": n * xs.var() * w.var(), "corrected": n * (xs ** 2).mean() * w.var()})
    return rows


@paddle.no_grad()
def layer_inputs(model, images, indices):
    """The inputs of ``model.layers[i].linear``, ``i`` in ``indices``, in train mode, on a copy (BN's running stats stay)."""
    found, x = {}, paddle.flatten(images, start_axis=1)
    for index, block in enumerate(copy.deepcopy(model).layers):
        found[index], x = x.numpy().astype("float64") if index in indices else None, block(x)
    return [found[i] for i in indices]


def distribution_shift(before, after):
    """How far a layer's input moved: rms over units of the change of (mean, std) over samples / rms std before."""
    change = (after.mean(0) - before.mean(0)) ** 2 + (after.std(0) - before.std(0)) ** 2
    return float(np.sqrt(change.mean() / (before.std(0) ** 2).mean()))


@paddle.no_grad()
def bn_moment_error(block, x):
    """By construction, in train mode each BN unit has batch mean β and std |γ|·sqrt(D/(D+ε)): the largest deviation."""
    z, norm = block.linear(x), block.norm
    out, z = norm(z).numpy().astype("float64"), z.numpy().astype("float64")
    std = np.abs(norm.weight.numpy()) * np.sqrt(z.var(0) / (z.var(0) + norm._epsilon))
    return float(max(np.abs(out.mean(0) - norm.bias.numpy()).max(), np.abs(out.std(0) - std).max()))


def cell(ctx, setting, seed):
    """Train a deep ReLU MLP; every ``every`` steps, how far the inputs of layer 2 and the last hidden layer moved."""
    prm, info, train = ctx.params, ctx.data_info, ctx.data("train")
    model = build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"],
                        num_classes=info.num_classes, norm=setting["norm"], act="relu", init="kaiming")
    probe, layers = train[0][:prm["probe"]], [1, prm["depth"] - 1]
    previous, shifts = [layer_inputs(model, probe, layers)], []

    def record(loop):
        current = layer_inputs(loop.model, probe, layers)
        shifts.append([distribution_shift(a, b) for a, b in zip(previous[0], current)])
        previous[0] = current
    epochs = max(1, round(prm["steps"] * prm["batch"] / len(train[1])))
    history = fit(model, train, ctx.data("test"), epochs, prm["batch"], seed=seed, hooks=[EveryNSteps(prm["every"], record)],
                  optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    early, deep = np.array(shifts).mean(axis=0)  # a diverged run: nan, counted as failed by the claims
    return {"early_shift": early, "deep_shift": deep, "log_deep_over_early": np.log10(deep / early),
            "log_deep_shift": np.log10(deep), "top1_pct": 100 * history.test_accuracy[-1],
            "deep_shift_curve": [s[1] for s in shifts]}


def _before(ctx, results):
    """Checks (no training): variance at init of a Kaiming ReLU MLP per seed, and what BN fixes by construction."""
    prm, info, rows = ctx.params, ctx.data_info, []
    images = ctx.data("train", normalize=False)[0].numpy()
    x = paddle.to_tensor(zscore(*[images.reshape(len(images), -1).astype("float64")] * 2)[0].astype("float32"))
    for seed in ctx.seeds(prm["seeds"]):
        ctx.seed_everything(seed)
        rows += variance_rows(build_model("mlp", in_features=info.features, hidden=[prm["init_width"]] * prm["init_depth"],
                                          num_classes=info.num_classes, norm="none", act="relu", init="kaiming"), x)
    layers = {k: [r for r in rows if r["layer"] == k] for k in sorted({r["layer"] for r in rows})}
    ratio = lambda k, key: mean_interval([r["D(y)"] / r[key] for r in layers[k]])  # noqa: E731
    ctx.table("variance", [{"layer": k, "n": sel[0]["n"], "D(y) measured": f"{np.mean([r['D(y)'] for r in sel]):.3f}",
                            "n·D(x)·D(w)": f"{np.mean([r['product'] for r in sel]):.3f}",
                            **{f"D(y) / {FORMULA[key]}": ratio(k, key).format(3) for key in FORMULA}}
                           for k, sel in layers.items()],
              title=ctx.tr("Output variance at init vs the product, ReLU MLP {init_depth} x {init_width} (Kaiming), mean ± "
                           "95% interval over {seeds} seeds", "初始化时各层输出方差与乘积公式，ReLU MLP {init_depth} x "
                           "{init_width}（Kaiming），{seeds} 个种子的均值 ± 95% 区间").format_map(prm))
    for (en, zh), key, mine in ((("With zero-mean inputs (layer 1), a layer's output variance is n·D(x)·D(w)",
                                  "输入均值为零时（第 1 层），一层输出的方差等于 n·D(x)·D(w)"), "product", [1]),
                                (("Every layer's output variance is n·E[x²]·D(w) (behind a ReLU, E[x] > 0: "
                                  "n·D(x)·D(w) misses E[x]²)", "每层输出的方差等于 n·E[x²]·D(w)（ReLU 之后 E[x] > 0："
                                  "n·D(x)·D(w) 漏掉了 E[x]²）"), "corrected", list(layers))):
        ctx.check((en, zh), max(abs(ratio(k, key).mean - 1) for k in mine), prm["tolerance"],
                  f"largest |mean over seeds of D(y) / ({FORMULA[key]}) - 1| over layers {mine}, {info.name} z-scored")
    block = build_model("mlp", in_features=info.features, hidden=[prm["width"]], norm="bn").layers[0]
    for weight in (block.norm.weight, block.norm.bias):  # random γ, β: as training might leave them
        weight.set_value(paddle.randn(weight.shape))
    ctx.check(("By construction, BN fixes each unit's batch mean (β) and std (|γ|) before the ReLU: the shift claim "
               "with BN measures what is left (β, γ, the ReLU), not Santurkar et al.'s measure", "BN 按定义把每个单元"
               "在 batch 上（ReLU 之前）的均值固定为 β、标准差固定为 |γ|：有 BN 时的移动说法测的是剩下的部分（β、γ 与 "
               "ReLU），不是 Santurkar 等的测量"), bn_moment_error(block, x[:prm["probe"]]), 1e-4, "largest |batch mean - β|, "
              "|batch std - |γ|·sqrt(D/(D+ε))| over the units, random γ, β, the z-scored train split as the batch")


def _claims(params):
    d = params["depth"]  # without BN the deep input moves more than layer 2's; with BN less (largely by construction)
    more = Claim(f"Without BN, the input of layer {d} moves more during training than the input of layer 2 (small "
                 "early changes are amplified)", f"无 BN 时，训练中第 {d} 层输入分布的移动大于第 2 层（前层的小变化在后层"
                 "被放大）", "log_deep_over_early", {"norm": "none"}, digits=3, evidence=f"log10(shift of layer {d} / 2)")
    less = Claim(f"With BN, layer {d}'s input moves less in per-unit mean and std (largely by construction: BN fixes "
                 "them before the ReLU; not Santurkar et al.'s measure)", f"有 BN 时第 {d} 层输入的逐单元均值和标准差移动"
                 "更小（很大程度上是按定义：BN 在 ReLU 前固定了它们；不是 Santurkar 等的测量）", "log_deep_shift",
                 {"norm": "bn"}, {"norm": "none"}, side="less", digits=3, evidence="log10(shift with BN / without)")
    return {"deep_input_moves_more": more, "bn_reduces_deep_shift": less}


def _summary(ctx, results):
    (more, less), depth = (verdict_word(v, ctx.lang) for v in results.verdicts.values()), ctx.params["depth"]
    return ctx.tr(f"Without BN, layer {depth}'s input moves more than layer 2's: {more}. With BN it moves less in "
                  f"per-unit mean and std, which BN fixes by construction: {less} (not Santurkar et al.'s measure).",
                  f"无 BN 时第 {depth} 层输入的移动大于第 2 层：{more}。有 BN 时其逐单元均值和标准差移动更小"
                  f"（BN 按定义固定它们）：{less}（不是 Santurkar 等的测量）。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"norm": "none"}, {"norm": "bn"}], cell=cell, claims=_claims, before=_before, summary=_summary,
    metrics=("early_shift", "deep_shift", "log_deep_over_early", "log_deep_shift", "top1_pct", "deep_shift_curve"),
    table=Table("shift", ("Shift of a layer's input distribution per {every} steps (relative to its std), mean over "
                          "training ± 95% interval over {seeds} seeds", "每 {every} 步一层输入分布的移动（相对其标准差），"
                          "训练过程的平均，{seeds} 个种子的 95% 区间"),
                ("norm", Stat("layer 2 input shift", "early_shift", 4), Stat("deep layer input shift", "deep_shift", 4),
                 Stat("final top1 %", "top1_pct", 1))),
    charts=(Chart("curves", "covariate_shift", ("deep_shift_curve",), (
        "input shift of the last hidden layer during training", "训练中最后一层隐藏层输入的移动"),
                  ("shift since the last measurement (relative to std)", "相邻两次测量之间的移动（相对标准差）"),
                  ("measurement (one every params.every steps)", "测量次序（每 params.every 步一次）"), by="norm"),))
run = EXPERIMENT.run
