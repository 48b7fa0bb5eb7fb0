"""The pilot: an experiment run on seeds no confirmatory run may use, to size each claim's seed count by power.

``tools/experiment.py -c CONFIG --pilot [N]`` runs N seeds (default 5) from ``PILOT_BASE`` on (after every pilot
block already in the ledger) into ``<output_dir>/pilot_<start>/``, records the block in ``seed_blocks.json`` as a
pilot, and writes ``power.csv`` there and in ``<output_dir>``: per claim, its expected effect, the pilot's spread,
the seeds needed for 80 % power (:mod:`.power`) and the power at the configured seed count. A later run whose seeds
overlap a pilot block is refused (:func:`.seedblocks.check_not_pilot`): verdicts come from seeds never used to
design them. The pilot writes a full report too; its verdicts are not evidence (only its spreads are used).
"""
import math
import os

from .power import (ALL_FAILED, NOT_MEASURED, NOT_SEEDS, POWER_FILE, TOO_MANY, Target, claim_alpha, pilot_spread,
                    power_at, power_table, seeds_needed, target)
from .runner import run_on_block, write_csv
from .summary import read_claims_file
from .seedblocks import PILOT, SeedBlock, next_pilot_block, record, seeds_in_runs

COLUMNS = ["claim_id", "claim_en", "claim_zh", "side", "margin", "sesoi", "expected", "test", "pilot_mean", "pilot_n",
           "pilot_failed", "spread", "alpha", "seeds_needed", "seeds_configured", "power_configured", "note"]


def _round(value, digits=4):
    return "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else round(value, digits)


def _pilot_row(cid, claim, params, by_text, ids):
    """The pilot's claims.csv row of claim ``cid``: by id when the run recorded ids (``ids``: English text -> id),
    else by its English text (None when the text needs values only the run knew)."""
    if ids:
        return next((row for text, row in by_text.items() if ids.get(text) == cid), None)
    try:
        return by_text.get(claim.text(claim.en, params))
    except (KeyError, IndexError):
        return None


def power_rows(claims, params, measured, configured, pilot_seeds, ids=None):
    """One row per claim: ``claims`` ``{id: Claim}`` (resolved), ``measured`` the pilot's claims.csv rows over
    ``pilot_seeds`` seeds, ``configured`` the confirmatory seed count. A claim whose n is not the seed count is
    decided over other draws (masks, batches) and is not sized by seeds."""
    by_text = {row["claim_en"]: row for row in measured if row["kind"] == "interval"}
    alpha = claim_alpha(len(by_text))
    rows = []
    for cid, claim in claims.items():
        found = _pilot_row(cid, claim, params, by_text, ids)
        n = int(found["n"] or 0) if found else 0
        spread = pilot_spread((float(found["high"]) - float(found["low"])) / 2, n) if found else math.nan
        over_seeds = found is not None and 0 < n <= pilot_seeds
        goal = target(claim.side, claim.margin, claim.sesoi, claim.expected) if over_seeds else Target()
        needed = seeds_needed(goal, spread, alpha)
        note = (NOT_MEASURED if found is None else ALL_FAILED if n == 0 else NOT_SEEDS.format(n=n)
                if not over_seeds else goal.reason or ("" if needed else TOO_MANY))
        rows.append({"claim_id": cid, "claim_en": found["claim_en"] if found else claim.en,
                     "claim_zh": found["claim_zh"] if found else claim.zh, "side": claim.side,
                     "margin": claim.margin, "sesoi": _round(claim.sesoi), "expected": _round(claim.expected),
                     "test": goal.test or "", "pilot_mean": _round(float(found["mean"])) if found else "",
                     "pilot_n": n, "pilot_failed": (found or {}).get("failed") or 0, "spread": _round(spread),
                     "alpha": _round(alpha, 5), "seeds_needed": needed or "", "seeds_configured": configured,
                     "power_configured": _round(power_at(goal, spread, configured, alpha), 3), "note": note})
    return rows


def _experiment(name, module):
    experiment = getattr(module, "EXPERIMENT", None)
    if experiment is None:
        raise ValueError(f"{name} is not declared on the experiment framework yet: its claims cannot be sized by a "
                         f"pilot (docs/experiment_framework.md)")
    return experiment


def _size(name, experiment, settings, params, measured, seeds, directories, log, ids=None):
    """Write power.csv from the pilot's claim rows ``measured`` into ``directories`` and report; returns the rows."""
    claims = experiment.resolve(params, settings.get("claims"), "config")
    rows = power_rows(claims, params, measured, params.get("seeds", 1), seeds, ids)
    for directory in directories:
        write_csv(os.path.join(directory, POWER_FILE), rows, COLUMNS)
    log("\n" + power_table(rows, settings.get("lang", "en")))
    short = [row for row in rows if row["test"] and (row["seeds_needed"] or math.inf) > params.get("seeds", 1)]
    log(f"\n[{name}] {len(short)} of {len(rows)} claims need more than the configured {params.get('seeds', 1)} "
        f"seeds for 80 % power at the expected effect; power.csv in {directories[-1]}")
    return rows


def run_pilot(name, module, settings, params, count=5, command="", log=print):
    """Run the pilot of ``name`` and write its power table; returns the rows."""
    experiment = _experiment(name, module)
    if count < 2:
        raise ValueError(f"--pilot needs at least 2 seeds to measure a spread, got {count}")
    home = settings["output_dir"]
    block = next_pilot_block(home, count)
    log(f"[{name}] pilot on seeds {block.start}..{block.end - 1}; these seeds size the seed counts and never decide "
        f"a verdict")
    ctx, pilot_dir = run_on_block(name, module, settings, params, block, PILOT, command, log)
    return _size(name, experiment, settings, params, ctx.claims, count, [pilot_dir, home], log, ctx.claim_ids)


def size_from(name, module, settings, params, directory, log=print):
    """Size the seed counts from an earlier run in ``directory`` (its claims.csv and runs.csv), e.g. the runs the
    claims were designed on: their seeds become a pilot block of the output_dir's ledger, so no confirmatory run
    may use them."""
    experiment = _experiment(name, module)
    seeds = sorted(set(seeds_in_runs(directory)))
    if len(seeds) < 2:
        raise ValueError(f"{directory}/runs.csv: sizing needs runs on at least 2 seeds, found {len(seeds)}")
    home = settings["output_dir"]
    record(home, SeedBlock(seeds[0], seeds[-1] + 1 - seeds[0]), f"{PILOT}: earlier runs in {directory}")
    log(f"[{name}] seed counts sized from the runs on seeds {seeds[0]}..{seeds[-1]} in {directory}; these seeds "
        f"never decide a verdict of {home}")
    measured = read_claims_file(os.path.join(directory, "claims.csv"))
    return _size(name, experiment, settings, params, measured, len(seeds), [home], log)
