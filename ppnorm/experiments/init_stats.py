"""CS231n's weight-initialization experiment: activation statistics of a deep tanh / ReLU MLP, with and without BN."""
import numpy as np
import paddle

from ..models import build_model
from ..nn import norm_epsilon
from .charts import Chart, draw
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval

ORDER = 70  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("How do the per-layer activation statistics of a deep MLP depend on the initialization "
            "(std 0.01, 0.05, Xavier, Kaiming) and the activation, and what does BatchNorm change?")
QUESTION_ZH = "深层 MLP 每层激活的统计量如何随初始化（std 0.01、0.05、Xavier、Kaiming）和激活函数变化？BatchNorm 改变了什么？"
DEFAULTS = {"layers": 10, "width": 500, "samples": 1000, "seeds": 8, "cases": [
    ["tanh", "normal", 0.01], ["tanh", "normal", 0.05], ["tanh", "normal", 1.0], ["tanh", "xavier", 0.0],
    ["relu", "xavier", 0.0], ["relu", "kaiming", 0.0]]}
QUICK = {"layers": 4, "width": 64, "samples": 128, "seeds": 2}
SATURATED = 0.9  # |tanh output| beyond this counts as saturated (derivative 1 - 0.9^2 = 0.19)
DATA = "it feeds Gaussian noise through untrained MLPs (CS231n's set-up), not a data set"
NORMS = ("none", "bn")
SCALE = ("per seed, log2 of the layer-{layers} std over the layer-1 std; 'keeps the scale' means within a factor 2 "
         "over the depth (±1), 'shrinks' below half (< -1); 1/1000 is about 2^-10")
SATURATION = "per seed, % of the last layer's outputs with |a| > 0.9 (tanh' < 0.19); 'most' means more than 50%"
VS_FIRST = (" (layer {layers} vs layer 1 std)", "（第 {layers} 层与第 1 层的 std 相比）")
SCALE_CLAIMS = (  # (id, case without BN, side, margin, english, chinese) on log2(last / first std)
    ("tanh_std_0p01_collapses", "tanh normal 0.01", "less", -10, "tanh with std 0.01 collapses activations to 0 (layer "
     "{layers} std below 1/1000 of layer 1's)", "std 0.01 的 tanh 网络激活塌缩到 0（第 {layers} 层 std 不到第 1 层的 "
     "1/1000）"),
    ("xavier_keeps_tanh_scale", "tanh xavier", "within", 1, "Xavier keeps tanh's scale" + VS_FIRST[0],
     "Xavier 保持 tanh 的尺度" + VS_FIRST[1]),
    ("relu_xavier_shrinks", "relu xavier", "less", -1, "ReLU with Xavier shrinks the activations" + VS_FIRST[0],
     "ReLU 配 Xavier 时激活逐层变小" + VS_FIRST[1]),
    ("kaiming_keeps_relu_scale", "relu kaiming", "within", 1, "Kaiming keeps ReLU's scale" + VS_FIRST[0],
     "Kaiming 保持 ReLU 的尺度" + VS_FIRST[1]))


def case_label(act, init, std):
    return f"{act} {init}{f' {std}' if init == 'normal' else ''}"


def _model_and_inputs(params, case, norm, seed):
    act, init, std = {case_label(*c): c for c in params["cases"]}[case]
    model = build_model("mlp", in_features=params["width"], hidden=[params["width"]] * params["layers"], act=act,
                        norm=norm, init=init, init_std=std or 0.01)
    inputs = np.random.default_rng(seed).standard_normal((params["samples"], params["width"])).astype("float32")
    return model, paddle.to_tensor(inputs)


def cell(ctx, setting, seed):
    """Standard-normal inputs through a freshly initialized MLP in train mode (BN normalizes with the batch's own
    statistics, as at the first step): per layer the activations' std and the % of them beyond ±0.9."""
    model, x = _model_and_inputs(ctx.params, setting["case"], setting["norm"], seed)
    stds, saturated = [], []
    with paddle.no_grad():
        for i, layer in enumerate(model.layers, start=1):
            x = layer(x)
            out = x.numpy()
            stds.append(float(out.std()))
            saturated.append(100.0 * float(np.mean(np.abs(out) > SATURATED)))
            if seed == ctx.seed:
                ctx.histogram(f"{setting['case']}_{setting['norm']}/layer{i}".replace(" ", "_"), out, 0)
    return {"first_std": stds[0], "last_std": stds[-1], "last_saturated_pct": saturated[-1],
            "log2_ratio": float(np.log2(stds[-1] / stds[0])), "std_curve": stds,
            "log2_std_curve": np.log2(stds).tolist(), "saturated_curve": saturated}


def bn_standardizes(params, case, seed):
    """Largest difference of BN's outputs at init (train mode) from (z - mean) / sqrt(var + eps) per unit by numpy."""
    model, x = _model_and_inputs(params, case, "bn", seed)
    error = 0.0
    with paddle.no_grad():
        for layer in model.layers:
            pre = layer.linear(x)
            out, z = layer.norm(pre), pre.numpy().astype("float64")
            expected = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + norm_epsilon(layer.norm))
            error, x = max(error, float(np.abs(out.numpy() - expected).max())), layer.act(out)
    return error


