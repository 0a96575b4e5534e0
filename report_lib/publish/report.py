"""Render executed notebooks into the HTML report, read like a course book: a
contents page with a run header, one page per section with a sidebar of all
sections, previous/next links, the page's own contents, "Open in Colab" and
"Download notebook" links, and an offline search page.

Everything the pages need ships in the report folder (one stylesheet, one
script, the search index as a script): no CDN, no network, and opening the
files from disk (``file://``) works, which is why the index is a script and
not a JSON file that would need ``fetch``.

Usage: ``python -m report_lib.publish.report --executed build/executed --out build/report``
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor
from traitlets.config import Config

from report_lib.config import RUN_FILE, build_dir, section_notebooks
from report_lib.publish.links import colab_url, notebook_title_and_summary

#: Cell tags the report honours (set in the notebooks, never by hand edits).
HIDE_INPUT_TAG = "hide-input"
REMOVE_CELL_TAG = "remove-cell"

COURSE_TITLE = "Visualising Deep Convolutional Neural Networks"
TEMPLATES = Path(__file__).parent / "templates"
#: Files copied from the template folder into every report.
STATIC_FILES = ("book.css", "search.js")
SEARCH_PAGE = "search.html"
SEARCH_INDEX = "search-index.js"
#: Folder of the report that holds the executed notebooks for download.
DOWNLOADS = "notebooks"
#: Where the page's own contents list goes (beside the text on wide screens,
#: folded above it on narrow ones); filled in after nbconvert has given the
#: headings their ids.
TOC_MARKER = "<!--book:toc-->"
TOC_INLINE_MARKER = "<!--book:toc-inline-->"


@dataclass
class SectionPage:
    """One section of the report (rendered, or failed without a page)."""

    stem: str
    title: str
    summary: str
    page: str
    run: dict
    failure: str = ""
    thumbnail: str = ""
    #: Search entries of the page: one per heading, with the text under it.
    search: list[dict] = field(default_factory=list)


class StripStderr(Preprocessor):
    """Drop stderr streams (TensorFlow's start-up log, progress bars) from
    outputs: readers of the report and of the committed notebooks need
    neither, and both vary from run to run."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
        return cell, resources


def _exporter() -> HTMLExporter:
    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {REMOVE_CELL_TAG}
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=config, template_name="report", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    exporter.register_preprocessor(StripStderr(), enabled=True)
    return exporter


class _PageText(HTMLParser):
    """Headings (with the ids nbconvert gave them) and the paragraph text of a
    rendered page, grouped by heading: the in-page contents and the search
    index both come from here."""

    # Table cells are left out: in outputs they are numbers, noise in a snippet.
    _BLOCKS = {"p", "li", "blockquote"}
    _HEADINGS = {"h1", "h2", "h3"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[dict] = [{"level": 1, "anchor": "", "heading": "", "text": []}]
        self._capture: str | None = None  # "heading" or "text" while inside one
        self._buffer: list[str] = []
        self._skip = 0  # depth inside <script>, <style> or a heading's "¶" link

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("script", "style") or (tag == "a" and "anchor-link" in (attributes.get("class") or "")):
            self._skip += 1
        elif tag in self._HEADINGS and attributes.get("id"):
            self._flush()
            self.sections.append({"level": int(tag[1]), "anchor": attributes["id"], "heading": "", "text": []})
            self._capture = "heading"
        elif tag in self._BLOCKS and self._capture is None:
            self._capture = "text"

    def handle_endtag(self, tag: str) -> None:
        if self._skip and tag in ("script", "style", "a"):
            self._skip -= 1
        elif self._capture == "heading" and tag in self._HEADINGS:
            self.sections[-1]["heading"] = " ".join("".join(self._buffer).split())
            self._buffer, self._capture = [], None
        elif self._capture == "text" and tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._capture and not self._skip:
            self._buffer.append(data)

    def _flush(self) -> None:
        if self._capture == "text":
            text = " ".join("".join(self._buffer).split())
            if text:
                self.sections[-1]["text"].append(text)
        self._buffer, self._capture = [], None


def page_outline(body: str) -> list[dict]:
    """The headings of a rendered page and the paragraph text under each.

    Args:
        body: HTML of a section page.

    Returns:
        One dict per heading (the first for the text before any heading):
        ``level``, ``anchor`` (the heading's id), ``heading`` and ``text``.
    """
    parser = _PageText()
    parser.feed(body)
    parser.close()
    parser._flush()
    return [{**s, "text": " ".join(s["text"])} for s in parser.sections if s["heading"] or s["text"]]


def _page_toc(outline: list[dict]) -> str:
    """The page's own contents: its ``##`` and ``###`` headings."""
    items = [
        f"<li class='toc-h{s['level']}'><a href='#{html.escape(s['anchor'])}'>{html.escape(s['heading'])}</a></li>"
        for s in outline if s["level"] > 1 and s["anchor"]
    ]
    if not items:
        return ""
    return f"<p class='toc-title'>On this page</p><ul>{''.join(items)}</ul>"


def _search_entries(section: SectionPage, outline: list[dict]) -> list[dict]:
    entries = []
    for part in outline:
        anchor = f"#{part['anchor']}" if part["level"] > 1 and part["anchor"] else ""
        heading = part["heading"] if part["level"] > 1 else ""
        entries.append({"page": section.page + anchor, "section": section.title, "heading": heading, "text": part["text"]})
    return entries


def _top_bar(sections: list[SectionPage], current: str) -> str:
    """Course title, search box and, on narrow screens, a menu of the sections."""
    return (
        "<header class='book-top'>"
        f"<a class='book-title' href='index.html'>{COURSE_TITLE}</a>"
        f"<details class='book-menu'><summary>Sections</summary>{_section_list(sections, current)}</details>"
        f"<form class='book-search' action='{SEARCH_PAGE}' role='search'>"
        "<input type='search' name='q' placeholder='Search' aria-label='Search the course'>"
        "</form></header>"
    )


def _section_list(sections: list[SectionPage], current: str) -> str:
    """All sections in order; the current one marked, failed ones flagged."""
    items = []
    for section in sections:
        label = html.escape(section.title)
        number = html.escape(section.stem.split("_")[0])
        flag = " <span class='flag'>failed</span>" if section.failure else ""
        if section.page:
            marked = " aria-current='page'" if section.stem == current else ""
            entry = f"<a href='{section.page}'{marked}><span class='num'>{number}</span> {label}</a>{flag}"
        else:
            entry = f"<span class='num'>{number}</span> {label}{flag}"
        items.append(f"<li class='failed'>{entry}</li>" if section.failure else f"<li>{entry}</li>")
    contents = " aria-current='page'" if current == "index" else ""
    return f"<ol class='book-sections'><li class='contents'><a href='index.html'{contents}>Contents</a></li>{''.join(items)}</ol>"


def _sidebar(sections: list[SectionPage], current: str) -> str:
    return f"<nav class='book-sidebar' aria-label='Sections'>{_section_list(sections, current)}</nav>"


def _run_banner(run: dict) -> str:
    """The section's model and profile, as its notebook's banner states them."""
    if not run:
        return ""
    parts = [f"model <b>{html.escape(str(run.get('model', '?')))}</b>"]
    if run.get("model_choice"):
        parts[0] += f" ({html.escape(str(run['model_choice']))})"
    profile = run.get("profile", {})
    if isinstance(profile, dict) and profile.get("name"):
        parts.append(f"profile <b>{html.escape(str(profile['name']))}</b>")
    if "seed" in run:
        parts.append(f"seed {html.escape(str(run['seed']))}")
    if "seconds" in run:
        parts.append(f"ran in {html.escape(str(run['seconds']))} s")
    return f"<p class='book-run'>This run: {', '.join(parts)}.</p>"


def _page_head(section: SectionPage, notebook_name: str) -> str:
    failed = ""
    if section.failure:
        failed = (f"<p class='book-failed'>This section failed in the last build: {html.escape(section.failure)}. "
                  "This page shows its last successful run.</p>")
    actions = (
        "<p class='book-actions'>"
        f"<a class='button' href='{html.escape(colab_url(notebook_name))}' rel='noopener'>Open in Colab</a>"
        f"<a class='button' href='{DOWNLOADS}/{html.escape(notebook_name)}' download>Download notebook</a></p>"
    )
    return f"<div class='book-head'>{failed}{_run_banner(section.run)}{actions}{TOC_INLINE_MARKER}</div>"


def _pager(sections: list[SectionPage], index: int) -> str:
    """Links to the previous and next sections that have a page."""
    before = [s for s in sections[:index] if s.page]
    after = [s for s in sections[index + 1:] if s.page]
    previous = (f"<a class='prev' rel='prev' href='{before[-1].page}'><small>Previous</small>{html.escape(before[-1].title)}</a>"
                if before else "<a class='prev' rel='prev' href='index.html'><small>Previous</small>Contents</a>")
    following = (f"<a class='next' rel='next' href='{after[0].page}'><small>Next</small>{html.escape(after[0].title)}</a>"
                 if after else "")
    return f"<nav class='book-pager' aria-label='Previous and next section'>{previous}{following}</nav>"


def _describe(notebook_path: Path, figures_root: Path, out_dir: Path) -> SectionPage:
    """A section's title, summary, run record and thumbnail, before rendering."""
    notebook = nbformat.read(notebook_path, as_version=4)
    title, summary = notebook_title_and_summary(notebook)
    run_file = figures_root / notebook_path.stem / RUN_FILE
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    thumbnail = _thumbnail(figures_root / notebook_path.stem, run.get("figures", []), out_dir, notebook_path.stem)
    return SectionPage(notebook_path.stem, title, summary, f"{notebook_path.stem}.html", run, thumbnail=thumbnail)


def render_section(notebook_path: Path, out_dir: Path, figures_root: Path,
                   sections: list[SectionPage] | None = None) -> SectionPage:
    """Render one executed notebook to ``<out_dir>/<stem>.html`` and copy it
    to ``<out_dir>/notebooks/`` for download.

    Args:
        notebook_path: Executed notebook.
        out_dir: Report folder.
        figures_root: Folder holding ``<stem>/run.json`` for each section.
        sections: Every section of the report, in order, for the sidebar and
            the previous/next links; just this one when ``None``.

    Returns:
        The page's description, with its search entries.
    """
    stem = notebook_path.stem
    known = {s.stem: s for s in sections or []}
    section = known.get(stem) or _describe(notebook_path, figures_root, out_dir)
    sections = sections or [section]
    position = [s.stem for s in sections].index(stem)
    book = {
        "top": _top_bar(sections, stem),
        "sidebar": _sidebar(sections, stem),
        "head": _page_head(section, notebook_path.name),
        "pager": _pager(sections, position),
        "toc_marker": TOC_MARKER,
    }
    notebook = nbformat.read(notebook_path, as_version=4)
    body, _ = _exporter().from_notebook_node(notebook, resources={"metadata": {"name": section.title}, "book": book})
    outline = page_outline(body)
    toc = _page_toc(outline)
    body = body.replace(TOC_MARKER, toc, 1)
    inline = f"<details class='book-toc-inline'><summary>On this page</summary>{toc}</details>" if toc else ""
    body = body.replace(TOC_INLINE_MARKER, inline, 1)
    (out_dir / section.page).write_text(body, encoding="utf-8")
    (out_dir / DOWNLOADS).mkdir(exist_ok=True)
    shutil.copy(notebook_path, out_dir / DOWNLOADS / notebook_path.name)
    section.search = _search_entries(section, outline)
    return section


def _thumbnail(folder: Path, figures: list[str], out_dir: Path, stem: str, width: int = 220) -> str:
    """A small copy of the section's key figure (its last PNG) for the contents page."""
    pictures = [name for name in figures if name.endswith((".png", ".jpg")) and (folder / name).exists()]
    if not pictures:
        return ""
    from PIL import Image

    target = out_dir / "thumbs" / f"{stem}.png"
    target.parent.mkdir(exist_ok=True)
    with Image.open(folder / pictures[-1]) as picture:
        picture.thumbnail((width, width))
        picture.save(target)
    return f"thumbs/{target.name}"


def _run_header(sections: list[SectionPage]) -> str:
    runs = [s.run for s in sections if s.run]
    if not runs:
        return "<p>No run information found.</p>"
    models = sorted({(r["model"], r.get("model_choice", "")) for r in runs})
    first = runs[0]
    rows = [
        ("Model", "; ".join(f"<b>{html.escape(m)}</b> ({html.escape(why)})" for m, why in models)),
        ("Profile", html.escape(", ".join(sorted({r["profile"]["name"] for r in runs})))),
        ("Seed", html.escape(", ".join(sorted({str(r["seed"]) for r in runs})))),
        ("Packages", html.escape(", ".join(f"{k} {v}" for k, v in first.get("packages", {}).items()))),
        ("Machine", html.escape(f"{first.get('machine', '')}, Python {first.get('python', '')}")),
        ("Built", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    return "<table class='run'>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _card(section: SectionPage) -> str:
    title = html.escape(section.title)
    link = f"<a href='{section.page}'>{title}</a>" if section.page else title
    failed = ""
    if section.failure:
        kept = " The page shows the last successful run." if section.page else ""
        failed = f"<p class='failed'>This section failed in the last build: {html.escape(section.failure)}.{kept}</p>"
    meta = ""
    if section.run:
        meta = f"<p class='meta'>model {html.escape(section.run.get('model', '?'))}, {section.run.get('seconds', '?')} s</p>"
    picture = f"<img class='thumb' src='{section.thumbnail}' alt='key figure of {title}'>" if section.thumbnail else ""
    return f"<li>{picture}{link}{failed}<p>{html.escape(section.summary)}</p>{meta}<div class='clear'></div></li>"


def _plain_page(title: str, sections: list[SectionPage], current: str, content: str, scripts: tuple[str, ...] = ()) -> str:
    """A page of the report outside the notebooks (contents, search), in the same frame."""
    tags = "".join(f"<script src='{src}'></script>" for src in scripts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="book.css">
</head><body class="book">
{_top_bar(sections, current)}
<div class="book-layout">
{_sidebar(sections, current)}
<main class="book-main book-plain">
{content}
</main>
</div>
{tags}
</body></html>
"""


def render_index(sections: list[SectionPage], out_dir: Path) -> Path:
    """Write the contents page.

    Args:
        sections: Rendered sections, in order.
        out_dir: Report folder.

    Returns:
        Path of ``index.html``.
    """
    cards = "".join(_card(s) for s in sections)
    content = f"<h1>{COURSE_TITLE}</h1>\n{_run_header(sections)}\n<h2>Sections</h2>\n<ol class='sections'>{cards}</ol>"
    path = out_dir / "index.html"
    path.write_text(_plain_page(COURSE_TITLE, sections, "index", content), encoding="utf-8")
    return path


def render_search(sections: list[SectionPage], out_dir: Path) -> Path:
    """Write the search page and its index (every heading of every page with
    the paragraph text under it), answered in the browser by ``search.js``.

    Args:
        sections: Rendered sections, in order, with their search entries.
        out_dir: Report folder.

    Returns:
        Path of ``search.html``.
    """
    entries = [entry for section in sections for entry in section.search]
    # A script, not JSON: browsers refuse fetch() of a file:// address.
    (out_dir / SEARCH_INDEX).write_text(f"window.SEARCH_INDEX = {json.dumps(entries, ensure_ascii=False)};\n", encoding="utf-8")
    content = (
        "<h1>Search</h1>"
        f"<form class='search-form' action='{SEARCH_PAGE}' role='search'>"
        "<input id='search-query' type='search' name='q' placeholder='e.g. Grad-CAM' aria-label='Search the course'>"
        "<button type='submit'>Search</button></form>"
        "<p id='search-summary'>Type a word or two: every section's headings and text are searched.</p>"
        "<ol id='search-results'></ol>"
    )
    path = out_dir / SEARCH_PAGE
    path.write_text(_plain_page(f"Search: {COURSE_TITLE}", sections, "search", content, (SEARCH_INDEX, "search.js")),
                    encoding="utf-8")
    return path


def build_report(executed_dir: Path, out_dir: Path, figures_root: Path | None = None, status: dict | None = None) -> Path:
    """Render every executed notebook, the contents page and the search page.

    Args:
        executed_dir: Folder of executed notebooks (``build/executed``).
        out_dir: Report folder (``build/report``); rebuilt from scratch.
        figures_root: Folder of section outputs (``build/figures``).
        status: Section -> ``{"ok": bool, "error": str, ...}`` of the last
            run (``report_lib.publish.build``); failed sections are marked.

    Returns:
        Path of ``index.html``.
    """
    status = status or {}
    notebooks = section_notebooks(executed_dir)
    if not notebooks and not status:
        raise FileNotFoundError(f"no executed notebooks in {executed_dir}")
    staging = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    figures_root = figures_root or build_dir() / "figures"
    # Every section is described first: each page lists all of them.
    sections = [_describe(path, figures_root, staging) for path in notebooks]
    described = {section.stem for section in sections}
    for stem, run in status.items():
        if not run.get("ok", True) and stem not in described:
            sections.append(SectionPage(stem, stem, "", "", {}))
    sections.sort(key=lambda section: section.stem)
    for section in sections:
        section.failure = "" if status.get(section.stem, {}).get("ok", True) else status[section.stem].get("error", "failed")
    for path in notebooks:
        render_section(path, staging, figures_root, sections)
    for name in STATIC_FILES:
        shutil.copy(TEMPLATES / "report" / name, staging / name)
    render_search(sections, staging)
    render_index(sections, staging)
    # Swap in the finished report only now, so a failure keeps the old one.
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir / "index.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, default=build_dir() / "executed")
    parser.add_argument("--out", type=Path, default=build_dir() / "report")
    parser.add_argument("--figures", type=Path, default=build_dir() / "figures")
    args = parser.parse_args()
    index = build_report(args.executed, args.out, args.figures)
    print(f"report written to {index}")


if __name__ == "__main__":
    main()
