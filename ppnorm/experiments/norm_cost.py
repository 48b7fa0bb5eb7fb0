"""What BN costs: train step, dygraph eval and exported inference (BN folded into the conv) of one model with each
norm, timed in alternation in one process (:mod:`ppnorm.benchmark.norm_cost`) and decided on per-round time ratios
against the same model without normalization. Always on the CPU, like tools/benchmark.py."""
import os
import statistics

import paddle

from ..benchmark.cases import MODES
from ..benchmark.norm_cost import CLOCKS, REFERENCE, check_norms, parse_case, time_case, time_ratios
from ..engine.threads import current_cpu_threads
from .stats import mean_interval

QUESTION = ("How much time does BN add to a train step, a dygraph eval and exported inference (BN folded into the "
            "conv), timed side by side against the same model without normalization (and with GN, LN, IN)?")
QUESTION_ZH = ("与同一模型不加归一化（以及用 GN、LN、IN）在同一进程内交替计时，BN 让训练一步、动态图推理和导出后推理"
               "（BN 折叠进卷积）多花多少时间？")
DEFAULTS = {"cases": ["resnet20:8:32", "resnet20:32:32"], "norms": ["bn", "none", "gn", "ln", "in"],
            "modes": ["train", "eval", "infer"], "warmup": 2, "repeats": 12, "min_sample_seconds": 0.4,
            "clock": "cpu", "infer_margin_pct": 5.0}
QUICK = {"cases": ["resnet20:8:4"], "norms": ["bn", "none", "gn"], "warmup": 1, "repeats": 3,
         "min_sample_seconds": 0.0}
MODE_NAMES = {"train": ("train step", "训练一步"), "eval": ("dygraph eval", "动态图推理"),
              "infer": ("exported inference (BN folded)", "导出后推理（BN 已折叠）")}
COLOURS = {"bn": "C0", "gn": "C2", "ln": "C3", "in": "C4"}
DATA = "it times models on random inputs of the sizes in params.cases, not on a data set"


def _check_params(prm):
    for name, value, valid in (("modes", prm["modes"], MODES), ("clock", [prm["clock"]], CLOCKS)):
        wrong = [v for v in value if v not in valid]
        if wrong or not value:
            raise ValueError(f"params.{name}: {wrong or value} is not a choice of {', '.join(valid)}")
    check_norms(prm["norms"])
    if prm["repeats"] < 2:
        raise ValueError("params.repeats must be at least 2: an interval needs two rounds")


def _percent_over(seconds, norm, reference):
    """(time ratio - 1) * 100 per round: how much longer ``norm`` takes than ``reference``, in percent."""
    return mean_interval([(r - 1) * 100 for r in time_ratios(seconds, norm, reference)])


def _measure(ctx, case):
    """Time the case; one progress line and runs.csv rows (every round of every norm) per mode."""
    prm = ctx.params

    def done(mode, seconds):
        for norm, values in seconds.items():
            ctx.runs += [{"case": str(case), "mode": mode, "norm": norm, "round": i, "seconds": s}
                         for i, s in enumerate(values)]
        bn = _percent_over(seconds, "bn", REFERENCE) if "bn" in seconds else None
        ctx.run_done(f"{case.label} batch {case.batch} {mode}",
                     f"bn vs {REFERENCE}: {bn.format(1)} % time" if bn else "timed")

    return time_case(case, prm["norms"], prm["modes"], prm["warmup"], prm["repeats"], current_cpu_threads(),
                     prm["min_sample_seconds"], prm["clock"], done)


def _rows(case, timings):
    """The cost table: median ms per batch and the mean per-round time ratio to no norm with its interval."""
    rows = []
    for mode, seconds in timings.items():
        for norm, values in seconds.items():
            ratio = mean_interval(time_ratios(seconds, norm)) if norm != REFERENCE else None
            rows.append({"case": case.label, "batch": case.batch, "mode": mode, "norm": norm,
                         "ms per batch (median)": round(statistics.median(values) * 1000, 2),
                         "time / none": ratio.format(3) if ratio else "1 (reference)",
                         "ratio mean": ratio.mean if ratio else 1.0, "ratio half-width": ratio.half_width if ratio else 0.0})
    return rows


def _claims(ctx, case, timings):
    """BN vs no norm in each timed mode of ``case``; returns ``{mode: estimate}`` of (t_bn / t_none - 1) * 100."""
    where = f"{case.label}, batch {case.batch}"
    margin = ctx.params["infer_margin_pct"]
    claims = {"train": ("BN adds training time ({}): a train step with BN takes longer than without normalization",
                        "BN 增加训练时间（{}）：有 BN 时训练一步比没有归一化时慢", "greater", 0.0),
              "eval": ("BN adds dygraph eval time ({}): eval with BN takes longer than without normalization",
                       "BN 增加动态图推理时间（{}）：有 BN 的推理比没有归一化时慢", "greater", 0.0),
              "infer": (f"BN folded into the conv adds no inference time ({{}}): the exported BN model is within "
                        f"±{margin:g}% of the model without normalization",
                        f"BN 折叠进卷积后不增加推理时间（{{}}）：导出的 BN 模型与没有归一化的模型相差在 ±{margin:g}% 以内",
                        "within", margin)}
    estimates = {}
    for mode, (en, zh, side, bound) in claims.items():
        if mode in timings and "bn" in timings[mode]:
            estimates[mode] = _percent_over(timings[mode], "bn", REFERENCE)
            unit = " %" if side == "greater" else ""  # "within ±5" reads better without a unit after it
            ctx.compare((en.format(where), zh.format(where)), estimates[mode], side, bound, unit, 1,
                        evidence=f"per-round (t_bn / t_none - 1) * 100, {ctx.params['clock']} clock")
    return estimates


