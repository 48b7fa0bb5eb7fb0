"""Replication: an experiment re-run on a seed block disjoint from every earlier one, its verdicts against the
committed ones. A verdict stands only when both runs give it; otherwise it is inconclusive, shown with both intervals.
"""
import os

from .i18n import verdict_word
from .runner import run_on_block, write_csv
from .seedblocks import SeedBlock, next_start
from .summary import interval_text, read_claims_file
from .tables import markdown_table

COLUMNS = ["claim_en", "committed", "fresh", "replicated", "committed_low", "committed_high", "fresh_low",
           "fresh_high", "committed_n", "fresh_n"]


def replicated(committed, fresh):
    """The verdict after a replication: the one both runs gave, else inconclusive."""
    return committed if committed == fresh else "inconclusive"


def compare(committed_rows, fresh_rows):
    """One row per statistical claim in both (matched by its English text): both verdicts (after Holm within the
    experiment), the replicated verdict, both intervals and run counts."""
    fresh = {row["claim_en"]: row for row in fresh_rows if row["kind"] == "interval"}
    rows = []
    for mine in (row for row in committed_rows if row["kind"] == "interval" and row["claim_en"] in fresh):
        theirs = fresh[mine["claim_en"]]
        rows.append({"claim_en": mine["claim_en"], "claim_zh": mine["claim_zh"], "committed": mine["verdict"],
                     "fresh": theirs["verdict"], "replicated": replicated(mine["verdict"], theirs["verdict"]),
                     "committed_low": mine["low"], "committed_high": mine["high"], "fresh_low": theirs["low"],
                     "fresh_high": theirs["high"], "committed_n": mine["n"], "fresh_n": theirs["n"],
                     "committed interval": interval_text(mine["low"], mine["high"]),
                     "fresh interval": interval_text(theirs["low"], theirs["high"])})
    return rows


def comparison_table(rows, lang="en"):
    shown = [{"claim": row[f"claim_{lang}"] or row["claim_en"],
              **{key: verdict_word(row[key], lang) for key in ("committed", "fresh", "replicated")},
              "committed interval": row["committed interval"], "fresh interval": row["fresh interval"]} for row in rows]
    columns = ["claim", "committed", "fresh", "replicated", "committed interval", "fresh interval"]
    return markdown_table(shown, columns, lang)


def replicate(name, module, settings, params, command="", log=print):
    """Run ``name`` again on the next unused seed block into ``<output_dir>/replication_<start>``, record the block
    in ``<output_dir>/seed_blocks.json`` and print committed vs fresh verdicts; returns the comparison rows."""
    committed = settings["output_dir"]
    claims = os.path.join(committed, "claims.csv")
    if not os.path.isfile(claims):
        raise ValueError(f"{claims} does not exist: run the experiment first (the committed run), then --replicate")
    block = SeedBlock(next_start(committed, settings["seed"] + params.get("seeds", 1)), params.get("seeds", 1))
    log(f"[{name}] replication on seeds {block.start}..{block.end - 1} (disjoint from every block used in {committed})")
    _, fresh_dir = run_on_block(name, module, settings, params, block, "replication", command, log)
    rows = compare(read_claims_file(claims), read_claims_file(os.path.join(fresh_dir, "claims.csv")))
    write_csv(os.path.join(fresh_dir, "replication.csv"), rows, COLUMNS)
    same = sum(row["committed"] == row["fresh"] for row in rows)
    log("\n" + comparison_table(rows, settings.get("lang", "en")))
    log(f"\n[{name}] {same} of {len(rows)} verdicts are the same on seeds {block.start}..{block.end - 1}; "
        f"{len(rows) - same} changed and stand as inconclusive (replication.csv in {fresh_dir})")
    return rows
