"""python tools/upgrade_claims.py DIR [DIR ...]: rewrite every ``<DIR>/<experiment>/claims.csv`` in the current
columns, and the claims sections of the ``report.md`` beside it.

For files written before the verdict protocol: kind (a row without a side is a numerical check: passed / failed),
raw verdict and p from the stored interval (mean, low, high, n: t with n - 1 degrees of freedom; the sign rule for
a constant sample), Holm within the file, and the verdict after Holm. Nothing is re-run; a file already in the
current columns is rewritten unchanged.
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.experiments.runner import CLAIM_COLUMNS, claims_lines, write_csv  # noqa: E402
from ppnorm.experiments.summary import read_claims_file  # noqa: E402

HEADINGS = {"## 说法的判定": "zh", "## Claims": "en", "## 数值核对": "zh", "## Numerical checks": "en"}


def _rewrite_report(path, rows):
    """Replace the claims (and checks) sections of report.md with the ones the runner writes now."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    starts = [i for i, line in enumerate(lines) if any(line.startswith(h) for h in HEADINGS)]
    if not starts:
        return
    lang = next(lang for heading, lang in HEADINGS.items() if lines[starts[0]].startswith(heading))
    end = next((i for i in range(starts[-1] + 1, len(lines)) if lines[i].startswith(("## ", "!["))), len(lines))
    shown = [dict(row, claim=row[f"claim_{lang}"] or row["claim_en"]) for row in rows]
    lines[starts[0]:end] = claims_lines(shown, lang)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def main(folders):
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*", "claims.csv"))):
            rows = read_claims_file(path)
            write_csv(path, rows, CLAIM_COLUMNS)
            report = os.path.join(os.path.dirname(path), "report.md")
            if os.path.isfile(report):
                _rewrite_report(report, rows)
            print(f"{path}: {len(rows)} claims")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError) as error:  # a damaged claims.csv: one line naming the file and what is wrong
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
