"""The verdict table of the notes' claims, built from the ``claims.csv`` files that experiment runs wrote, and
the same claims compared between two sets of runs (e.g. the same experiments on two CPUs).

The table adjusts once more: Benjamini-Hochberg over every statistical claim it lists (``BH p``). A verdict in
the table stands only if both its Holm p (within its experiment, from claims.csv) and its BH p are <= ALPHA.
A ``claims.csv`` written before the protocol (no ``p`` column) is read by computing its p-values from the
stored interval (mean, low, high, n: every such claim was a t-interval with n - 1 degrees of freedom).
"""
import csv
import math
import os

from .i18n import WORDS, header, verdict_word
from .stats import ALPHA, CHECK_RESULTS, SIDES, VERDICTS, Estimate, adjusted_verdict, benjamini_hochberg, decision, holm
from .tables import format_p, markdown_table

REQUIRED = ("experiment", "claim_en", "claim_zh", "verdict", "deciding")
INTERVAL = ("mean", "low", "high", "n", "side", "margin")  # what an old claims.csv needs for its p-values
OLD_CHECK = {"confirmed": "passed", "refuted": "failed"}


def _number(path, line, row, column, kind=float):
    try:
        return kind(row[column])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: line {line}: column '{column}' must be a number, got {row[column]!r}") from None


def _estimate(path, line, row):
    n = _number(path, line, row, "n", int)
    mean, low, high = (_number(path, line, row, c) for c in ("mean", "low", "high"))
    if n < 2 or not math.isfinite(high - low):
        return Estimate(mean, float("nan"), n)
    half = (high - low) / 2
    return Estimate(mean, 0.0 if half <= 1e-12 * max(1.0, abs(mean)) else half, n)  # a constant sample, as stored


def _upgrade(path, rows):
    """Rows of a claims.csv written before the protocol: kind, raw verdict, p and Holm p from the stored intervals."""
    for line, row in rows:
        row.update(raw_verdict="", failed="", sesoi="", p="", p_holm="")
        if row["side"] not in SIDES:
            row["kind"] = "check"
            row["verdict"] = row["raw_verdict"] = OLD_CHECK.get(row["verdict"], row["verdict"])
            continue
        row["kind"] = "interval"
        margin = _number(path, line, row, "margin")
        row["raw_verdict"], row["p"] = decision(_estimate(path, line, row), row["side"], margin)
    stats = [row for _, row in rows if row["kind"] == "interval"]
    for row, adjusted in zip(stats, holm([row["p"] for row in stats])):
        row["p_holm"] = float(adjusted)
        row["verdict"] = adjusted_verdict(row["raw_verdict"], adjusted)


def _check(path, rows):
    for line, row in rows:
        words = CHECK_RESULTS if row["kind"] == "check" else VERDICTS
        if row["kind"] not in ("check", "interval") or row["verdict"] not in words:
            raise ValueError(f"{path}: line {line}: kind {row['kind']!r} with verdict {row['verdict']!r} "
                             f"(verdicts: {', '.join(VERDICTS)}; checks: {', '.join(CHECK_RESULTS)})")
        if row["kind"] == "interval":
            for column in ("p", "p_holm"):
                row[column] = float("nan") if row[column] in ("", "nan") else _number(path, line, row, column)


