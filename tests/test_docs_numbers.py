"""The measured numbers of the docs: every marked region equals what ``tools/docs_numbers.py`` renders from the
committed results file (a number typed into a region fails), each results file names its command, date and CPU,
and the cheap recipes give the same top-1 again on a fresh run, within the tolerance the docs state."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("docs_numbers", ROOT / "tools" / "docs_numbers.py")
numbers = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(numbers)


def _regions():
    """(doc, region name) of every block and inline region in the docs."""
    found = []
    for path in numbers.DOCS:
        text = path.read_text(encoding="utf-8")
        found += [(path, m.group(2)) for m in numbers.REGION.finditer(text)]
        found += [(path, m.group(2)) for m in numbers.INLINE.finditer(text)]
    return found


def test_every_region_equals_what_its_results_file_renders():
    assert numbers.stale_docs() == []


@pytest.mark.parametrize("path", sorted({path for path, _ in _regions()}), ids=lambda p: p.name)
def test_a_digit_typed_over_in_a_region_is_rendered_back(path):
    text = path.read_text(encoding="utf-8")
    match = re.search(r"<!-- (?:numbers|n):[^>]*-->\n?[^0-9]*?([0-9])", text)
    typed = text[:match.start(1)] + str((int(match.group(1)) + 1) % 10) + text[match.end(1):]
    assert typed != text and numbers.rendered(typed) == text


def test_an_inline_number_typed_over_is_rendered_back():
    text = "<!-- n:mainjob:0:top1 -->0.5<!-- /n --> and <!-- n:mainjob:0:top1% -->1%<!-- /n -->"
    record = numbers.load("mainjob")
    top1 = record["rows"][0]["top1"]
    assert numbers.rendered(text) == (f"<!-- n:mainjob:0:top1 -->{top1:.4f}<!-- /n --> and "
                                      f"<!-- n:mainjob:0:top1% -->{100 * top1:.2f}%<!-- /n -->")


def test_the_docs_use_every_results_file_and_only_recipes_of_the_tool():
    used = {name.split(".")[0] for _, name in _regions()}
    files = {path.stem for path in numbers.RESULTS.glob("*.json")}
    assert used and used <= set(numbers.RECIPES)
    assert used == files, (used, files)


@pytest.mark.parametrize("path", sorted(numbers.RESULTS.glob("*.json")), ids=lambda p: p.stem)
def test_a_results_file_names_its_commands_date_cpu_and_load(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["recipe"] == path.stem
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d UTC", record["date"])
    assert record["cpu"] and record["cores"] >= 1 and record["paddle"]
    assert len(record["load_before"]) == len(record["load_after"]) == 3
    commands = [command for _, command in numbers.RECIPES[path.stem]]
    assert [row["command"] for row in record["rows"]][:1] == commands[:1]
    assert {row["command"] for row in record["rows"]} <= set(commands)


def test_the_source_line_names_the_file_the_cpu_and_the_date():
    record = numbers.load("own_data")
    line = numbers.source_line(record)
    assert "docs/results/own_data.json" in line and record["cpu"] in line and record["date"] in line


@pytest.mark.slow
@pytest.mark.parametrize("name", ["own_data", "mainjob"])
def test_a_fresh_run_gives_the_committed_top1_within_the_stated_tolerance(name, tmp_path):
    """own_data: the commands of the own-data page; mainjob: the README's first training (seed 0, default threads)."""
    committed = [row for row in numbers.load(name)["rows"] if "top1" in row]
    fresh = [row for row in numbers.measure(name, tmp_path) if "top1" in row]
    assert [row["command"] for row in fresh] == [row["command"] for row in committed]
    for old, new in zip(committed, fresh):
        assert abs(new["top1"] - old["top1"]) <= numbers.TOLERANCE[name] + 1e-9, (old, new)
