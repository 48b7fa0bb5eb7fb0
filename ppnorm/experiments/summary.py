"""The verdict table of the notes' claims, built from the ``claims.csv`` files that experiment runs wrote."""
import csv
import os

from .i18n import verdict_word
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
