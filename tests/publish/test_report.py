import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from report_lib.config import repo_root, section_notebooks
from report_lib.publish.links import colab_url
from report_lib.publish.report import build_report, page_outline


def _executed_notebook(path, title):
    hidden = new_code_cell("secret_setup = 1", metadata={"tags": ["hide-input"]})
    shown = new_code_cell("print('visible')")
    shown.outputs = [
        new_output("stream", name="stdout", text="visible output\n"),
        new_output("stream", name="stderr", text="I0000 oneDNN chatter\n"),
    ]
    collapsed = new_code_cell("long_plotting_glue = 2", metadata={"tags": ["collapse-input"]})
    method = new_markdown_cell(f"## Grad-CAM\n\nGrad-CAM in {title} weighs the channels.\n\n### A detail\n\nSmall print.")
    notebook = new_notebook(cells=[new_markdown_cell(f"# {title}\n\nWhat this section shows."), hidden, shown, collapsed, method])
    nbformat.write(notebook, path)


@pytest.fixture
def build(tmp_path):
    executed, figures = tmp_path / "executed", tmp_path / "figures"
    executed.mkdir()
    for stem, title in [("01_first", "First section"), ("03_attention", "Attention maps"), ("04_last", "Last section")]:
        _executed_notebook(executed / f"{stem}.ipynb", title)
        (figures / stem).mkdir(parents=True)
        (figures / stem / "run.json").write_text(
            json.dumps({"model": "efficientnet_lite0", "model_choice": "auto fell back", "profile": {"name": "quick"},
                        "seed": 0, "seconds": 1.5, "packages": {"keras": "3"}, "figures": ["first.png", "key.png"]})
        )
        from PIL import Image

        for name in ("first.png", "key.png"):
            Image.new("RGB", (600, 400), (200, 30, 30)).save(figures / stem / name)
    return executed, figures, tmp_path / "report"


def test_contents_page_links_every_section(build):
    executed, figures, out = build
    index = build_report(executed, out, figures).read_text()
    assert "href='01_first.html'" in index and "href='03_attention.html'" in index
    assert "First section" in index and "What this section shows." in index
    assert "efficientnet_lite0" in index and "auto fell back" in index
    # A thumbnail of each section's key figure (its last one).
    assert "src='thumbs/03_attention.png'" in index
    from PIL import Image

    assert max(Image.open(out / "thumbs" / "03_attention.png").size) <= 220


def test_section_pages_hide_tagged_input_and_stderr(build):
    executed, figures, out = build
    build_report(executed, out, figures)
    page = (out / "03_attention.html").read_text()
    assert "visible output" in page
    assert "secret_setup" not in page
    assert "oneDNN chatter" not in page
    assert 'href="index.html"' in page
    # collapse-input: the code is on the page, inside a closed <details>; other code is not.
    details = page.split('<details class="collapsed-code">')
    assert len(details) == 2 and "long_plotting_glue" in details[1].split("</details>")[0]
    assert "long_plotting_glue" not in details[0] and "print" in details[0]


def test_failed_build_keeps_the_previous_report(build):
    executed, figures, out = build
    build_report(executed, out, figures)
    (executed / "02_broken.ipynb").write_text("{not json")
    with pytest.raises(Exception):
        build_report(executed, out, figures)
    assert (out / "index.html").exists() and (out / "01_first.html").exists()


def test_no_notebooks_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no executed notebooks"):
        build_report(tmp_path, tmp_path / "report")


