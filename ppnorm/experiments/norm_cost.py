"""What BN costs in a train step, a dygraph eval and exported inference (BN folded into the conv), on the CPU.

A cell is one timing session of a case in one mode: the model with each norm, built with the session's seed, timed
in alternation for ``repeats`` rounds. Claims are decided over the per-round time ratios to the model without
normalization (rounds timed side by side pair), pooled over the sessions: ``n`` counts rounds, not seeds."""
import csv
import os
import statistics

import paddle

from ..benchmark.cases import MODES, exported_predictor, make_batch, make_run, temporary_dir
from ..benchmark.norm_cost import CLOCKS, NORMS, REFERENCE, case_models, parse_case, time_ratios
from ..benchmark.timing import timed_repeats
from ..engine.config import ConfigError
from ..engine.threads import current_cpu_threads
from .claims import Claim
from .framework import Experiment, Stat, Table
from .stats import mean_interval

ORDER = 150  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("How much time does BN add to a train step, a dygraph eval and exported inference (BN folded into the "
            "conv), timed side by side against the same model without normalization (and with GN, LN, IN)?")
QUESTION_ZH = ("与同一模型不加归一化（以及用 GN、LN、IN）在同一进程内交替计时，BN 让训练一步、动态图推理和导出后推理"
               "（BN 折叠进卷积）多花多少时间？")
DEFAULTS = {"cases": ["resnet20:8:32", "resnet20:32:32"], "modes": ["train", "eval", "infer"], "warmup": 2,
            "repeats": 12, "min_sample_seconds": 0.4, "clock": "cpu", "seeds": 1}  # seeds: timing sessions
QUICK = {"cases": ["resnet20:8:4", "resnet20:16:4"], "warmup": 1, "repeats": 3, "min_sample_seconds": 0.0, "seeds": 2}
DATA = "it times models on random inputs of the sizes in params.cases, not on a data set"
NORMED = [norm for norm in NORMS if norm != REFERENCE]
UNFOLDED = [norm for norm in NORMED if norm != "bn"]  # exported, they stay layers of their own
ROUNDS = ("decided over rounds, not seeds: per-round {quantity} of {repeats} alternating rounds x {seeds} timing "
          "session(s) in one process, {clock} clock; n counts rounds")
MODE_CLAIMS = {  # mode: claim id, texts (of the case), side
    "train": ("bn_slows_train", "BN adds training time ({}): a train step with BN takes longer than without "
              "normalization", "BN 增加训练时间（{}）：有 BN 时训练一步比没有归一化时慢", "greater"),
    "eval": ("bn_slows_eval", "BN adds dygraph eval time ({}): eval with BN takes longer than without normalization",
             "BN 增加动态图推理时间（{}）：有 BN 的推理比没有归一化时慢", "greater"),
    "infer": ("folded_bn_infer_free", "BN folded into the conv adds no inference time ({}): the exported BN model is "
              "within ±{{margin:g}} % of the model without normalization",
              "BN 折叠进卷积后不增加推理时间（{}）：导出的 BN 模型与没有归一化的模型相差在 ±{{margin:g}} % 以内", "within")}


def cell(ctx, setting, seed):
    """One timing session: each norm's median ms per batch, every round's seconds, the export's logit difference."""
    paddle.set_device("cpu")  # the CPU's kernels are timed, as in tools/benchmark.py
    prm, case, mode, threads = ctx.params, parse_case(setting["case"]), setting["mode"], current_cpu_threads()
    (images, labels), runs, export_diff = make_batch(case.batch, case.image_size, case.num_classes, seed), {}, {}
    with temporary_dir() as work:
        for norm, model in case_models(case, NORMS).items():
            runs[norm], export_diff[norm] = exported_predictor(model, images, os.path.join(work, norm), threads) \
                if mode == "infer" else (make_run(model, mode, images, labels, work, threads), float("nan"))
        seconds = timed_repeats(runs, prm["warmup"], prm["repeats"], prm["min_sample_seconds"], CLOCKS[prm["clock"]])
    return {**{f"ms_{norm}": 1000 * statistics.median(values) for norm, values in seconds.items()},
            **{f"seconds_{norm}": values for norm, values in seconds.items()},
            "export_rel_diff": max(export_diff.values())}  # nan in train and eval


