"""The chart kinds an experiment declares: mean curves with 95 % seed bands, a sweep with intervals, a heat map.

A :class:`Chart` names its kind, the metric(s) it shows and the setting keys on its axes; :func:`draw` makes it
from the runs (one dict per setting and seed) and saves it through the context.
"""
from dataclasses import dataclass, field

import numpy as np

from .bands import plot_band
from .claims import matches
from .stats import mean_interval

KINDS = ("curves", "sweep", "heatmap")


@dataclass(frozen=True)
class Chart:
    """``kind``: curves (list metrics, one line per ``by`` value and metric), sweep (a scalar metric against
    setting ``x``) or heatmap (a scalar metric over settings ``x`` by ``y``, one panel per ``by`` value).
    ``where`` (a claim-style selector) keeps only the runs it matches, e.g. one part of a grid; ``panel`` (curves,
    sweep): one panel per value of that setting key. Texts are ``(english, chinese)``; ``labels`` maps a metric to its
    legend text; ``bounds`` cut the bands and bars where the metric cannot go (e.g. 0 and 100 for an error rate)."""

    kind: str
    name: str
    metrics: tuple
    caption: tuple
    ylabel: tuple = ("", "")
    xlabel: tuple = ("", "")
    x: str = None
    y: str = None
    by: str = None
    labels: dict = field(default_factory=dict)
    bounds: tuple = None
    log2: bool = False
    where: dict = None
    panel: str = None


def ink_for(rgba):
    """Text colour readable on a cell of colour ``rgba``: black on light cells, white on dark ones (luma > 0.5)."""
    red, green, blue = rgba[:3]
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _values(runs, selector, metric):
    return np.array([run[metric] for run in runs if matches(run, selector)], dtype="float64")


def _groups(runs, key):
    """The values of setting ``key`` in the order they ran (``[None]`` without a key)."""
    return list(dict.fromkeys(run[key] for run in runs)) if key else [None]


def _label(ctx, chart, metric, key, value):
    text = ctx.chart_text(*chart.labels.get(metric, (metric, metric)))
    return text if key is None else f"{key} {value:g}, {text}" if isinstance(value, float) else f"{key} {value}, {text}"


def _curves(ctx, chart, runs, fig, ax):
    from matplotlib.ticker import MaxNLocator
    styles = ["o-", "s--", "^:", "d-."]  # one per metric; one colour per ``by`` value (or per metric without one)
    for i, value in enumerate(_groups(runs, chart.by)):
        selector = {chart.by: value} if chart.by else {}
        for j, metric in enumerate(chart.metrics):
            curves = _values(runs, selector, metric)
            curves = curves[np.isfinite(curves).all(axis=1)]  # a diverged run is left out, as in the table
            if not len(curves):
                continue
            label = _label(ctx, chart, metric, chart.by, value)
            plot_band(ax, np.arange(1, curves.shape[1] + 1), curves, f"C{i if chart.by else j}", label, None,
                      marker=styles[j % 4])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)


def _tick(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _interval(values):
    return mean_interval(values).half_width if len(values) > 1 else 0.0


def _sweep(ctx, chart, runs, fig, ax):
    """One line per metric (and per ``by`` value: one colour each), its interval bars cut at ``bounds``."""
    ticks, low, high = _groups(runs, chart.x), *(chart.bounds or (-np.inf, np.inf))
    for i, value in enumerate(_groups(runs, chart.by)):
        mine = [run for run in runs if run[chart.by] == value] if chart.by else runs
        xs = _groups(mine, chart.x)
        for j, metric in enumerate(chart.metrics):
            means = np.array([_values(mine, {chart.x: x}, metric).mean() for x in xs])
            half = np.nan_to_num([_interval(_values(mine, {chart.x: x}, metric)) for x in xs])
            bars = [np.clip(np.minimum(half, means - low), 0, None), np.clip(np.minimum(half, high - means), 0, None)]
            ax.errorbar(xs, means, yerr=bars, fmt=["o-", "s:", "^--", "d-."][j % 4] if chart.by else "o-", capsize=3,
                        color=f"C{i if chart.by else j}", label=_label(ctx, chart, metric, chart.by, value))
    if chart.log2:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(x) for x in ticks])
        ax.minorticks_off()
    ax.legend(fontsize=7)


