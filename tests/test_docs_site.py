"""The documentation: README_cn.md is a landing page one link away from the five things a new user looks for, its
headline verdicts are rows of the generated verdict table, and the mkdocs site builds strictly (a broken link, a
missing anchor or a page outside the nav fails the build) with every page and chart in it."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# The five things, each one link from README_cn.md, with what makes the page that thing.
FIVE = {
    "docs/zh_CN/quickstart.md": 'pip install -e ".[cpu]"',  # the quick start's set-up command
    "docs/zh_CN/models.md": "| resnet18_vd / 34_vd / 50_vd / 101_vd / 152_vd |",  # the model list
    "docs/zh_CN/own_data.md": "python -m ppnorm.data.example_images data/my_images",  # training on own data
    "docs/zh_CN/finetune.md": "pretrained_skip: [fc]",  # fine-tuning
    "docs/zh_CN/experiments/index.md": "| 说法 | 判定 | 决定性的数字（95% 区间） |",  # the verdict table
}
VERDICT_PAGE = ROOT / "docs" / "zh_CN" / "experiments" / "index.md"


def _relative_links(path):
    """The repository-relative targets of the Markdown links in ``path`` (anchors dropped, web links skipped)."""
    links = {m.group(1) for m in LINK.finditer(path.read_text(encoding="utf-8"))}
    return {os.path.normpath(path.parent.relative_to(ROOT) / link.split("#")[0])
            for link in links if not re.match(r"[a-z]+://", link) and not link.startswith("#")}


def _table_rows(text, header):
    """The rows (lists of cells) of the Markdown table whose header line starts with ``header``."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_readme_cn_is_a_landing_page_one_link_from_the_five_things():
    readme = ROOT / "README_cn.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 300
    links = _relative_links(readme)
    for page, mark in FIVE.items():
        assert page in links, page
        assert mark in (ROOT / page).read_text(encoding="utf-8"), page
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_experiments_page_opens_with_the_verdict_table():
    text = VERDICT_PAGE.read_text(encoding="utf-8")
    first_table = next(i for i, line in enumerate(text.split("\n")) if line.startswith("|"))
    assert text.split("\n")[first_table].startswith(FIVE["docs/zh_CN/experiments/index.md"])
    assert text.index("## 判定总表") < text.index("## 各实验") < text.index("## 判定规则")


def test_readme_md_is_short_links_the_docs_and_keeps_the_test_command_second():
    """.ci/run runs the second line of README.md that starts with ``pip install`` as the test command."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert re.findall(r"^pip install[^`\n]*", text, re.M)[1] == 'pip install -e ".[cpu,test]" && python -m pytest -q'
    links = _relative_links(readme)
    assert {"README_cn.md", "docs/zh_CN/experiments/index.md", "docs/zh_CN/quickstart.md"} <= links
    assert all((ROOT / link).exists() for link in links), links


def test_readme_cn_headline_verdicts_are_rows_of_the_generated_table():
    """The few verdicts README_cn shows are copied cell for cell from the table the tool writes (which
    tests/test_experiments.py checks against ``--verdicts``), so a rerun cannot leave the headline stale."""
    table = {row[0]: row for row in _table_rows(VERDICT_PAGE.read_text(encoding="utf-8"), "| 说法 | 判定 |")}
    headline = _table_rows((ROOT / "README_cn.md").read_text(encoding="utf-8"), "| 说法 | 判定 |")
    assert len(headline) >= 3
    for claim, verdict, number, experiment in headline:
        row = table[claim]
        assert (row[1], row[2], row[-1]) == (verdict, number, experiment), claim


def _nav_pages():
    """The .md files mkdocs.yml's nav names (read as text: the file holds a !!python/name tag)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+- (?:[^\n]*: )?(\S+\.md)$", nav, re.M)


def _built(site, page):
    """Where mkdocs (directory URLs) writes the page ``page`` (relative to docs/)."""
    stem = page[:-3]
    return site / (stem + ".html" if stem == "index" or stem.endswith("/index") else stem + "/index.html")


def _split(separator, text):
    return [token for token in re.split(separator, text) if token]


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page_chart_and_a_search_index_that_splits_chinese(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip('mkdocs-material is not installed: pip install -e ".[docs]" (the docs extra) builds the site')
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    pages = _nav_pages()
    assert {page[len("docs/"):] for page in FIVE} <= set(pages)
    assert set(pages) >= {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs" / "zh_CN").rglob("*.md")}
    for page in pages:
        assert _built(site, page).is_file(), page
    experiments = (ROOT / "docs" / "zh_CN" / "experiments").glob("*.md")
    charts = [img for path in experiments for img in re.findall(r'<img [^>]*src="([^"]+\.png)"',
                                                                 _built(site, f"zh_CN/experiments/{path.name}").read_text())]
    assert len(charts) >= 22
    for src in charts:  # src is relative to the page's directory
        assert (site / "zh_CN" / "experiments" / "x" / src).resolve().is_file(), src
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert _split(index["config"]["separator"], "归一化层（BN）") == ["归", "一", "化", "层", "BN"]
    assert any("判定总表" in doc["title"] for doc in index["docs"])