def _validate(params):
    for name, chosen, valid in (("modes", params["modes"], MODES), ("clock", [params["clock"]], CLOCKS)):
        if not chosen or any(value not in valid for value in chosen):
            raise ConfigError(f"params.{name}: {chosen} is not a choice of {', '.join(valid)}")
    if params["repeats"] < 2 or not params["cases"]:
        raise ConfigError("params.repeats must be at least 2 (an interval needs two rounds) and params.cases not empty")
    try:
        list(map(parse_case, params["cases"]))
    except ValueError as error:
        raise ConfigError(f"params.cases: {error}") from None


def _claims(params):
    """BN vs no norm per mode and case (``_case1``: the first of params.cases); GN, LN, IN vs folded BN in the last."""
    claims = {}
    for i, case in enumerate(map(parse_case, params["cases"]), 1):
        where = f"{case.label}, batch {case.batch}"
        for mode in params["modes"]:
            cid, en, zh, side = MODE_CLAIMS[mode]
            claims[f"{cid}_case{i}"] = Claim(en.format(where), zh.format(where), "seconds_bn", side=side,
                                             margin=5.0 if side == "within" else 0.0, unit=" %", digits=1,
                                             evidence=ROUNDS.replace("{quantity}", "(t_bn / t_none - 1) x 100"))
    for norm in UNFOLDED if "infer" in params["modes"] else []:
        claims[f"{norm}_infer_slower_than_folded_bn"] = Claim(
            f"Exported {norm.upper()} takes longer than folded BN at inference ({where})",
            f"导出后 {norm.upper()} 的推理比折叠后的 BN 慢（{where}）", f"seconds_{norm}", unit=" %", digits=1,
            evidence=ROUNDS.replace("{quantity}", f"(t_{norm} / t_bn - 1) x 100 of the exported models"))
    return claims