def _norm_claims(ctx, case, timings):
    """GN / LN / IN cannot be folded: exported, each takes longer than folded BN."""
    where = f"{case.label}, batch {case.batch}"
    for norm in [n for n in ("gn", "ln", "in") if n in timings.get("infer", {})]:
        if "bn" in timings["infer"]:
            ctx.compare((f"Exported {norm.upper()} takes longer than folded BN at inference ({where})",
                         f"导出后 {norm.upper()} 的推理比折叠后的 BN 慢（{where}）"),
                        _percent_over(timings["infer"], norm, "bn"), "greater", 0.0, " %", 1,
                        evidence=f"per-round (t_{norm} / t_bn - 1) * 100 of the exported models")


def _chart(ctx, rows):
    from matplotlib.lines import Line2D
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    cases = list(dict.fromkeys(r["case"] for r in rows))
    norms = [n for n in dict.fromkeys(r["norm"] for r in rows) if n != REFERENCE]
    fig, axes = ctx.figure(len(modes), width=4.4, height=3.8)
    width = 0.8 / max(1, len(norms))
    for ax, mode in zip(axes[0], modes):
        for j, norm in enumerate(norms):
            picked = [next(r for r in rows if r["mode"] == mode and r["case"] == c and r["norm"] == norm) for c in cases]
            xs = [i + (j - (len(norms) - 1) / 2) * width for i in range(len(cases))]
            ax.bar(xs, [r["ratio mean"] for r in picked], width, color=COLOURS.get(norm, "C7"), label=norm.upper(),
                   yerr=[r["ratio half-width"] for r in picked], capsize=3, ecolor="black")
        ax.axhline(1.0, color="grey", linestyle="--", label=ctx.chart_text("no norm (reference)", "无归一化（参照）"))
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, fontsize=8)
        ax.set_title(ctx.chart_text(*MODE_NAMES[mode]))
        ax.set_xlabel(ctx.chart_text("model and input size", "模型与输入大小"))
        ax.set_ylabel(ctx.chart_text("time / time without norm (ratio)", "用时 / 无归一化时的用时（比值）"))
        ax.set_ylim(0, max(r["ratio mean"] + r["ratio half-width"] for r in rows) * 1.1)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", marker="|", markersize=10, linestyle="None"))
    labels.append(ctx.chart_text("95% interval over rounds", "各轮的 95% 区间"))
    axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)  # off the bars
    ctx.save_figure(fig, "norm_cost", ctx.tr("time of each norm over time without norm",
                                             "各归一化的用时与无归一化时用时之比"))


def run(ctx):
    _check_params(ctx.params)
    paddle.set_device("cpu")  # the CPU's kernels are timed, as in tools/benchmark.py
    before = os.getloadavg()
    cases = [parse_case(text) for text in ctx.params["cases"]]
    ctx.plan(len(cases) * len(ctx.params["modes"]))
    rows, timings = [], {}
    for case in cases:
        timings[case] = _measure(ctx, case)
        rows += _rows(case, timings[case])
    after = os.getloadavg()
    ctx.table("cost", rows, ["case", "batch", "mode", "norm", "ms per batch (median)", "time / none"],
              title=ctx.tr(f"Time per batch ({ctx.params['clock']} clock, {current_cpu_threads()} thread(s)) and its "
                           f"ratio to no norm, mean ± 95% interval over {ctx.params['repeats']} alternating rounds",
                           f"每个 batch 的用时（{ctx.params['clock']} 时钟，{current_cpu_threads()} 个线程）及其与无归一化之比，"
                           f"{ctx.params['repeats']} 轮交替计时的均值 ± 95% 区间"))
    _chart(ctx, rows)
    ctx.note(ctx.tr(f"Load average (1/5/15 min) before {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f}, after "
                    f"{after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f} on {os.cpu_count()} cores.",
                    f"负载（1/5/15 分钟）开始时 {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f}，结束时 "
                    f"{after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f}，共 {os.cpu_count()} 核。"))
    summary = [(f"{case.label} batch {case.batch}", _claims(ctx, case, timings[case])) for case in cases]
    _norm_claims(ctx, cases[-1], timings[cases[-1]])
    return _verdict(ctx, summary)


def _verdict(ctx, summary):
    """One sentence from the measured BN-over-no-norm estimates of every case."""
    parts = [f"{label}: " + ", ".join(f"{ctx.tr(*MODE_NAMES[mode])} {est.format(1)} %" for mode, est in found.items())
             for label, found in summary if found]
    return ctx.tr("Time with BN over time without normalization, minus 1, mean ± 95% interval over rounds: ",
                  "有 BN 的用时比没有归一化时多出的百分比（各轮均值 ± 95% 区间）：") + "; ".join(parts) + "."
