"""Result tables as Markdown (numbers formatted for reading, headers in the report's language)."""
import math

from .i18n import header


def _format(value):
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def format_p(p):
    """A p-value for reading: two significant digits; blank when there is none (nan or empty)."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(p) else f"{p:.2g}"


def markdown_table(rows, columns, lang="en"):
    def cell(text):
        return str(text).replace("|", "\\|")  # a bar inside a cell would split it

    lines = ["| " + " | ".join(cell(header(c, lang)) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(_format(row.get(c, ""))) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