class _Links(HTMLParser):
    """Every link of a page: its attributes, its text, and the classes of the
    elements around it (nbconvert rewrites quoting and attribute order, so
    the tests parse rather than match strings)."""

    _VOID = {"img", "br", "meta", "link", "input", "hr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict] = []
        self._stack: list[tuple[str, str]] = []
        self._link: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._link = {**dict(attrs), "text": "", "within": " ".join(c for _, c in self._stack if c)}
        elif tag not in self._VOID:
            self._stack.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self._link["text"] = " ".join(self._link["text"].split())
            self.links.append(self._link)
            self._link = None
        elif any(open_tag == tag for open_tag, _ in self._stack):
            while self._stack.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"] += data


def _links(path, within: str = "") -> list[dict]:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return [link for link in parser.links if not within or within in link["within"].split()]


def _one(links: list[dict], **attributes) -> dict:
    found = [link for link in links if all(link.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, (attributes, found)
    return found[0]


def test_section_page_has_book_navigation(build):
    executed, figures, out = build
    build_report(executed, out, figures)
    page = out / "03_attention.html"
    # The sidebar lists every section, the current one marked.
    sidebar = _links(page, "book-sidebar")
    assert [link["href"] for link in sidebar] == ["index.html", "01_first.html", "03_attention.html", "04_last.html"]
    assert [link["href"] for link in sidebar if link.get("aria-current") == "page"] == ["03_attention.html"]
    # Previous and next, ending at the contents page and at the last section.
    assert _one(_links(page), rel="prev")["href"] == "01_first.html"
    assert _one(_links(page), rel="next")["href"] == "04_last.html"
    assert _one(_links(out / "01_first.html"), rel="prev")["href"] == "index.html"
    assert _one(_links(out / "04_last.html"), rel="prev")["href"] == "03_attention.html"
    assert not [link for link in _links(out / "04_last.html") if link.get("rel") == "next"]
    # Colab opens the notebook's path in the repository; the download is the executed notebook.
    colab = _one(_links(page), text="Open in Colab")["href"]
    assert colab == colab_url("03_attention.ipynb") and colab.endswith("/notebooks/03_attention.ipynb")
    assert _one(_links(page), text="Download notebook")["href"] == "notebooks/03_attention.ipynb"
    downloaded = nbformat.read(out / "notebooks" / "03_attention.ipynb", as_version=4)
    assert downloaded.cells[2].outputs[0].text == "visible output\n"
    # The run's banner: model and profile.
    text = re.sub(r"<[^>]+>", "", page.read_text())
    assert "This run: model efficientnet_lite0 (auto fell back), profile quick, seed 0, ran in 1.5 s." in text


def test_page_contents_lists_its_headings(build):
    executed, figures, out = build
    build_report(executed, out, figures)
    page = out / "03_attention.html"
    expected = [("#Grad-CAM", "Grad-CAM"), ("#A-detail", "A detail")]
    assert [(link["href"], link["text"]) for link in _links(page, "book-toc")] == expected
    # The folded copy for narrow screens lists the same.
    assert [(link["href"], link["text"]) for link in _links(page, "book-toc-inline")] == expected
    # Every listed anchor is a heading id on the page.
    assert 'id="Grad-CAM"' in page.read_text() and 'id="A-detail"' in page.read_text()


def test_page_outline_groups_text_under_headings():
    body = ('<h1 id="T">Title<a class="anchor-link" href="#T">\u00b6</a></h1><p>Intro.</p><style>p {}</style>'
            '<h2 id="A">Part A<a class="anchor-link" href="#A">\u00b6</a></h2><p>One</p><ul><li>two</li></ul><pre>code</pre>')
    assert page_outline(body) == [
        {"level": 1, "anchor": "T", "heading": "Title", "text": "Intro."},
        {"level": 2, "anchor": "A", "heading": "Part A", "text": "One two"},
    ]


def test_search_index_covers_every_page(build):
    executed, figures, out = build
    build_report(executed, out, figures)
    script = (out / "search-index.js").read_text()
    assert script.startswith("window.SEARCH_INDEX = ")
    entries = json.loads(script[len("window.SEARCH_INDEX = "):].rstrip().rstrip(";"))
    grad_cam = [e for e in entries if e["heading"] == "Grad-CAM"]
    assert [e["page"] for e in grad_cam] == ["01_first.html#Grad-CAM", "03_attention.html#Grad-CAM", "04_last.html#Grad-CAM"]
    assert grad_cam[1] == {"page": "03_attention.html#Grad-CAM", "section": "Attention maps", "heading": "Grad-CAM",
                           "text": "Grad-CAM in Attention maps weighs the channels."}
    assert {"page": "03_attention.html", "section": "Attention maps", "heading": "", "text": "What this section shows."} in entries
    search = (out / "search.html").read_text()
    assert "<script src='search-index.js'></script><script src='search.js'></script>" in search
    assert (out / "search.js").exists() and (out / "book.css").exists()
    # Every page has the search box, which sends its query to the search page.
    for name in ("index.html", "01_first.html", "search.html"):
        assert re.search(r"<form [^>]*action=.search\.html", (out / name).read_text()), name


def test_report_needs_no_network(build):
    executed, figures, out = build
    build_report(executed, out, figures)
    pages = list(out.glob("*.html"))
    assert {"index.html", "search.html", "03_attention.html"} <= {page.name for page in pages}
    for page in [*pages, out / "book.css"]:
        text = page.read_text()
        # Nothing loaded from elsewhere: scripts, stylesheets, images, fonts are all in the folder.
        assert not re.search(r"<(script|img|iframe)[^>]+src=[\"']?(https?:)?//", text), page.name
        assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", text), page.name
        assert all(url.startswith(("data:", "'data:", '"data:')) for url in re.findall(r"url\(([^)]*)\)", text)), page.name


def test_failed_sections_are_marked_on_every_page(build):
    executed, figures, out = build
    status = {"03_attention": {"ok": False, "error": "ValueError: bad image"}, "02_gone": {"ok": False, "error": "kernel died"}}
    build_report(executed, out, figures, status=status)
    page = (out / "03_attention.html").read_text()
    assert "This section failed in the last build: ValueError: bad image. This page shows its last successful run." in page
    first = (out / "01_first.html").read_text()
    sidebar = first.split('<nav aria-label="Sections" class="book-sidebar">', 1)[1].split("</nav>", 1)[0]
    assert re.search(r'<li class="failed"><a href="03_attention.html">.*?</a> <span class="flag">failed</span></li>', sidebar)
    # A failed section without a page is listed, flagged, not linked, and skipped by previous/next.
    assert '<li class="failed"><span class="num">02</span> 02_gone <span class="flag">failed</span></li>' in sidebar
    assert _one(_links(out / "01_first.html"), rel="next")["href"] == "03_attention.html"
    index = (out / "index.html").read_text()
    assert "02_gone" in index and "kernel died" in index


def test_publishing_imports_no_tensorflow(build):
    executed, figures, out = build
    # Rendering itself, not only importing, never reaches for TensorFlow or Keras.
    code = f"""
import sys
from pathlib import Path
from report_lib.publish.report import build_report
build_report(Path({str(executed)!r}), Path({str(out)!r}), Path({str(figures)!r}))
heavy = sorted(name for name in ("tensorflow", "keras", "tf_keras_vis") if name in sys.modules)
print("heavy:", heavy)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "heavy: []" in result.stdout
    assert (out / "03_attention.html").exists()


def test_no_notebook_writes_tex_math():
    # MathJax comes from a CDN, so the template drops it. Should a notebook start
    # writing $...$ math, the report needs an offline renderer first.
    pattern = re.compile(r"(?<![\\$])\$[^$\s][^$\n]*\$|\$\$|\\\(|\\\[|\\begin\{")
    for path in section_notebooks(repo_root() / "notebooks"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                prose = re.sub(r"```.*?```|`[^`]*`", "", cell.source, flags=re.S)  # code is never math
                assert not pattern.search(prose), f"{path.name}: TeX math in {cell.source[:80]!r}"
