"""Keep each fact in one place: generate the README's notebook table with its
"Open in Colab" badges and each notebook's Colab install cell from the
repository address (``config.REPO_URL``), and the README's image credits from
``data.samples``; or check that they are in sync.

Usage: ``python -m report_lib.publish.links`` (rewrite) or ``--check`` (fail if stale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from report_lib.config import REPO_BRANCH, REPO_SLUG, REPO_URL, repo_root, section_notebooks

INSTALL_CELL_TAG = "colab-install"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def notebook_title_and_summary(notebook: nbformat.NotebookNode) -> tuple[str, str]:
    """The first ``#`` heading and the first paragraph after it."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        if lines and lines[0].startswith("# "):
            paragraphs = "\n".join(lines[1:]).strip().split("\n\n")
            return lines[0][2:].strip(), paragraphs[0].replace("\n", " ") if paragraphs[0] else ""
    return "Untitled section", ""


def colab_url(notebook: str) -> str:
    """The Colab address of a notebook of the repository (``notebooks/<name>``)."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{REPO_BRANCH}/notebooks/{notebook}"


def install_cell_source() -> str:
    """Source of the first code cell of every notebook: install report_lib, in Colab only."""
    return (
        "# In Colab, install the course's helper library (Colab already has TensorFlow and\n"
        "# Keras, so nothing else is installed). Elsewhere, `make report` has installed it.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "report_lib @ git+{REPO_URL}@{REPO_BRANCH}"'
    )


def notebook_table(notebooks: list[Path]) -> str:
    """Markdown table of the notebooks with a Colab badge each."""
    rows = ["| Section | Notebook | Colab |", "| --- | --- | --- |"]
    for path in notebooks:
        title, _ = notebook_title_and_summary(nbformat.read(path, as_version=4))
        badge = f"[![Open in Colab]({COLAB_BADGE})]({colab_url(path.name)})"
        rows.append(f"| {title} | [`{path.name}`](notebooks/{path.name}) | {badge} |")
    return "\n".join(rows)


def _section_notebooks(root: Path) -> list[Path]:
    return section_notebooks(root / "notebooks")


def _replace_block(text: str, block: str, content: str) -> str:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"README.md needs the markers {start} and {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}\n{end}{tail}"


def readme_text(root: Path) -> str:
    """README.md with its generated blocks (notebook table, image credits) filled in."""
    from report_lib.data.samples import sample_credits, texture_credits

    text = (root / "README.md").read_text(encoding="utf-8")
    text = _replace_block(text, "notebooks", notebook_table(_section_notebooks(root)))
    return _replace_block(text, "credits", sample_credits() + "\n" + texture_credits())


def _install_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if INSTALL_CELL_TAG in cell.metadata.get("tags", []):
            return cell
    raise ValueError(f"notebook has no cell tagged {INSTALL_CELL_TAG!r}")


def stale_files(root: Path) -> list[str]:
    """Files whose repository links differ from what ``config`` generates."""
    stale = []
    readme = root / "README.md"
    if readme_text(root) != readme.read_text(encoding="utf-8"):
        stale.append(str(readme))
    for path in _section_notebooks(root):
        if _install_cell(nbformat.read(path, as_version=4)).source != install_cell_source():
            stale.append(str(path))
    return stale


def sync(root: Path) -> list[str]:
    """Rewrite the README table and the install cells; return the files changed."""
    changed = stale_files(root)
    (root / "README.md").write_text(readme_text(root), encoding="utf-8")
    for path in _section_notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        _install_cell(notebook).source = install_cell_source()
        nbformat.write(notebook, path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description="Sync repository links from report_lib.config.")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    root = repo_root()
    if root is None:
        sys.exit("run this from a checkout of the repository")
    files = stale_files(root) if args.check else sync(root)
    for name in files:
        print(("stale: " if args.check else "updated: ") + name)
    sys.exit(1 if args.check and files else 0)


if __name__ == "__main__":
    main()
