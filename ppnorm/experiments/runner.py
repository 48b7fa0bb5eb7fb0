"""The shared runner: output dir, seeds, tables, charts, VisualDL, report. Experiment modules hold only science.

An experiment module defines ``QUESTION`` (one sentence), ``DEFAULTS`` (its settings), ``QUICK``
(overrides for the tests) and ``run(ctx)``, which computes, calls ``ctx.table`` / ``ctx.figure`` /
``ctx.claim``, and returns the verdict in one sentence.
"""
import csv
import os
import random
import re
import time
import warnings

import numpy as np
import paddle


def _format(value):
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _tag(text):
    """A VisualDL tag: no '%' (VisualDL refuses it), no spaces or table bars."""
    return re.sub(r"[^0-9A-Za-z_/.\-^*()=+]+", "_", text.replace("%", "pct")).strip("_")


def markdown_table(rows, columns):
    def cell(text):
        return str(text).replace("|", "\\|")  # a bar inside a cell would split it

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(_format(row.get(c, ""))) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


class Context:
    """What ``run(ctx)`` works with: ``params``, ``seed``, ``quick``, ``output_dir`` and the recorders below."""

    def __init__(self, name, module, settings, params, log=print):
        self.name, self.module = name, module
        self.params, self.seed, self.quick = params, settings["seed"], settings["quick"]
        self.output_dir = settings["output_dir"]
        self.use_visualdl = settings["use_visualdl"]
        self.log = log
        self.tables, self.charts, self.claims, self.notes = {}, [], [], []
        self._writer = None
        os.makedirs(self.output_dir, exist_ok=True)

    def seed_everything(self, offset=0):
        """Seed Paddle, numpy and random with ``seed + offset`` (call before building each model)."""
        seed = self.seed + offset
        paddle.seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        return seed

    def seeds(self, count):
        """The ``count`` seeds ``seed, seed + 1, ...`` of a repeated measurement."""
        return range(self.seed, self.seed + count)

    def curve(self, tag, steps, values):
        """One VisualDL scalar ``tag`` per ``(step, value)`` pair."""
        for step, value in zip(steps, values):
            self.scalar(tag, value, step)

    def table(self, name, rows, columns=None, title=None):
        """Record (and print) a result table; the first one recorded is ``results.csv``."""
        columns = list(columns or rows[0].keys())
        self.tables[name] = {"rows": rows, "columns": columns, "title": title or name}
        for step, row in enumerate(rows):  # every number of every table is also a VisualDL scalar
            for column in columns:
                value = row.get(column)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                    self.scalar(f"{name}/{column}", value, step)
        self.log(f"\n[{self.name}] {title or name}\n" + markdown_table(rows, columns))
        return rows

    def note(self, text):
        """A sentence for the report (an observation that is not a table)."""
        self.notes.append(text)
        self.log(f"[{self.name}] {text}")

    def claim(self, claim, verdict, evidence):
        """A claim of the notes with ``verdict`` confirmed / refuted / depends and the number that decides it."""
        if verdict not in ("confirmed", "refuted", "depends"):
            raise ValueError(f"verdict must be confirmed, refuted or depends, got {verdict!r}")
        self.claims.append({"claim": claim, "verdict": verdict, "evidence": evidence})

    def figure(self, ncols=1, nrows=1, width=5.0, height=3.6, projection=None):
        """A matplotlib figure (Agg backend) and its axes grid; pass the figure to :meth:`save_figure`."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                                 subplot_kw={"projection": projection} if projection else None)
        return fig, axes

    def save_figure(self, fig, name, caption=""):
        import matplotlib.pyplot as plt
        path = os.path.join(self.output_dir, f"{name}.png")
        with warnings.catch_warnings():  # figures with a colorbar are not tight_layout-compatible; still fine
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        self.charts.append((f"{name}.png", caption))
        return path

    @property
    def writer(self):
        """A VisualDL ``LogWriter`` under ``<output_dir>/vdl`` (None when use_visualdl is false)."""
        if self._writer is None and self.use_visualdl:
            from visualdl import LogWriter
            self._writer = LogWriter(logdir=os.path.join(self.output_dir, "vdl"))
        return self._writer

    def scalar(self, tag, value, step):
        if self.writer is not None:
            self.writer.add_scalar(_tag(tag), float(value), int(step))

    def histogram(self, tag, values, step, buckets=30):
        if self.writer is not None:
            self.writer.add_histogram(_tag(tag), np.asarray(values, dtype="float32").ravel(), int(step),
                                      buckets=buckets)

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_outputs(ctx, verdict, seconds, command):
    """``results.csv`` (the first table), one CSV per further table, and ``report.md``."""
    names = list(ctx.tables)
    for index, name in enumerate(names):
        table = ctx.tables[name]
        file = "results.csv" if index == 0 else f"{name}.csv"
        with open(os.path.join(ctx.output_dir, file), "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=table["columns"], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(table["rows"])
    lines = [f"# {ctx.name}", "", f"**Question.** {ctx.module.QUESTION}", "", f"**Verdict.** {verdict}", "",
             f"Reproduce: `{command}` ({seconds:.1f} s on this machine{', quick setting' if ctx.quick else ''}).", ""]
    for name in names:
        table = ctx.tables[name]
        lines += [f"## {table['title']}", "", markdown_table(table["rows"], table["columns"]), ""]
    if ctx.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in ctx.notes] + [""]
    if ctx.claims:
        lines += ["## Claims", "", markdown_table(ctx.claims, ["claim", "verdict", "evidence"]), ""]
    for file, caption in ctx.charts:
        lines += [f"![{caption or file}]({file})", ""]
    with open(os.path.join(ctx.output_dir, "report.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def run_experiment(name, module, settings, params, command="", log=print):
    """Run one experiment; returns its :class:`Context` (tables, claims, ``verdict``) after writing its outputs."""
    ctx = Context(name, module, settings, params, log)
    ctx.seed_everything()
    start = time.perf_counter()
    try:
        verdict = module.run(ctx)
    finally:
        ctx.close()
    seconds = time.perf_counter() - start
    ctx.verdict, ctx.seconds = verdict, seconds
    write_outputs(ctx, verdict, seconds, command or f"python tools/experiment.py -c configs/experiments/{name}.yaml")
    log(f"\n[{name}] verdict: {verdict}\n[{name}] {seconds:.1f}s; results.csv, report.md and charts in {ctx.output_dir}")
    return ctx
