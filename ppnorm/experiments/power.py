"""Seed counts from power: how many seeds a claim needs so that the effect its notes describe is found.

A pilot run (on seeds disjoint from every confirmatory block, see :mod:`.pilot`) measures each claim's seed-to-seed
spread. For a claim with an ``expected`` effect, :func:`seeds_needed` gives the smallest seed count whose test
reaches ``POWER`` (80 %) when the true effect is the expected one:

- a directional claim (``greater`` / ``less``) whose expected value lies beyond its margin: the one-sided t-test,
  power from the noncentral t distribution ("opposite" when the notes expect the other side: sized to refute);
- a ``within`` claim, or a directional claim with a ``sesoi`` whose expected value lies inside ±sesoi (the notes
  expect no effect; this wins over the direction): the equivalence test (TOST), power bounded below by
  ``P(lower) + P(upper) - 1``.

Each test runs at ``ALPHA / k`` for the experiment's ``k`` claims (Holm's first step, so the count holds after
Holm). The spread is the pilot's standard deviation raised to its one-sided 80 % upper confidence bound (a pilot of
a few seeds underestimates spread as often as not). A pilot with zero spread needs the sign test's
``ceil(log2(1 / alpha))`` seeds.
"""
import csv
import math
import os
import re
from dataclasses import dataclass

from scipy import stats as _scipy_stats

from .stats import ALPHA, t_quantile
from .tables import markdown_table

POWER_FILE = "power.csv"  # the pilot's table, in the experiment's output_dir
POWER = 0.8
MAX_SEEDS = 200
SPREAD_CONFIDENCE = 0.8  # the pilot's SD is raised to this one-sided upper confidence bound
NO_EXPECTED, WRONG_SIDE = "no expected effect declared", "expected effect exactly at the margin"
TOO_MANY = f"more than {MAX_SEEDS}"
NOT_MEASURED, NOT_SEEDS = "not measured by the pilot", "decided over {n} draws, not over seeds"
ALL_FAILED = "no pilot run gave a value (all failed or censored)"


def pilot_spread(half_width, n, confidence=0.95):
    """The per-seed standard deviation behind a pilot interval of ``half_width`` over ``n`` seeds, raised to its
    one-sided ``SPREAD_CONFIDENCE`` upper confidence bound (chi-square); nan with fewer than 2 seeds."""
    if n < 2 or not math.isfinite(half_width):
        return math.nan
    sd = half_width / t_quantile(n, confidence) * math.sqrt(n)
    return sd * math.sqrt((n - 1) / _scipy_stats.chi2.ppf(1 - SPREAD_CONFIDENCE, n - 1))


def one_sided_power(effect, sd, n, alpha):
    """Power of the one-sided t-test at level ``alpha`` over ``n`` seeds when the true distance beyond the margin
    is ``effect`` and the per-seed spread ``sd``."""
    dof = n - 1
    critical = _scipy_stats.t.ppf(1 - alpha, dof)
    return float(_scipy_stats.nct.sf(critical, dof, effect * math.sqrt(n) / sd))


def equivalence_power(expected, bound, sd, n, alpha):
    """A lower bound of TOST's power (both one-sided tests against ±``bound`` reject) at true value ``expected``."""
    lower = one_sided_power(expected + bound, sd, n, alpha)
    upper = one_sided_power(bound - expected, sd, n, alpha)
    return max(0.0, lower + upper - 1.0)


@dataclass(frozen=True)
class Target:
    """What a claim is powered for: ``test`` "one-sided" (``effect`` beyond the margin) or "equivalence" (within
    ±``bound`` around 0, true value ``expected``); ``reason`` when it cannot be powered."""

    test: str = None
    effect: float = math.nan
    bound: float = math.nan
    expected: float = math.nan
    reason: str = ""


def target(side, margin, sesoi, expected):
    """The test to power for a claim (see the module docstring)."""
    if expected is None:
        return Target(reason=NO_EXPECTED)
    if side == "within":  # beyond the margin the notes expect "refuted": the one-sided test past the margin
        if abs(expected) > margin:
            return Target("opposite", effect=abs(expected) - margin, expected=expected)
        return Target("equivalence", bound=margin, expected=expected)
    if sesoi and abs(expected) < sesoi:  # an expected effect below the smallest of interest: "no effect" expected
        return Target("equivalence", bound=sesoi, expected=expected)
    beyond = expected - margin if side == "greater" else margin - expected
    if beyond > 0:
        return Target("one-sided", effect=beyond, expected=expected)
    if beyond < 0:  # the notes expect the opposite: sized so that "refuted" would be found
        return Target("opposite", effect=-beyond, expected=expected)
    return Target(reason=WRONG_SIDE)


def power_at(goal, sd, n, alpha):
    """Power of ``goal``'s test over ``n`` seeds with spread ``sd`` (nan when it cannot be computed)."""
    if goal.test is None or n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:  # a constant sample: the sign test, p = 0.5 ** n
        return 1.0 if 0.5 ** n <= alpha else 0.0
    if goal.test in ("one-sided", "opposite"):
        return one_sided_power(goal.effect, sd, n, alpha)
    return equivalence_power(goal.expected, goal.bound, sd, n, alpha)


def seeds_needed(goal, sd, alpha, power=POWER):
    """The smallest seed count (>= 2) whose power reaches ``power``; None when none up to MAX_SEEDS does."""
    if goal.test is None or not math.isfinite(sd):
        return None
    if sd == 0:
        return max(2, math.ceil(math.log2(1 / alpha)))
    for n in range(2, MAX_SEEDS + 1):
        if power_at(goal, sd, n, alpha) >= power:
            return n
    return None


def claim_alpha(claim_count):
    """The per-claim level the seed counts are sized at: Holm's first step over the experiment's claims."""
    return ALPHA / max(1, claim_count)


ZH = {"one-sided": "单侧 t 检验", "opposite": "反方向的单侧 t 检验", "equivalence": "等价性检验（TOST）",
      NO_EXPECTED: "未声明预期效应", WRONG_SIDE: "预期效应正好在界限上", NOT_MEASURED: "pilot 没有测到",
      ALL_FAILED: "pilot 的运行全部失败或未达到（无值）", TOO_MANY: f"超过 {MAX_SEEDS}"}


def _zh(text):
    draws = re.fullmatch(NOT_SEEDS.replace("{n}", r"(\d+)"), text)
    return f"在 {draws.group(1)} 次抽样上判定，不按种子" if draws else ZH.get(text, text)


def power_table(rows, lang="en"):
    """The pilot's power rows as a Markdown table in ``lang``."""
    word = _zh if lang == "zh" else (lambda text: text)
    shown = [{"claim": row[f"claim_{lang}"] or row["claim_en"], "expected": row["expected"], "test": word(row["test"]),
              "spread": row["spread"], "seeds needed": row["seeds_needed"] or word(row["note"]),
              "power at configured seeds": row["power_configured"]} for row in rows]
    return markdown_table(shown, ["claim", "expected", "test", "spread", "seeds needed", "power at configured seeds"],
                          lang)


def power_section(directory, heading, lang="en"):
    """report.md's lines on the seed counts, from the pilot's ``power.csv`` in ``directory`` (none without one)."""
    path = os.path.join(directory, POWER_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [f"## {heading}", "", power_table(list(csv.DictReader(handle)), lang), ""]
