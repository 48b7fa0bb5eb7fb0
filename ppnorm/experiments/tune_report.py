"""``tune.csv`` (written by ``--tune``, :mod:`.tuning`) and its section of report.md."""
import csv
import os

from .summary import interval_text

TUNE_FILE = "tune.csv"
COLUMNS = ["param", "value", "metric", "where", "mean", "low", "high", "n", "seeds", "chosen"]


def row_interval(row):
    """``mean [low, high]`` of a tune.csv row (read back or just made)."""
    bounds = interval_text(row["low"], row["high"]) if row["low"] not in ("", None) else ""
    return f"{float(row['mean']):.3g} {bounds}".strip()


def tuning_lines(directory, heading):
    """report.md's lines on the tuned values, from ``tune.csv`` in ``directory`` (none without one)."""
    path = os.path.join(directory, TUNE_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    lines = [f"## {heading}", "", "| param | value | metric | mean [95 %] | n | chosen |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['param']} | {row['value']} | {row['metric']} | {row_interval(row)} | {row['n']} | "
                     f"{'✓' if row['chosen'] == 'True' else ''} |")
    return lines + [""]
