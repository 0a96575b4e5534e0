"""The HTML report in a real browser (headless Chromium, Debian's package,
installed by `make browser`): every page loads without console errors, every
image and animation decodes, every link between pages resolves; previous and
next lead from section to section, the offline search answers, the Colab link
opens the notebook's path in the repository, and a section fits a phone's
width. Screenshots at desktop and phone widths are saved under build/."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from report_lib.config import REPO_SLUG, build_dir, repo_root, section_notebooks
from report_lib.publish.links import colab_url
from report_lib.publish.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]
DESKTOP, PHONE = (1280, 1600), (390, 1600)
MEASURE = """
function measure(win) {
  const images = Array.from(win.document.images);
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0)).map(i => i.src.slice(0, 80));
  const links = Array.from(win.document.querySelectorAll("a[href]")).map(a => a.getAttribute("href"));
  // Visible images wider than the window (hidden ones, e.g. in a closed menu, have no box).
  const wide = images.filter(i => i.getBoundingClientRect().width > 0 && i.getBoundingClientRect().right > win.innerWidth + 1)
    .map(i => i.src.slice(0, 80));
  return {images: images.length, broken, links, wide, width: win.innerWidth,
          scrollWidth: win.document.documentElement.scrollWidth};
}
function report(result) {
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(result);
  document.body.appendChild(probe);
}
"""
PROBE = f"""<script>{MEASURE}
window.addEventListener("load", () => report(measure(window)));
</script>"""
# Headless Chromium keeps a window at least 500 px wide, so a phone is a 390 px
# frame; reading into it from file:// needs --allow-file-access-from-files.
PHONE_FRAME = """<!DOCTYPE html><html><body><iframe id="phone" src="{page}" width="{width}" height="{height}"></iframe>
<script>{measure}
document.getElementById("phone").addEventListener("load", e => report(measure(e.target.contentWindow)));
</script></body></html>"""

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run `make browser`")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report rendered from the notebooks in the repository (outputs of a full run)."""
    executed = tmp_path_factory.mktemp("executed")
    for notebook in section_notebooks(repo_root() / "notebooks"):
        shutil.copy(notebook, executed)
    out = build_dir() / "browser-test" / "report"
    build_report(executed, out)
    return out


def _chromium(args, tmp_path):
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _load(page: Path, tmp_path: Path, query: str = "") -> tuple[dict, list[str], str]:
    """Load a page (with ``?query``) and return the probe's findings, the console
    messages and the DOM after the page's scripts have run."""
    probed = page.with_name(f".probe-{page.name}")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    url = probed.as_uri() + (f"?{query}" if query else "")
    try:
        result = _chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000",
                            f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--dump-dom", url], tmp_path)
    finally:
        probed.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"{page.name} did not finish loading: {result.stderr[-500:]}"
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    return json.loads(html.unescape(found.group(1))), console, result.stdout


