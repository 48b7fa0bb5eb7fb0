"""The built site in a real headless browser (Debian's chromium, with a Chinese font): a few pages render their Chinese
headings and the material theme's navigation and search, and their screenshots are pages, not blank images."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
# Without the background-networking flags chromium keeps trying to reach Google's hosts on a closed network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
# page (relative to the site) -> text its rendered DOM must hold
PAGES = {"index.html": "ppnorm", "zh_CN/quickstart/index.html": "快速开始",
         "zh_CN/experiments/index.html": "判定总表", "zh_CN/faq/index.html": "常见问题"}
WIDTH, HEIGHT = 1280, 900


def _browser(tmp_path, *arguments):
    command = [BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if BROWSER is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium); .ci/run installs it")
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True) if shutil.which("fc-list") else None
    if fonts is None or not fonts.stdout.strip():  # without one every Chinese character is drawn as an empty box
        pytest.skip("no Chinese font for chromium (Debian: apt-get install fonts-wqy-microhei); .ci/run installs it")
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip('mkdocs-material is not installed: pip install -e ".[docs]" (the docs extra) builds the site')
    site = tmp_path_factory.mktemp("browser") / "site"
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "--site-dir", str(site)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    return site


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_built_page_renders_its_heading_and_navigation_and_is_not_blank(site, page, tmp_path):
    url = (site / page).as_uri()
    dom = _browser(tmp_path, "--virtual-time-budget=4000", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert PAGES[page] in dom.stdout and "md-nav" in dom.stdout and "md-search" in dom.stdout
    shot = tmp_path / "page.png"
    taken = _browser(tmp_path, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", url)
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    import matplotlib.image
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert pixels.std() > 0.05 and (pixels.min(axis=2) < 0.3).mean() > 0.005  # contrast, and some dark text
