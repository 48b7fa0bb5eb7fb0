"""Initialization after training: how much accuracy depends on the init with and without BN; a constant init's ties."""
import numpy as np

from ..engine.config import ConfigError
from ..models import build_model
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import paired_difference
from .training import fit, optimizer_section

ORDER = 160  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does BN make training insensitive to the initialization (std 0.01, 0.05, Xavier, Kaiming, 10x Kaiming), "
            "and does a constant initialization leave every unit of a layer identical after training "
            "(with and without BN, with and without dropout)?")
QUESTION_ZH = "BN 是否让训练对初始化（std 0.01、0.05、Xavier、Kaiming、10 倍 Kaiming）不敏感？常数初始化是否让一层的所有单元在训练后仍完全相同（有无 BN、有无 dropout）？"
DEFAULTS = {"depth": 6, "width": 64, "inits": ["std 0.01", "std 0.05", "xavier", "kaiming", "10x kaiming"],
            "norms": ["none", "bn"], "epochs": 12, "batch": 64, "lr": 0.05, "target": 0.9, "seeds": 10,
            "constant": 0.015, "dropout": 0.2, "tolerance": 0.001}
DATA = True  # any image data set (ctx.data)
QUICK = {"depth": 3, "width": 16, "inits": ["std 0.01", "kaiming", "10x kaiming"], "epochs": 1, "seeds": 2,
         "constant": 0.06}
WITH_BN = {"none": ("", ""), "bn": (" with BN", "（有 BN）")}  # the norms this experiment compares


def init_args(name, fan_in, constant=0.015):
    """``(init, init_std)`` of build_model; ``10x kaiming`` is N(0, 10 * sqrt(2 / fan_in)), exact for every layer
    when all have that fan-in (inputs = width = 64 on digits; elsewhere the first layer's std is off by
    sqrt(C*H*W / width))."""
    if name.startswith("std "):
        return "normal", float(name[4:])
    if name == "10x kaiming":
        return "normal", 10 * float(np.sqrt(2.0 / fan_in))
    return name, constant if name == "constant" else 0.01


def distinct_units(weight, tolerance):
    """How many distinct units a ``[in, out]`` weight has: column j joins the first earlier representative
    whose incoming weights differ from its own by at most ``tolerance * max|weight|`` (max-abs), else it
    starts a new one (nan for a non-finite weight)."""
    weight = np.asarray(weight, dtype="float64")
    if not np.all(np.isfinite(weight)):
        return float("nan")  # a diverged run has no units to compare
    limit, representatives = tolerance * max(float(np.abs(weight).max()), 1e-30), []
    for column in weight.T:
        if not any(np.abs(column - rep).max() <= limit for rep in representatives):
            representatives.append(column)
    return len(representatives)