def _anchor(dom: str, **attributes: str) -> tuple[str, str]:
    """The href and text of the one link with these attributes in a dumped DOM."""
    found = []
    for tag, text in re.findall(r"<a (.*?)>(.*?)</a>", dom, re.S):
        attrs = {name: html.unescape(value) for name, value in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        attrs["text"] = " ".join(re.sub("<[^>]+>", " ", html.unescape(text)).split())
        if all(attrs.get(name) == value for name, value in attributes.items()):
            found.append((attrs["href"], attrs["text"]))
    assert len(found) == 1, (attributes, found)
    return found[0]


def test_every_page_loads_with_images_and_working_links(report, tmp_path):
    pages = sorted(report.glob("*.html"))
    assert {"index.html", "search.html", "03_attention.html"} <= {page.name for page in pages}
    total_images = 0
    for page in pages:
        probe, console, _ = _load(page, tmp_path)
        assert console == [], f"{page.name}: console messages {console}"
        assert probe["broken"] == [], f"{page.name}: images that do not decode: {probe['broken']}"
        total_images += probe["images"]
        for link in probe["links"]:
            if link.startswith(("http://", "https://", "#", "mailto:")):
                continue
            assert (page.parent / link.split("#")[0]).exists(), f"{page.name}: broken link {link}"
    assert total_images >= 20  # the sections' figures and animations are there


def test_next_and_previous_lead_between_sections(report, tmp_path):
    _, _, dom = _load(report / "03_attention.html", tmp_path)
    following, title = _anchor(dom, rel="next")
    assert following == "04_animations.html" and title.startswith("Next")
    _, console, dom = _load(report / following, tmp_path)
    assert console == []
    # The sidebar marks the page we arrived at, and "previous" leads back.
    current, _ = _current(dom)
    assert current == "04_animations.html"
    back, _ = _anchor(dom, rel="prev")
    assert back == "03_attention.html"


def _current(dom: str) -> tuple[str, str]:
    sidebar = dom.split('class="book-sidebar"', 1)[1].split("</nav>", 1)[0]
    return _anchor(sidebar, **{"aria-current": "page"})


def test_search_finds_grad_cam_on_several_pages(report, tmp_path):
    _, console, dom = _load(report / "search.html", tmp_path, query="q=Grad-CAM")
    assert console == []
    results = dom.split('id="search-results"', 1)[1].split("</ol>", 1)[0]
    pages = set(re.findall(r'<li data-page="([^"]+)"', results))
    assert {"03_attention.html", "05_occlusion.html", "09_evaluating_explanations.html"} <= pages
    hrefs = re.findall(r'<a href="([^"]+)"', results)
    assert "03_attention.html#Grad-CAM" in hrefs
    for href in hrefs:  # every result leads to a page of the report
        assert (report / href.split("#")[0]).exists(), href
    assert "<mark>Grad-CAM</mark>" in results
    summary = re.search(r'<p id="search-summary">(.*?)</p>', dom).group(1)
    assert re.match(rf"\d+ results on {len(pages)} pages for", html.unescape(summary))


def test_colab_link_opens_the_notebook_in_the_repository(report, tmp_path):
    _, _, dom = _load(report / "03_attention.html", tmp_path)
    href, _ = _anchor(dom, text="Open in Colab")
    assert href == colab_url("03_attention.ipynb")
    assert href.startswith(f"https://colab.research.google.com/github/{REPO_SLUG}/blob/")
    path_in_repo = href.split("/blob/", 1)[1].split("/", 1)[1]
    assert path_in_repo == "notebooks/03_attention.ipynb" and (repo_root() / path_in_repo).exists()
    download, _ = _anchor(dom, text="Download notebook")
    assert (report / download).read_bytes() == (repo_root() / path_in_repo).read_bytes()


def test_section_fits_a_phone(report, tmp_path):
    frame = report / ".phone-frame.html"
    frame.write_text(PHONE_FRAME.format(page="03_attention.html", width=PHONE[0], height=PHONE[1], measure=MEASURE))
    try:
        result = _chromium(["--allow-file-access-from-files", "--virtual-time-budget=15000", "--window-size=1280,1700",
                            "--enable-logging=stderr", "--v=0", "--dump-dom", frame.as_uri()], tmp_path)
    finally:
        frame.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-500:]
    probe = json.loads(html.unescape(found.group(1)))
    assert [line for line in result.stderr.splitlines() if "CONSOLE" in line] == []
    assert probe["width"] == PHONE[0] and probe["images"] >= 4 and probe["broken"] == []
    assert probe["wide"] == [], f"images wider than a phone: {probe['wide']}"
    assert probe["scrollWidth"] <= PHONE[0], "the page scrolls sideways on a phone"


def test_screenshots(report, tmp_path):
    shots = build_dir() / "browser-test"
    for name, size in [("index", DESKTOP), ("03_attention", DESKTOP), ("03_attention-phone", PHONE), ("search", DESKTOP)]:
        target = shots / f"{name}.png"
        page = report / f"{name.split('-')[0]}.html"
        url = page.as_uri() + ("?q=Grad-CAM" if name == "search" else "")
        result = _chromium([f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000", f"--screenshot={target}", url], tmp_path)
        assert target.exists() and target.stat().st_size > 10_000, result.stderr[-500:]
        from PIL import Image

        with Image.open(target) as shot:
            assert shot.size == size
