"""The verdict table of the notes' claims, built from the ``claims.csv`` files that experiment runs wrote, and
the same claims compared between two sets of runs (e.g. the same experiments on two CPUs)."""
import csv
import os

from .i18n import header, verdict_word
from .tables import markdown_table


def read_claims(root, names):
    """Every claim row of ``<root>/<name>/claims.csv`` for the experiments ``names`` that have been run."""
    rows = []
    for name in names:
        path = os.path.join(root, name, "claims.csv")
        if os.path.isfile(path):
            with open(path, newline="", encoding="utf-8") as handle:
                rows += list(csv.DictReader(handle))
    return rows


def verdict_table(rows, lang="en"):
    """A Markdown table: claim, computed verdict, the deciding number with its interval, experiment."""
    shown = [{"claim": row[f"claim_{lang}"] or row["claim_en"], "verdict": verdict_word(row["verdict"], lang),
              "deciding": row["deciding"], "experiment": f"`{row['experiment']}`"} for row in rows]
    return markdown_table(shown, ["claim", "verdict", "deciding", "experiment"], lang)


def print_verdicts(root, names, lang="en"):
    rows = read_claims(root, names)
    if not rows:
        raise ValueError(f"no claims.csv under {root}/<experiment>/: run the experiments first "
                         f"(python tools/experiment.py -c configs/experiments/<name>.yaml)")
    missing = [n for n in names if not os.path.isfile(os.path.join(root, n, "claims.csv"))]
    print(verdict_table(rows, lang))
    if missing:
        print(f"\n(not run yet: {', '.join(missing)})")


def compare_verdicts(root, other, names, lang="en"):
    """``(table, same, total)``: every claim run under both ``root`` and ``other``, matched by experiment and
    claim, with both verdicts and deciding numbers; the table lists the claims whose verdicts differ first."""
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
