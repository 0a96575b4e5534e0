"""Running a section twice with the same parameters and seed gives the same
text outputs (fresh kernels each time)."""

import re

import nbformat
import papermill

from report_lib.config import repo_root


def _text_outputs(path) -> list[str]:
    texts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                texts.append(output.text)
            elif "text/markdown" in output.get("data", {}):
                texts.append(output["data"]["text/markdown"])
    # The last line of a section says where its figures went (a folder per run here) and how long it took.
    return [re.sub(r"saved to \S+ in \d+ s ", "saved to _ in _ s ", text) for text in texts]


def test_a_section_run_twice_prints_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_PROFILE", "quick")
    monkeypatch.setenv("REPORT_MODEL", "efficientnet_lite0")
    notebook = repo_root() / "notebooks" / "03_attention.ipynb"
    runs = []
    for index in range(2):
        output = tmp_path / f"run{index}.ipynb"
        papermill.execute_notebook(str(notebook), str(output), kernel_name="python3", cwd=str(notebook.parent),
                                   parameters={"output_dir": str(tmp_path / f"figures{index}")}, progress_bar=False)
        runs.append(_text_outputs(output))
    assert len(runs[0]) >= 3 and any("Egyptian_cat" in text for text in runs[0])
    assert runs[0] == runs[1]