def cell(ctx, setting, seed):
    """A ReLU MLP (depth x width) trained from ``init``: final held-out top-1 %, the evaluated step at which it first
    reached the target (nan when it never did: censored, counted by ``reached``), whether it diverged (a non-finite
    loss) and, after a constant init, its distinct units per hidden layer (mean over the layers)."""
    prm, info, train, constant = ctx.params, ctx.data_info, ctx.data("train"), setting["init"] == "constant"
    init, std = init_args(setting["init"], prm["width"], prm["constant"])
    model = build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"], act="relu", init=init,
                        num_classes=info.num_classes, norm=setting["norm"], init_std=std, dropout=setting["dropout"])
    half_epoch = max(1, len(train[1]) // prm["batch"] // 2)
    history = fit(model, train, ctx.data("test"), prm["epochs"], prm["batch"], seed=seed, eval_every=half_epoch,
                  optimizer=optimizer_section(name="Momentum", lr={"name": "Constant", "learning_rate": prm["lr"]}))
    reached = history.steps_to(prm["target"])
    distinct = [distinct_units(b.linear.weight.numpy(), prm["tolerance"]) for b in model.layers] if constant else []
    return {"top1_pct": 100 * history.test_accuracy[-1], "steps_to_target": np.nan if reached is None else reached,
            "reached": float(reached is not None), "diverged": float(not np.all(np.isfinite(history.losses))),
            "distinct": float(np.mean(distinct)) if constant else np.nan}  # only a constant init can tie units


def _constant(norm, dropout=0.0):
    return {"init": "constant", "norm": norm, "dropout": dropout}


def _grid(params):  # every init without dropout, then the constant init without and with it; per norm
    return ([{"init": i, "norm": n, "dropout": 0.0} for n in params["norms"] for i in params["inits"]]
            + [_constant(n, d) for n in params["norms"] for d in (0.0, params["dropout"])])


def _validate(params):
    if not params["dropout"] > 0 or "constant" in params["inits"] or not set(params["norms"]) <= set(WITH_BN):
        raise ConfigError("init_sensitivity: params.dropout must be > 0 (the constant init runs without and with it), "
                          "params.inits may not name 'constant' (it has its own runs), params.norms: none and/or bn")


def _claims(params):
    """BN narrows the inits' accuracy spread, more inits reach the target; dropout breaks ties; constant < Kaiming."""
    inits, n, claims = params["inits"], len(params["inits"]), {}
    if {"none", "bn"} <= set(params["norms"]):
        claims["bn_narrows_accuracy_spread"] = Claim(  # a std across settings, per seed: measured in _after
            f"BN makes training insensitive to the initialization: the spread of the final top-1 accuracy (points) "
            f"across the {n} inits is smaller with BN", f"BN 让训练对初始化不敏感：{n} 种初始化之间最终 top-1 准确率"
            "（百分点）的离散度有 BN 时更小", "top1_pct", None, side="less", digits=1,
            evidence="std across inits with BN minus without, paired by seed")
        claims["bn_reaches_target_from_more_inits"] = Claim(
            f"BN makes reaching {{target:.0%}} held-out accuracy insensitive to the initialization: more of the {n} "
            "inits reach it with BN (points of the inits)", f"BN 让达到 {{target:.0%}} 留出集准确率对初始化不敏感：有 BN "
            f"时 {n} 种初始化中达到的更多（占初始化的百分点）", "reached", {"norm": "bn", "init": inits}, {"norm": "none",
            "init": inits}, scale=100, digits=1, evidence="share of the inits reaching it, with BN minus without")
    for norm in params["norms"]:
        en, zh = WITH_BN[norm]
        claims[f"dropout_breaks_tie_{norm}"] = Claim(
            f"Dropout {{dropout}} breaks the tie of a constant init{en}: more distinct units",
            f"dropout {{dropout}} 打破常数初始化{zh}的对称：不同单元更多", "distinct", _constant(norm, params["dropout"]),
            _constant(norm), digits=1, evidence="distinct units with dropout minus without, paired by seed")
    if "kaiming" in inits and "none" in params["norms"]:
        claims["constant_below_kaiming"] = Claim(
            "A constant init (no BN, no dropout) ends with lower accuracy than Kaiming",
            "常数初始化（无 BN、无 dropout）的最终准确率低于 Kaiming", "top1_pct", _constant("none"),
            {"init": "kaiming", "norm": "none"}, side="less", digits=1, evidence="top-1 points, paired by seed")
    return claims


def _after(ctx, results):
    """One distinct unit per layer after a constant init without dropout, by construction (identical units get
    identical gradients, BN or not): a check. The spread claim; the runs that reached the target and diverged."""
    prm = ctx.params
    for norm in prm["norms"]:
        (en, zh), ties = WITH_BN[norm], results.values("distinct", _constant(norm))
        ctx.check((f"With a constant init{en} and no dropout, every hidden unit of a layer is still identical after "
                   f"training (1 distinct unit of {prm['width']})", f"常数初始化{zh}且无 dropout，训练后每层的隐藏单元"
                   f"仍完全相同（{prm['width']} 个中只有 1 个不同的）"), float(np.max(ties)) - 1, 0, "largest over "
                  "the seeds of the distinct units per hidden layer (mean over layers), minus 1")
    if "bn_narrows_accuracy_spread" in results.claims:
        spread = results.store["spread"] = {norm: np.std([results.values("top1_pct", {"init": i, "norm": norm})
                                                          for i in prm["inits"]], axis=0, ddof=1) for norm in WITH_BN}
        results.estimates["bn_narrows_accuracy_spread"] = paired_difference(spread["bn"], spread["none"])
    for setting, row in zip(_grid(prm), results.rows):  # the table's rows are in the grid's order
        row.update({k: f"{int(np.sum(results.values(k, setting)))}/{prm['seeds']}" for k in ("reached", "diverged")})


def _summary(ctx, results):
    listed = ", ".join(f"{n} {np.mean(v):.1f}" for n, v in results.store.get("spread", {}).items()) or "-"
    return ctx.tr(f"Std of final top-1 across inits (points): {listed}; {len(results.rows)} settings.",
                  f"跨初始化的最终 top-1 标准差（百分点）：{listed}；共 {len(results.rows)} 种设置。")


EXPERIMENT = Experiment(
    grid=_grid, cell=cell, metrics=("top1_pct", "steps_to_target", "reached", "diverged", "distinct"),
    claims=_claims, validate=_validate, after=_after, summary=_summary,
    table=Table("init_sensitivity", (
        "ReLU MLP {depth} x {width} on {data}, {epochs} epochs; mean ± 95% interval over {seeds} seeds; steps to "
        "{target:.0%}: over the runs that reached it (reached: how many did)",
        "{data} 上的 ReLU MLP {depth} x {width}，{epochs} 个 epoch；{seeds} 个种子的均值 ± 95% 区间；达到 {target:.0%} "
        "的步数：只对达到的运行求平均（达到目标的种子：有几次达到）"),
                ("init", "norm", "dropout", Stat("top-1 %", "top1_pct", 1),
                 Stat("steps to target", "steps_to_target", 0), "reached", "diverged",
                 Stat("distinct units", "distinct", 1))),
    charts=(Chart("heatmap", "init_sensitivity", ("top1_pct",), (
        "final held-out top-1 per init and norm (a panel per dropout: only the constant init runs with dropout)",
        "各初始化与归一化的最终留出集 top-1（每个 dropout 一个面板：只有常数初始化带 dropout 训练）"), ("final held-out "
        "top-1 (%)", "最终留出集 top-1（%）"), ("normalization", "归一化"), x="norm", y="init", by="dropout"),))
run = EXPERIMENT.run
