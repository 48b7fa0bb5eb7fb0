"""The shared runner: runs one experiment module and writes its CSVs, ``claims.csv`` and ``report.md``.

An experiment module defines ``QUESTION`` (one sentence; ``QUESTION_ZH`` in Chinese), ``DEFAULTS`` (its
settings), ``QUICK`` (overrides for the tests) and ``run(ctx)``, which computes, calls ``ctx.table`` /
``ctx.figure`` / ``ctx.check`` / ``ctx.compare`` (see :mod:`.context`), and returns the verdict in one sentence.
Claims are decided by :mod:`.stats` from seed-to-seed intervals, never typed in; after ``run`` the runner applies
Holm over the experiment's statistical claims (:meth:`Context.finish_claims`).
"""
import csv
import os
import platform
import signal
import time

from . import cell_store
from ..engine.run_lock import remove_empty_dirs
from .context import Context
from .i18n import WORDS, verdict_word
from .power import power_section
from .seedblocks import PILOT, SeedBlock, check_not_pilot, record
from .tables import format_p, markdown_table
from .tune_report import tuning_lines

# kind: "interval" (a statistical claim: verdict is one of stats.VERDICTS after Holm within the experiment, raw_verdict
# before it) or "check" (a numerical identity: passed / failed). p: the p-value of the raw decision; p_holm: Holm's.
# failed: runs that diverged or failed, not in n. sesoi: the smallest effect of interest ("" when none was declared).
CLAIM_COLUMNS = ["experiment", "claim_en", "claim_zh", "kind", "verdict", "raw_verdict", "deciding", "mean", "low",
                 "high", "n", "failed", "side", "margin", "sesoi", "p", "p_holm", "evidence"]


def cpu_name():
    """The CPU's model name as ``lscpu`` prints it (``/proc/cpuinfo``), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_csv(path, rows, columns):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def claims_lines(claims, lang):
    """report.md's sections of the claims (verdict, deciding number, raw and Holm p) and of the numerical checks."""
    words = WORDS[lang]
    shown = [dict(c, verdict=verdict_word(c["verdict"], lang), p=format_p(c["p"]), **{"Holm p": format_p(c["p_holm"])})
             for c in claims if c["kind"] == "interval"]
    checks = [dict(c, result=verdict_word(c["verdict"], lang), **{"error (tolerance)": c["deciding"]})
              for c in claims if c["kind"] == "check"]
    lines = []
    if shown:
        table = markdown_table(shown, ["claim", "verdict", "deciding", "p", "Holm p"], lang)
        lines += [f"## {words['claims']}", "", table, "", words["protocol"], ""]
    if checks:
        table = markdown_table(checks, ["claim", "result", "error (tolerance)"], lang)
        lines += [f"## {words['checks']}", "", table, ""]
    return lines


def _report(ctx, verdict, seconds, command):
    words, lang = WORDS[ctx.lang], ctx.lang
    question = getattr(ctx.module, "QUESTION_ZH", ctx.module.QUESTION) if lang == "zh" else ctx.module.QUESTION
    timing = words["seconds"].format(seconds=seconds, cpu=cpu_name()) + (words["quick"] if ctx.quick else "")
    lines = [f"# {ctx.name}", "", f"**{words['question']}** {question}", "", f"**{words['verdict']}** {verdict}", "",
             f"{words['reproduce']}: `{command}` ({timing})", ""]
    for table in ctx.tables.values():
        lines += [f"## {table['title']}", "", markdown_table(table["rows"], table["columns"], lang), ""]
    if ctx.notes:
        lines += [f"## {words['notes']}", ""] + [f"- {note}" for note in ctx.notes] + [""]
    lines += claims_lines(ctx.claims, lang) + tuning_lines(ctx.output_dir, words["tuning"])
    lines += power_section(ctx.output_dir, words["power"], lang)
    for file, caption in ctx.charts:
        lines += [f"![{caption or file}]({file})", ""]
    return "\n".join(lines)


def _write_runs(ctx, path):
    """Every recorded run as a row of ``path`` (runs.csv's columns), with its seed block's first seed."""
    runs = [dict(run, seed_block=ctx.seed) for run in ctx.runs]  # the block's first seed (seedblocks.py)
    write_csv(path, runs, list(dict.fromkeys(k for r in runs for k in r)))


