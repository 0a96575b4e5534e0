"""The HTML report in a real browser (headless Chromium, Debian's package,
installed by `make browser`): every page loads without console errors, every
image and animation decodes, every link between pages resolves. Screenshots
of the contents page and one section are saved under build/."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from report_lib.config import build_dir, repo_root, section_notebooks
from report_lib.publish.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0)).map(i => i.src.slice(0, 80));
  const links = Array.from(document.querySelectorAll("a[href]")).map(a => a.getAttribute("href"));
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images: images.length, broken, links});
  document.body.appendChild(probe);
});
</script>"""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run `make browser`")


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


def _probe(page: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    probed = page.with_name(f".probe-{page.name}")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        result = _chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom", probed.as_uri()], tmp_path)
    finally:
        probed.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"{page.name} did not finish loading: {result.stderr[-500:]}"
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")), console


def test_every_page_loads_with_images_and_working_links(report, tmp_path):
    pages = sorted(report.glob("*.html"))
    assert (report / "index.html") in pages and len(pages) >= 2
    total_images = 0
    for page in pages:
        probe, console = _probe(page, tmp_path)
        assert console == [], f"{page.name}: console messages {console}"
        assert probe["broken"] == [], f"{page.name}: images that do not decode: {probe['broken']}"
        total_images += probe["images"]
        for link in probe["links"]:
            if link.startswith(("http://", "https://", "#", "mailto:")):
                continue
            assert (page.parent / link.split("#")[0]).exists(), f"{page.name}: broken link {link}"
    assert total_images >= 20  # the sections' figures and animations are there


def test_screenshots(report, tmp_path):
    shots = build_dir() / "browser-test"
    for name in ("index", "03_attention"):
        target = shots / f"{name}.png"
        result = _chromium(["--window-size=1200,1600", f"--screenshot={target}", (report / f"{name}.html").as_uri()], tmp_path)
        assert target.exists() and target.stat().st_size > 10_000, result.stderr[-500:]
