"""Render executed notebooks into the HTML report: a contents page with a run
header, linking one page per section.

Usage: ``python -m report_lib.publish.report --executed build/executed --out build/report``
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor
from traitlets.config import Config

from report_lib.config import RUN_FILE, build_dir, section_notebooks
from report_lib.publish.links import notebook_title_and_summary

#: Cell tags the report honours (set in the notebooks, never by hand edits).
HIDE_INPUT_TAG = "hide-input"
REMOVE_CELL_TAG = "remove-cell"


@dataclass
class SectionPage:
    """One rendered section."""

    stem: str
    title: str
    summary: str
    page: str
    run: dict
    failure: str = ""
    thumbnail: str = ""


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
    templates = str(Path(__file__).parent / "templates")
    exporter = HTMLExporter(config=config, template_name="report", extra_template_basedirs=[templates])
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    exporter.register_preprocessor(StripStderr(), enabled=True)
    return exporter


def render_section(notebook_path: Path, out_dir: Path, figures_root: Path) -> SectionPage:
    """Render one executed notebook to ``<out_dir>/<stem>.html``.

    Args:
        notebook_path: Executed notebook.
        out_dir: Report folder.
        figures_root: Folder holding ``<stem>/run.json`` for each section.

    Returns:
        The page's description for the contents page.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    title, summary = notebook_title_and_summary(notebook)
    body, _ = _exporter().from_notebook_node(notebook, resources={"metadata": {"name": title}})
    page = f"{notebook_path.stem}.html"
    back_link = '<p style="margin:1em 2em"><a href="index.html">&larr; Contents</a></p>'
    body = body.replace("<main>", f"<main>{back_link}", 1)
    (out_dir / page).write_text(body, encoding="utf-8")
    run_file = figures_root / notebook_path.stem / RUN_FILE
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    thumbnail = _thumbnail(figures_root / notebook_path.stem, run.get("figures", []), out_dir, notebook_path.stem)
    return SectionPage(notebook_path.stem, title, summary, page, run, thumbnail=thumbnail)


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


def render_index(sections: list[SectionPage], out_dir: Path) -> Path:
    """Write the contents page.

    Args:
        sections: Rendered sections, in order.
        out_dir: Report folder.

    Returns:
        Path of ``index.html``.
    """
    cards = "".join(_card(s) for s in sections)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Visualising Deep Convolutional Neural Networks</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }}
table.run th {{ text-align: left; padding-right: 1em; vertical-align: top; }}
table.run {{ background: #f4f4f8; padding: .5em 1em; border-radius: 6px; margin-bottom: 2em; }}
ol.sections li {{ margin-bottom: 1em; }} ol.sections a {{ font-size: 1.2em; }}
.meta {{ color: #666; font-size: .9em; }}
.failed {{ color: #a00; font-weight: bold; }}
img.thumb {{ float: right; max-width: 220px; max-height: 160px; margin: 0 0 .5em 1em; border: 1px solid #ddd; }}
.clear {{ clear: both; }}
</style></head><body>
<h1>Visualising Deep Convolutional Neural Networks</h1>
{_run_header(sections)}
<h2>Sections</h2>
<ol class="sections">{cards}</ol>
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def build_report(executed_dir: Path, out_dir: Path, figures_root: Path | None = None, status: dict | None = None) -> Path:
    """Render every executed notebook and the contents page.

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
    sections = [render_section(path, staging, figures_root) for path in notebooks]
    rendered = {section.stem for section in sections}
    for stem, run in status.items():
        if not run.get("ok", True) and stem not in rendered:
            sections.append(SectionPage(stem, stem, "", "", {}))
    sections.sort(key=lambda section: section.stem)
    for section in sections:
        section.failure = "" if status.get(section.stem, {}).get("ok", True) else status[section.stem].get("error", "failed")
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