def _heatmap(ctx, chart, runs, fig, ax_first):
    import matplotlib
    cmap, (metric,) = matplotlib.colormaps["viridis"], chart.metrics
    xs, ys, panels = _groups(runs, chart.x), _groups(runs, chart.y), _groups(runs, chart.by)
    cells = {p: [[_values(runs, {chart.x: x, chart.y: y, **({chart.by: p} if chart.by else {})}, metric)
                  for x in xs] for y in ys] for p in panels}
    cells = {p: [[v[np.isfinite(v)] for v in row] for row in grid] for p, grid in cells.items()}  # diverged: left out
    means = {p: np.array([[v.mean() if len(v) else np.nan for v in row] for row in grid]) for p, grid in cells.items()}
    low, high = min(np.nanmin(m) for m in means.values()), max(np.nanmax(m) for m in means.values())
    panel_axes = list(fig.axes)
    for ax, panel in zip(panel_axes, panels):
        image = ax.imshow(means[panel], cmap=cmap, vmin=low, vmax=high)
        for (i, j), value in np.ndenumerate(means[panel]):
            if np.isfinite(value):  # a cell of the grid that was not run stays blank
                ink = ink_for(cmap((value - low) / max(high - low, 1e-9)))
                ax.text(j, i, f"{value:.2f}\n± {np.nan_to_num(_interval(cells[panel][i][j])):.2f}", ha="center",
                        va="center", color=ink, fontsize=8)
        ax.set_xticks(range(len(xs)), [_tick(x) for x in xs]), ax.set_yticks(range(len(ys)), [_tick(y) for y in ys])
        ax.set_ylabel(chart.y)
        if chart.by:
            ax.set_title(f"{chart.by} = {panel}", fontsize=9)
    from mpl_toolkits.axes_grid1 import make_axes_locatable
    bar = make_axes_locatable(panel_axes[len(panels) - 1]).append_axes("right", size="6%", pad=0.1)
    fig.colorbar(image, cax=bar).set_label(ctx.chart_text(*chart.ylabel))  # beside the cells, over none of them


def draw(ctx, chart, runs):
    """Draw ``chart`` from ``runs`` and save it as ``<name>.png``; returns the path."""
    if chart.kind not in KINDS:
        raise ValueError(f"chart kind must be one of {KINDS}, got {chart.kind!r}")
    runs = [run for run in runs if matches(run, chart.where)] if chart.where else runs
    heatmap = chart.kind == "heatmap"
    panels = [None] if heatmap else _groups(runs, chart.panel)
    count = len(_groups(runs, chart.by)) if heatmap else len(panels)
    fig, axes = ctx.figure(count, width=5.0 if count == 1 else 4.0, height=3.8)
    for ax, panel in zip(axes[0], panels):
        mine = [run for run in runs if run[chart.panel] == panel] if chart.panel else runs
        {"curves": _curves, "sweep": _sweep, "heatmap": _heatmap}[chart.kind](ctx, chart, mine, fig, ax)
        if chart.panel:
            ax.set_title(f"{chart.panel} = {_tick(panel)}", fontsize=9)
    for ax in axes[0]:
        ax.set_xlabel(ctx.chart_text(*chart.xlabel) or (chart.x or ""))
        if not heatmap:
            ax.set_ylabel(ctx.chart_text(*chart.ylabel))
        if chart.bounds and not heatmap:
            bottom, top = ax.get_ylim()
            ax.set_ylim(max(bottom, chart.bounds[0]), min(top, chart.bounds[1]))
    return ctx.save_figure(fig, chart.name, ctx.tr(*chart.caption))