def write_outputs(ctx, verdict, seconds, command):
    """``results.csv`` (the first table), one CSV per further table, ``runs.csv`` (every run's result),
    ``claims.csv`` and ``report.md``."""
    for index, (name, table) in enumerate(ctx.tables.items()):
        file = "results.csv" if index == 0 else f"{name}.csv"
        fields = list(dict.fromkeys(key for row in table["rows"] for key in row))  # every number, shown or not
        write_csv(os.path.join(ctx.output_dir, file), table["rows"], fields)
    if ctx.runs:
        _write_runs(ctx, os.path.join(ctx.output_dir, "runs.csv"))
    write_csv(os.path.join(ctx.output_dir, "claims.csv"), [dict(c, experiment=ctx.name) for c in ctx.claims],
               CLAIM_COLUMNS)
    with open(os.path.join(ctx.output_dir, "report.md"), "w", encoding="utf-8") as handle:
        handle.write(_report(ctx, verdict, seconds, command))


PARTIAL_RUNS = "runs.partial.csv"


def _keep_finished_runs(ctx, stop):
    """A stop signal mid-experiment: every finished run's row goes to ``runs.partial.csv`` (written whole, a second
    signal waits for it); returns the :class:`~ppnorm.signals.Stopped` to raise, whose note says where they are."""
    from ..signals import Stopped, deferred
    signum = getattr(stop, "signum", signal.SIGINT)
    if not ctx.runs:
        return Stopped(signum, "no run had finished")
    path = os.path.join(ctx.output_dir, PARTIAL_RUNS)
    with deferred():
        _write_runs(ctx, path + ".tmp")
        os.replace(path + ".tmp", path)
    kept_cells = os.path.exists(os.path.join(ctx.output_dir, cell_store.FILE))
    again = "run the same command again: it reuses them" if kept_cells else "run the same command again for them"
    return Stopped(signum, f"the {len(ctx.runs)} run(s) that finished are kept in {path}; tables, claims and report "
                           f"need every run: {again}")


def run_experiment(name, module, settings, params, command="", log=print, purpose="run"):
    """Run one experiment; returns its :class:`Context` (tables, claims, ``verdict``) after writing its outputs and
    recording its seed block (``purpose``) in ``seed_blocks.json``. Seeds of a pilot block are refused unless this
    is the pilot."""
    if purpose != PILOT:
        check_not_pilot(settings["output_dir"], SeedBlock(settings.get("seed", 0), params.get("seeds", 1)))
    ctx = Context(name, module, settings, params, log)
    ctx.seed_everything()
    start = time.perf_counter()
    try:
        verdict = module.run(ctx)
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM, SIGHUP: keep the runs that finished
        raise _keep_finished_runs(ctx, stop) from None
    except Exception:  # refused (e.g. at its data check) before writing anything: no empty folder is left
        ctx.close()
        remove_empty_dirs(ctx.created_dirs)
        raise
    finally:
        ctx.close()
    ctx.finish_claims()
    seconds = time.perf_counter() - start
    ctx.verdict, ctx.seconds = verdict, seconds
    write_outputs(ctx, verdict, seconds, command or f"python tools/experiment.py -c configs/experiments/{name}.yaml")
    record(ctx.output_dir, SeedBlock(ctx.seed, params.get("seeds", 1)), purpose)
    partial = os.path.join(ctx.output_dir, PARTIAL_RUNS)
    if os.path.exists(partial):  # a stopped run's rows, now superseded by runs.csv
        os.remove(partial)
    cell_store.remove(ctx.output_dir)  # the finished cells a stopped framework run kept for its rerun
    log(f"\n[{name}] verdict: {verdict}\n[{name}] {seconds:.1f}s; results.csv, claims.csv, report.md and charts "
        f"in {ctx.output_dir}")
    return ctx


def run_on_block(name, module, settings, params, block, purpose, command="", log=print):
    """Run ``name`` on the seeds of ``block`` into ``<output_dir>/<purpose>_<start>/`` and record the block in the
    output_dir's ``seed_blocks.json`` (a pilot or a replication); returns ``(Context, folder)``."""
    home, folder = settings["output_dir"], f"{purpose}_{block.start}"
    path = os.path.join(home, folder)
    ctx = run_experiment(name, module, dict(settings, seed=block.start, output_dir=path),
                         dict(params, seeds=block.count), command, log, purpose=purpose)
    record(home, block, f"{purpose} in {folder}")
    return ctx, path
