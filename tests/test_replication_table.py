"""The verdict table reads each experiment's newest replication: a verdict the fresh seeds do not repeat stands as
inconclusive, and the fresh verdict and interval are shown beside it."""
import csv

from ppnorm.experiments.replication import COLUMNS
from ppnorm.experiments.summary import latest_replication, read_claims, verdict_table

from test_experiment_framework import _run_toy


def _replication(directory, start, fresh):
    """A replication.csv for the toy's claims with the given fresh verdicts (by English text)."""
    folder = directory / f"replication_{start}"
    folder.mkdir()
    with open(folder / "replication.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for claim, verdict in fresh.items():
            writer.writerow({"claim_en": claim, "fresh": verdict, "fresh_low": 0.5, "fresh_high": 1.5})


def test_a_verdict_that_does_not_replicate_is_inconclusive_in_the_table(tmp_path):
    _run_toy(tmp_path / "toy")
    plain = {row["claim_en"]: row for row in read_claims(tmp_path, ["toy"])}
    assert plain["a beats b by more than 0"]["verdict"] == "confirmed" and "fresh" not in plain["b beats a"]
    _replication(tmp_path / "toy", 106, {"a beats b by more than 0": "refuted", "b beats a": "confirmed"})
    _replication(tmp_path / "toy", 112, {"a beats b by more than 0": "inconclusive", "b beats a": "refuted"})
    assert latest_replication(tmp_path / "toy")["b beats a"]["fresh"] == "refuted"  # the newest block, not the first
    table = verdict_table(read_claims(tmp_path, ["toy"]))
    lines = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()}
    assert "| fresh | fresh interval |" in table.splitlines()[0]
    assert lines["a beats b by more than 0"].split(" | ")[1] == "inconclusive"  # confirmed, then not repeated
    assert lines["b beats a"].split(" | ")[1] == "refuted" and "| refuted | [0.5, 1.5] |" in lines["b beats a"]


def test_without_a_replication_the_table_has_no_fresh_columns(tmp_path):
    _run_toy(tmp_path / "toy")
    assert "fresh" not in verdict_table(read_claims(tmp_path, ["toy"])).splitlines()[0]
