"""The :class:`Context` an experiment's ``run(ctx)`` works with: seeds, progress, tables, claims, charts, VisualDL."""
import math
import os
import random
import re
import time
import warnings

import numpy as np
import paddle

from ..engine.logger import format_eta
from ..engine.run_lock import missing_dirs
from .i18n import unit_word, use_chinese_font, verdict_word
from .stats import ALPHA, SIDES, Estimate, adjusted_verdict, decision, holm
from .tables import markdown_table


def _tag(text):
    """A VisualDL tag: no '%' (VisualDL refuses it), no spaces or table bars."""
    return re.sub(r"[^0-9A-Za-z_/.\-^*()=+]+", "_", text.replace("%", "pct")).strip("_")


def holm_over(claims):
    """``[(row, Holm p)]`` for the statistical claims (``kind`` "interval") among ``claims``: the adjustment that
    :meth:`Context.finish_claims` records and a framework summary reads ahead of it."""
    stats = [c for c in claims if c["kind"] == "interval"]
    return [(c, float(p)) for c, p in zip(stats, holm([c["p"] for c in stats]))]


class Context:
    """What ``run(ctx)`` works with: ``params``, ``seed``, ``quick``, ``lang``, ``output_dir`` and the recorders below."""

    def __init__(self, name, module, settings, params, log=print):
        self.name, self.module = name, module
        self.params, self.seed, self.quick = params, settings["seed"], settings["quick"]
        self.lang = settings.get("lang", "en")
        self.claim_ids = {}  # English text of a framework claim -> its id (filled as the framework decides)
        self.claim_overrides = settings.get("claims") or {}  # the config's claims section (framework experiments)
        self.output_dir = settings["output_dir"]
        self.use_visualdl = settings["use_visualdl"]
        self.data_spec = settings.get("data")  # None: digits
        self.log = log
        self.tables, self.charts, self.claims, self.notes, self.runs = {}, [], [], [], []
        self.chinese_charts = self.lang == "zh" and use_chinese_font()
        self._writer, self._runs, self._finished, self._start = None, 0, 0, time.perf_counter()
        self.created_dirs = missing_dirs(self.output_dir)  # removed again if they stay empty (a refused run)
        os.makedirs(self.output_dir, exist_ok=True)

    def tr(self, en, zh):
        """``zh`` for a Chinese report (``lang: zh``), else ``en``."""
        return zh if self.lang == "zh" else en

    def chart_text(self, en, zh):
        """Chart titles and labels: Chinese only when a CJK font was found (else boxes would be drawn)."""
        return zh if self.chinese_charts else en

    def data(self, split, normalize=True):
        """``(images [N, C, H, W], labels [N])`` tensors of the config's data set (default digits), normalized; see
        :mod:`.data`. Loaded once per process: index them, never modify them."""
        from .data import load
        return load(self.data_spec, split, normalize)

    @property
    def data_info(self):
        """Channels, image size, classes and sizes of the data set (:class:`.data.DataInfo`)."""
        from .data import info
        return info(self.data_spec)

    def seed_everything(self, seed=None):
        """Seed Paddle, numpy and random with exactly ``seed`` (one of :meth:`seeds`; default: the config's ``seed``).

        Call it before building each model and record the same ``seed`` in :meth:`run_done`: ``runs.csv`` then
        names the seed the run actually used. Returns the seed."""
        seed = self.seed if seed is None else int(seed)
        paddle.seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        return seed

    def seeds(self, count):
        """The ``count`` seeds ``seed, seed + 1, ...`` of a repeated measurement (absolute: pass them as they are
        to :meth:`seed_everything`)."""
        return range(self.seed, self.seed + count)

    def plan(self, runs):
        """Announce how many trained runs follow, so :meth:`run_done` can print an eta."""
        self._runs, self._finished, self._start = runs, 0, time.perf_counter()

    def run_done(self, label, result, **values):
        """One progress line per finished run: which setting and seed, its result, elapsed time and eta.
        ``values`` (e.g. ``norm="bn", seed=3, error=1.2``) become a row of ``runs.csv``, the raw data."""
        if values:
            self.runs.append(values)
        self._finished += 1
        elapsed = time.perf_counter() - self._start
        total = max(self._runs, self._finished)
        eta = elapsed / self._finished * (total - self._finished)
        self.log(f"[{self.name}] run {self._finished}/{total} {label}: {result} | "
                 f"elapsed {format_eta(elapsed)}, eta {format_eta(eta)}")

    def run_values(self, key, **match):
        """``key`` of every run recorded by :meth:`run_done` whose fields equal ``match``, in the order they ran."""
        return [run[key] for run in self.runs if all(run.get(k) == v for k, v in match.items())]

    def curve(self, tag, steps, values):
        """One VisualDL scalar ``tag`` per ``(step, value)`` pair: curves only, never table columns."""
        for step, value in zip(steps, values):
            self.scalar(tag, value, step)

    def table(self, name, rows, columns=None, title=None):
        """Record (and print) a result table; the first one recorded is ``results.csv``."""
        columns = list(columns or rows[0].keys())
        self.tables[name] = {"rows": rows, "columns": columns, "title": title or name}
        self.log(f"\n[{self.name}] {title or name}\n" + markdown_table(rows, columns, self.lang))
        return rows

    def note(self, text):
        """A sentence for the report (an observation that is not a table)."""
        self.notes.append(text)
        self.log(f"[{self.name}] {text}")

    def _record(self, claim, kind, verdict, deciding, evidence, estimate=None, **fields):
        en, zh = (claim, claim) if isinstance(claim, str) else claim
        est = estimate or Estimate(float("nan"), float("nan"), 0)
        row = {"claim": self.tr(en, zh), "claim_en": en, "claim_zh": zh, "kind": kind, "verdict": verdict,
               "raw_verdict": verdict, "deciding": deciding, "mean": est.mean, "low": est.low, "high": est.high,
               "n": est.n, "failed": "", "side": "", "margin": "", "sesoi": "", "p": "", "p_holm": "",
               "evidence": evidence}
        row.update(fields)
        self.claims.append(row)
        p = f", p={row['p']:.2g}" if kind == "interval" and math.isfinite(row["p"]) else ""
        self.log(f"[{self.name}] {verdict_word(verdict, self.lang)}{p}: {self.tr(en, zh)} ({deciding})")
        return verdict

    def check(self, claim, error, tolerance, evidence=""):
        """A numerical identity (no seed noise, not a statistical claim): ``passed`` when ``error <= tolerance``,
        else ``failed``; listed apart from the verdicts. ``claim`` is a sentence or an ``(english, chinese)`` pair."""
        result = "passed" if error <= tolerance else "failed"
        return self._record(claim, "check", result, self.tr(f"{error:.2g} (tolerance {tolerance:.1g})",
                                                            f"{error:.2g}（容差 {tolerance:.1g}）"), evidence)

    def compare(self, claim, estimate, side, margin=0.0, unit="", digits=2, evidence="", *, sesoi=None, failed=0):
        """A statistical claim about ``estimate`` (see :func:`stats.decision`); returns its verdict before the
        multiplicity adjustment that :meth:`finish_claims` applies.

        ``sesoi``: the smallest effect of interest of a directional claim, declared before the runs; only a claim
        with one can be "no effect". ``failed``: runs that diverged or failed and are not in ``estimate`` (they
        are outcomes: counted in claims.csv and shown next to n, never dropped silently)."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        verdict, p = decision(estimate, side, margin, sesoi)
        unit = unit_word(unit, self.lang)
        bound = {"greater": f"> {margin:g}{unit}", "less": f"< {margin:g}{unit}",
                 "within": self.tr(f"within ±{margin:g}{unit}", f"在 ±{margin:g}{unit} 之内")}[side]
        runs = f"n={estimate.n}" + (self.tr(f", {failed} failed", f"，另有 {failed} 次失败") if failed else "")
        value = estimate.format(digits, unit) if estimate.n else self.tr("no value", "无有效值")
        deciding = self.tr(f"{value} (claim: {bound}, {runs})", f"{value}（说法：{bound}，{runs}）")
        return self._record(claim, "interval", verdict, deciding, evidence, estimate, failed=int(failed), side=side,
                            margin=margin, sesoi="" if sesoi is None else sesoi, p=p)

    def finish_claims(self):
        """Holm over this experiment's statistical claims: each gets ``p_holm``, and a decisive verdict whose
        ``p_holm`` exceeds ALPHA becomes inconclusive. The runner calls it after ``run(ctx)``."""
        adjusted = holm_over(self.claims)
        for claim, p_holm in adjusted:
            claim["p_holm"] = p_holm
            claim["verdict"] = verdict = adjusted_verdict(claim["raw_verdict"], p_holm, ALPHA)
            if verdict != claim["raw_verdict"]:
                self.log(f"[{self.name}] Holm over {len(adjusted)} claims: {claim['raw_verdict']} -> {verdict} "
                         f"(p={claim['p']:.2g}, adjusted {p_holm:.2g}): {claim['claim']}")
        return self.claims

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
            from ..engine.logger import log_writer_class
            self._writer = log_writer_class()(logdir=os.path.join(self.output_dir, "vdl"))
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
