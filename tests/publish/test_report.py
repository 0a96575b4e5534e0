import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from report_lib.publish.report import build_report


def _executed_notebook(path, title):
    hidden = new_code_cell("secret_setup = 1", metadata={"tags": ["hide-input"]})
    shown = new_code_cell("print('visible')")
    shown.outputs = [
        new_output("stream", name="stdout", text="visible output\n"),
        new_output("stream", name="stderr", text="I0000 oneDNN chatter\n"),
    ]
    collapsed = new_code_cell("long_plotting_glue = 2", metadata={"tags": ["collapse-input"]})
    notebook = new_notebook(cells=[new_markdown_cell(f"# {title}\n\nWhat this section shows."), hidden, shown, collapsed])
    nbformat.write(notebook, path)


@pytest.fixture
def build(tmp_path):
    executed, figures = tmp_path / "executed", tmp_path / "figures"
    executed.mkdir()
    for stem, title in [("01_first", "First section"), ("03_attention", "Attention maps")]:
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
