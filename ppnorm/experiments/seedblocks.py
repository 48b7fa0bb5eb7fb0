"""Seed blocks: the seeds of one run are ``start, start + 1, ..., start + count - 1``, and a block is never reused.

Every run records its block in ``seed_blocks.json`` in its output directory (a list of ``{"start", "count",
"purpose"}``); a replication starts after the last seed of every block recorded there (and of every seed in
``runs.csv``, for runs made before the ledger existed).
"""
import csv
import json
import os
from dataclasses import dataclass

LEDGER = "seed_blocks.json"
PILOT = "pilot"  # the purpose of a pilot block: its seeds size seed counts and never decide a verdict
PILOT_BASE = 100_000  # pilot blocks start here, far from every confirmatory block


@dataclass(frozen=True)
class SeedBlock:
    """``count`` consecutive seeds from ``start``."""

    start: int
    count: int

    @property
    def seeds(self):
        return range(self.start, self.start + self.count)

    @property
    def end(self):
        """The first seed after the block."""
        return self.start + self.count

    def overlaps(self, other):
        return self.start < other.end and other.start < self.end


def read_ledger(directory):
    """The blocks recorded in ``<directory>/seed_blocks.json``: ``[(SeedBlock, purpose)]`` (empty when none)."""
    path = os.path.join(directory, LEDGER)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        entries = json.load(handle)
    try:
        return [(SeedBlock(int(e["start"]), int(e["count"])), str(e["purpose"])) for e in entries]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: not a seed-block ledger (a list of {{start, count, purpose}})") from None


def record(directory, block, purpose):
    """Add ``block`` to the ledger of ``directory`` (an entry equal to one already there is not repeated)."""
    entries = [{"start": b.start, "count": b.count, "purpose": p} for b, p in read_ledger(directory)]
    entry = {"start": block.start, "count": block.count, "purpose": purpose}
    if entry not in entries:
        entries.append(entry)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, LEDGER), "w", encoding="utf-8") as handle:
        json.dump(entries, handle, indent=1)


def seeds_in_runs(directory):
    path = os.path.join(directory, "runs.csv")
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [int(float(row["seed"])) for row in csv.DictReader(handle) if row.get("seed") not in (None, "")]


def next_start(directory, at_least=0, pilots=False):
    """The first seed after every block of the ledger and every seed of ``runs.csv`` in ``directory``; pilot blocks
    (which live from PILOT_BASE on) count only for the next pilot (``pilots=True``), and only they do."""
    ledger = [block for block, why in read_ledger(directory) if why.startswith(PILOT) == pilots]
    seeds = [] if pilots else seeds_in_runs(directory)
    return max([block.end for block in ledger] + [seed + 1 for seed in seeds] + [at_least])


def next_pilot_block(directory, count, use="pilot"):
    """The next pilot-kind block of ``count`` seeds in ``directory`` (from PILOT_BASE, after every pilot block); a
    ValueError when the directory's runs already reach those seeds. ``use`` names the block in the message."""
    block = SeedBlock(next_start(directory, PILOT_BASE, pilots=True), count)
    if block.start < next_start(directory):
        raise ValueError(f"{directory} has runs on seeds from {PILOT_BASE} on: {use} seeds must be disjoint from "
                         f"them; give the {use} its own output_dir")
    return block


def check_not_pilot(directory, block):
    """Refuse a run whose seeds overlap a pilot block of ``directory``'s ledger (ValueError, one line)."""
    for used, purpose in read_ledger(directory):
        if purpose.startswith(PILOT) and used.overlaps(block):
            raise ValueError(f"seeds {block.start}..{block.end - 1} overlap the pilot's seeds {used.start}.."
                             f"{used.end - 1} ({os.path.join(directory, LEDGER)}): a verdict is decided on seeds never "
                             f"used to design it; set the config's seed to a block outside every pilot's")
