import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from report_lib.publish.build import build


def _notebook(path, title, code):
    parameters = new_code_cell("model_name = 'auto'", metadata={"tags": ["parameters"]})
    notebook = new_notebook(cells=[new_markdown_cell(f"# {title}\n\nSummary of {title}."), parameters, new_code_cell(code)],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, path)
    return path


def test_failed_section_is_marked_and_others_still_render(tmp_path, capsys):
    source = tmp_path / "notebooks"
    source.mkdir()
    good = _notebook(source / "01_good.ipynb", "Good section", "print('fine')")
    bad = _notebook(source / "02_bad.ipynb", "Bad section", "raise RuntimeError('the model could not be loaded')")
    executed, report = tmp_path / "executed", tmp_path / "report"
    # A previous successful run of the failing section exists and must survive.
    executed.mkdir()
    _notebook(executed / "02_bad.ipynb", "Bad section", "print('last good run')")

    statuses = build([good, bad], "quick", "auto", executed, report)

    assert [(s.section, s.ok) for s in statuses] == [("01_good", True), ("02_bad", False)]
    assert "the model could not be loaded" in statuses[1].error
    printed = capsys.readouterr().out
    assert "[1/2] 01_good ... ok" in printed and "[2/2] 02_bad ... FAILED" in printed
    assert "last good run" in (executed / "02_bad.ipynb").read_text()  # not overwritten
    assert not list(executed.glob(".*running*"))  # the failed partial run is not left as a section
    assert "RuntimeError" in (executed / "failed" / "02_bad.ipynb").read_text()  # but kept for inspection
    assert (executed / "logs" / "01_good.log").exists()
    index = (report / "index.html").read_text()
    assert "This section failed in the last build" in index and "the model could not be loaded" in index
    assert "href='01_good.html'" in index and (report / "01_good.html").exists()
    # The failed section keeps its last good page, marked there and in every page's sidebar.
    kept = (report / "02_bad.html").read_text()
    assert "last good run" in kept and "This section failed in the last build" in kept
    assert '<li class="failed"><a href="02_bad.html">' in (report / "01_good.html").read_text()
    assert "last good run" in (report / "notebooks" / "02_bad.ipynb").read_text()  # the download too
    status = json.loads((executed / "status.json").read_text())
    assert status["01_good"]["ok"] and not status["02_bad"]["ok"]