def _after(ctx, results):
    """Per case and mode, its sessions' rounds pooled: time ratios, claims' estimates, rounds.csv; checks, chart, note."""
    def percent_over(seconds, norm, reference=REFERENCE):  # (time ratio - 1) x 100 per round, over the rounds
        return mean_interval([(r - 1) * 100 for r in time_ratios(seconds, norm, reference)])

    cases, modes, rounds, bn = ctx.params["cases"], ctx.params["modes"], [], results.store.setdefault("bn", {})
    for row in results.rows:
        mine = [run for run in results.runs if (run["case"], run["mode"]) == (row["case"], row["mode"])]
        seconds = {norm: [s for run in mine for s in run[f"seconds_{norm}"]] for norm in NORMS}
        rounds += [(row["case"], row["mode"], run["seed"], i, norm, s) for run in mine for norm in NORMS
                   for i, s in enumerate(run[f"seconds_{norm}"])]
        for column, ratio in ((f"{n} / none", mean_interval(time_ratios(seconds, n))) for n in NORMED):
            row.update({column: ratio.format(3), f"{column} mean": ratio.mean, f"{column} half-width": ratio.half_width})
        case, bn[row["case"], row["mode"]] = cases.index(row["case"]) + 1, percent_over(seconds, "bn")
        results.estimates[f"{MODE_CLAIMS[row['mode']][0]}_case{case}"] = bn[row["case"], row["mode"]]
        if row["mode"] == "infer" and case == len(cases):
            results.estimates.update({f"{n}_infer_slower_than_folded_bn": percent_over(seconds, n, "bn")
                                      for n in UNFOLDED})
    with open(os.path.join(ctx.output_dir, "rounds.csv"), "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("case", "mode", "seed", "round", "norm", "seconds"), *rounds])
    if "infer" in modes:
        ctx.check(("The exported models (BN folded) give their dygraph eval's logits", "导出的模型（BN 已折叠）给出与动态图"
                   "推理相同的 logits"), max(run["export_rel_diff"] for run in results.runs if run["mode"] == "infer"),
                  1e-4, "largest logit difference over norms and sessions, relative to the largest logit")
    _chart(ctx, {(row["case"], row["mode"]): row for row in results.rows}, cases, modes)
    load = "{:.2f}/{:.2f}/{:.2f}".format(*results.store["load"]), "{:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg())
    ctx.note(ctx.tr(f"Load average (1/5/15 min) before {load[0]}, after {load[1]} on {os.cpu_count()} cores; every "
                    "round's seconds: rounds.csv.", f"负载（1/5/15 分钟）开始时 {load[0]}，结束时 {load[1]}，共 "
                    f"{os.cpu_count()} 核；每一轮的秒数：rounds.csv。"))


def _chart(ctx, rows, cases, modes):
    """Per mode, each norm's time over no norm's, per case (bars: mean over rounds; lines: 95 % interval)."""
    fig, axes = ctx.figure(len(modes), width=4.4, height=3.8)
    for ax, mode in zip(axes[0], modes):
        for j, column in enumerate(f"{norm} / none" for norm in NORMED):
            ax.bar([i + (j - 1.5) * 0.2 for i in range(len(cases))], [rows[c, mode][f"{column} mean"] for c in cases],
                   0.2, yerr=[rows[c, mode][f"{column} half-width"] for c in cases], capsize=3, label=NORMED[j].upper())
        ax.axhline(1.0, color="grey", linestyle="--", label=ctx.chart_text("no norm (reference)", "无归一化（参照）"))
        ax.set_xticks(range(len(cases)), cases, fontsize=8)
        ax.set_title(ctx.chart_text(*{"train": ("train step", "训练一步"), "eval": ("dygraph eval", "动态图推理"),
                                      "infer": ("exported inference (BN folded)", "导出后推理（BN 已折叠）")}[mode]))
        ax.set_ylabel(ctx.chart_text("time / time without norm, 95% interval", "用时 / 无归一化时的用时，95% 区间"))
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)  # beside the bars, over none
    ctx.save_figure(fig, "norm_cost", ctx.tr("time of each norm over time without norm (model:size:batch)",
                                             "各归一化的用时与无归一化时用时之比（模型:输入大小:batch）"))


EXPERIMENT = Experiment(
    grid=lambda params: [{"case": case, "mode": mode} for case in params["cases"] for mode in params["modes"]],
    cell=cell, claims=_claims, validate=_validate, after=_after,
    before=lambda ctx, results: results.store.update(load=os.getloadavg()),
    summary=lambda ctx, results: ctx.tr(
        "Time with BN over time without normalization, minus 1, mean ± 95% interval over rounds: {}.",
        "有 BN 的用时比没有归一化时多出的百分比（各轮均值 ± 95% 区间）：{}。").format(
        "; ".join(f"{case} {mode} {bn.format(1)} %" for (case, mode), bn in results.store["bn"].items())),
    metrics=(*(f"ms_{norm}" for norm in NORMS), "export_rel_diff", *(f"seconds_{norm}" for norm in NORMS)),
    table=Table("cost", (
        "ms per batch ({clock} clock), median of a session's rounds, mean over {seeds} session(s); ratio to no norm, "
        "mean ± 95% interval over {repeats} alternating rounds x {seeds} session(s)", "每个 batch 的毫秒数（{clock} 时钟），"
        "一个会话各轮的中位数，{seeds} 个会话的均值；与无归一化之比，{repeats} 轮交替计时 x {seeds} 个会话的均值 ± 95% 区间"),
        ("case", "mode", *(Stat(f"{norm} ms", f"ms_{norm}") for norm in NORMS), *(f"{n} / none" for n in NORMED))))
run = EXPERIMENT.run