def read_claims_file(path):
    """The claim rows of one claims.csv; a file that is not one (a missing column, a broken row) is a one-line
    ValueError naming the file and what is wrong."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        old = "p" not in fields
        for column in REQUIRED + (INTERVAL if old else ("kind", "raw_verdict", "p", "p_holm")):
            if column not in fields:
                raise ValueError(f"{path}: not a claims.csv of ppnorm: missing column '{column}'")
        rows = []
        for row in reader:
            extra = row.pop(None, [])  # fields beyond the header's; a short row has None values
            count = sum(value is not None for value in row.values()) + len(extra)
            if count != len(fields):
                raise ValueError(f"{path}: line {reader.line_num}: {count} fields where the header has {len(fields)}")
            rows.append((reader.line_num, row))
    if old:
        _upgrade(path, rows)
    _check(path, rows)
    return [row for _, row in rows]


def latest_replication(directory):
    """``{claim_en: row}`` of the newest ``replication_<start>/replication.csv`` in ``directory`` (empty if none)."""
    starts = [int(entry.split("_", 1)[1]) for entry in os.listdir(directory)
              if entry.startswith("replication_") and entry.split("_", 1)[1].isdigit()
              and os.path.isfile(os.path.join(directory, entry, "replication.csv"))]
    if not starts:
        return {}
    with open(os.path.join(directory, f"replication_{max(starts)}", "replication.csv"), newline="",
              encoding="utf-8") as handle:
        return {row["claim_en"]: row for row in csv.DictReader(handle)}


def claims_files(root, names):
    """``(paths, missing)``: the ``claims.csv`` files of ``root`` and the experiments of ``names`` without one.
    ``root`` is a folder of experiment folders (``<root>/<name>/claims.csv``), one experiment's folder (holding
    ``claims.csv`` itself) or a ``claims.csv`` file."""
    if os.path.isfile(root):
        return [root], []
    if os.path.isfile(os.path.join(root, "claims.csv")):
        return [os.path.join(root, "claims.csv")], []
    paths = {name: os.path.join(root, name, "claims.csv") for name in names}
    return [p for p in paths.values() if os.path.isfile(p)], [n for n, p in paths.items() if not os.path.isfile(p)]


def read_claims(root, names):
    """Every claim row of the ``claims.csv`` files :func:`claims_files` finds under ``root``; a claim that was
    replicated carries its fresh verdict (``fresh``) and interval (``fresh_low``, ``fresh_high``)."""
    rows = []
    for path in claims_files(root, names)[0]:
        fresh = latest_replication(os.path.dirname(os.path.abspath(path)))
        for row in read_claims_file(path):
            again = fresh.get(row["claim_en"]) if row["kind"] == "interval" else None
            rows.append(dict(row, **({"fresh": again["fresh"], "fresh_low": again["fresh_low"],
                                       "fresh_high": again["fresh_high"]} if again else {})))
    return rows


def adjust_table(rows):
    """BH over the table's statistical claims: each gets ``p_bh`` and its table verdict ``final`` (decisive only
    while both Holm p and BH p are <= ALPHA); a check's ``final`` is its result."""
    stats = [row for row in rows if row["kind"] == "interval"]
    for row, adjusted in zip(stats, benjamini_hochberg([row["p"] for row in stats])):
        row["p_bh"] = float(adjusted)
        both = float("nan") if math.isnan(row["p_holm"]) or math.isnan(adjusted) else max(row["p_holm"], adjusted)
        row["final"] = adjusted_verdict(row["raw_verdict"], both, ALPHA)
        if row.get("fresh") and row["fresh"] != row["final"]:  # a verdict that does not replicate
            row["final"] = "inconclusive"
    for row in rows:
        row.setdefault("final", row["verdict"])
    return rows


def interval_text(low, high):
    """``"[low, high]"`` of a stored interval (3 significant digits); blank when it has no finite ends."""
    low, high = float(low), float(high)
    return f"[{low:.3g}, {high:.3g}]" if math.isfinite(high - low) else ""


def _runs(row, lang):
    failed = int(row["failed"]) if row.get("failed") not in (None, "") else 0
    if not failed:
        return row["n"]
    return f"{row['n']}（另有 {failed} 次失败）" if lang == "zh" else f"{row['n']} (+{failed} failed)"


def _fresh(row, lang):
    if not row.get("fresh"):
        return {}
    return {"fresh": verdict_word(row["fresh"], lang),
            "fresh interval": interval_text(row["fresh_low"], row["fresh_high"])}