def _claims(params):
    """Collapse and saturation of tanh (CS231n's pictures), each init's scale, and BN keeping every case's scale."""
    cases, plain = [case_label(*c) for c in params["cases"]], lambda case: {"case": case, "norm": "none"}
    claims = {cid: Claim(en, zh, "log2_ratio", plain(case), side=side, margin=margin, unit=" log2", evidence=SCALE)
              for cid, case, side, margin, en, zh in SCALE_CLAIMS if case in cases}
    for name, std in (("0p05", "0.05"), ("1", "1.0")):
        if f"tanh normal {std}" in cases:
            claims[f"tanh_std_{name}_saturates"] = Claim(
                f"tanh with std {std} saturates at ±1 (most layer-{{layers}} outputs beyond ±0.9, width {{width}})",
                f"std {std} 的 tanh 网络饱和在 ±1（第 {{layers}} 层大多数输出超出 ±0.9，宽 {{width}}）",
                "last_saturated_pct", plain(f"tanh normal {std}"), margin=50, unit=" %", digits=1, evidence=SATURATION)
    claims["bn_keeps_every_scale"] = Claim(  # the largest over the cases, per seed: measured in _after
        f"With BN inserted, every initialization keeps the activations' scale (largest |log2(layer {{layers}} / layer "
        f"1 std)| over the {len(cases)} cases below 1)", f"插入 BN 后，每种初始化都保持激活的尺度（{len(cases)} 种情形中 "
        "|log2(第 {layers} 层 / 第 1 层 std)| 的最大值小于 1）", "log2_ratio", None, side="less", margin=1, unit=" log2",
        evidence=SCALE)
    return claims


def _after(ctx, results):
    """BN's standardization (a check) and claim (the largest |log2 ratio| over the cases, per seed); each layer's std
    into the table; the charts."""
    error = max(bn_standardizes(ctx.params, case_label(*c), ctx.seed_everything()) for c in ctx.params["cases"])
    ctx.check(("With BN, every layer's pre-activations at initialization are standardized per unit with the batch's "
               "own statistics, whatever the initialization", "有 BN 时，无论哪种初始化，每层的激活前值在初始化时都按"
               "单元用本批次自身的统计量标准化"), error, 1e-4,
              "largest difference of BN's output from (z - mean) / sqrt(var + eps) by numpy, over layers and cases")
    grid = EXPERIMENT.grid(ctx.params)  # the table's rows are in the grid's order
    worst = np.max([np.abs(results.values("log2_ratio", s)) for s in grid if s["norm"] == "bn"], axis=0)
    results.estimates["bn_keeps_every_scale"] = mean_interval(worst)
    for setting, row in zip(grid, results.rows):
        stds = [mean_interval(layer) for layer in np.transpose(results.values("std_curve", setting))]
        for name, e in (("first", stds[0]), ("middle", stds[len(stds) // 2 - 1]), ("last", stds[-1])):
            row[f"{name} layer std"] = f"{e.mean:.3g} ± {e.half_width:.2g}"  # 3 significant digits: 1e-7 to 1
        if not row["case"].startswith("tanh"):
            row["saturated % (last layer)"] = "-"  # saturation at ±1 is tanh's
    for norm, en, zh in (("none", "without", "无"), ("bn", "with", "有")):
        for metric, ((label, label_zh), prefix) in CHARTS.items():
            mine = [r for r in results.runs if r["norm"] == norm and r["case"].startswith(prefix)]
            if mine:  # one line per case: the per-layer mean over the seeds and its 95% band
                draw(ctx, Chart("curves", f"init_stats_{metric[:-6]}_{norm}", (metric,), (
                    f"{label} per hidden layer, {en} BatchNorm", f"每个隐藏层的{label_zh}，{zh} BatchNorm"), (
                    f"{label}, mean and 95% band", f"{label_zh}，均值与 95% 区间"), ("hidden layer", "隐藏层"),
                                by="case", labels={metric: ("mean", "均值")}), mine)


def _summary(ctx, results):
    last = {n: [np.mean(results.values("last_std", s)) for s in EXPERIMENT.grid(ctx.params) if s["norm"] == n]
            for n in NORMS}
    (a, b), (c, d) = ((min(last[n]), max(last[n])) for n in NORMS)
    return ctx.tr(f"Without BN the last layer's std ranges from {a:.2g} to {b:.2g} depending on the initialization; "
                  f"with BN it stays between {c:.2f} and {d:.2f} for every case.",
                  f"无 BN 时最后一层的 std 随初始化从 {a:.2g} 到 {b:.2g} 不等；有 BN 时每种情形都在 {c:.2f} 与 "
                  f"{d:.2f} 之间。")


CHARTS = {"log2_std_curve": (("log2 of the activation std", "激活标准差的 log2"), ""),  # metric: (label, cases)
          "saturated_curve": (("tanh outputs beyond ±0.9 (%)", "tanh 输出超出 ±0.9 的比例（%）"), "tanh")}
EXPERIMENT = Experiment(
    grid=lambda params: [{"case": case_label(*c), "norm": norm} for c in params["cases"] for norm in NORMS],
    cell=cell, claims=_claims, after=_after, summary=_summary,
    metrics=("first_std", "last_std", "last_saturated_pct", "log2_ratio", "std_curve", "log2_std_curve",
             "saturated_curve"),
    table=Table("activations", (
        "Activation std of the first, middle and last layer of a {layers}-layer MLP of width {width} ({samples} "
        "standard-normal inputs, at initialization), mean ± 95% interval over {seeds} seeds",
        "{layers} 层、宽 {width} 的 MLP 第一层、中间层与最后一层激活的标准差（{samples} 个标准正态输入，初始化时），"
        "{seeds} 个种子的均值 ± 95% 区间"), ("case", "norm", "first layer std", "middle layer std", "last layer std",
        Stat("log2(last/first std)", "log2_ratio"), Stat("saturated % (last layer)", "last_saturated_pct", 1))))
run = EXPERIMENT.run