def verdict_table(rows, lang="en"):
    """Markdown: the statistical claims (verdict after Holm, BH and replication, deciding number, n, 95 % interval,
    raw / Holm / BH p, the replication's verdict and interval when there is one, experiment), then the numerical
    checks (result, error against tolerance, experiment). A verdict the replication does not repeat is inconclusive."""
    rows = adjust_table(rows)
    claim = [row for row in rows if row["kind"] == "interval"]
    shown = [{"claim": row[f"claim_{lang}"] or row["claim_en"], "verdict": verdict_word(row["final"], lang),
              "deciding": row["deciding"], "n": _runs(row, lang), "interval": interval_text(row["low"], row["high"]),
              "p": format_p(row["p"]),
              "Holm p": format_p(row["p_holm"]), "BH p": format_p(row["p_bh"]),
              **({"fresh": "", "fresh interval": ""} if any(r.get("fresh") for r in claim) else {}),
              **_fresh(row, lang), "experiment": f"`{row['experiment']}`"} for row in claim]
    parts = [markdown_table(shown, list(shown[0]), lang)] if shown else []
    checks = [{"claim": row[f"claim_{lang}"] or row["claim_en"], "result": verdict_word(row["final"], lang),
               "error (tolerance)": row["deciding"], "experiment": f"`{row['experiment']}`"}
              for row in rows if row["kind"] == "check"]
    if checks:
        parts.append(WORDS[lang]["checks"] + ("：" if lang == "zh" else ":") + "\n\n"
                     + markdown_table(checks, list(checks[0]), lang))
    return "\n\n".join(parts)


def print_verdicts(root, names, lang="en"):
    rows = read_claims(root, names)
    if not rows:
        raise ValueError(f"no claims.csv under {root}/<experiment>/ (nor in {root} itself): run the experiments first "
                         f"(python tools/experiment.py -c configs/experiments/<name>.yaml)")
    missing = claims_files(root, names)[1]
    print(verdict_table(rows, lang))
    if missing:
        print(f"\n(not run yet: {', '.join(missing)})")


def compare_verdicts(root, other, names, lang="en"):
    """``(table, same, total)``: every claim run under both ``root`` and ``other``, matched by experiment and
    claim, with both verdicts (after Holm within the experiment: a table's BH would depend on which other experiments
    each side holds) and deciding numbers; the table lists the claims whose verdicts differ first."""
    theirs = {(row["experiment"], row["claim_en"]): row for row in read_claims(other, names)}
    pairs = [(row, theirs[(row["experiment"], row["claim_en"])]) for row in read_claims(root, names)
             if (row["experiment"], row["claim_en"]) in theirs]
    if not pairs:
        raise ValueError(f"no claim was run under both {root} and {other} (claims.csv files of the same experiments)")
    pairs.sort(key=lambda pair: pair[0]["verdict"] == pair[1]["verdict"])  # stable: differing verdicts first
    a, b = os.path.basename(os.path.normpath(root)), os.path.basename(os.path.normpath(other))
    verdict, deciding = (f"{header(column, lang)} ({{}})" for column in ("verdict", "deciding"))
    shown = [{"claim": mine[f"claim_{lang}"] or mine["claim_en"], verdict.format(a): verdict_word(mine["verdict"], lang),
              verdict.format(b): verdict_word(their["verdict"], lang), deciding.format(a): mine["deciding"],
              deciding.format(b): their["deciding"], "experiment": f"`{mine['experiment']}`"} for mine, their in pairs]
    same = sum(mine["verdict"] == their["verdict"] for mine, their in pairs)
    return markdown_table(shown, list(shown[0]), lang), same, len(pairs)


def print_comparison(root, other, names, lang="en"):
    table, same, total = compare_verdicts(root, other, names, lang)
    print(table)
    print(f"\n{same} of {total} claims have the same verdict in {root} and {other}; {total - same} differ (listed first)")
