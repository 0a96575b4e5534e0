"""The Colab path, kept working without its downloads: every section notebook
runs with VGG16's architecture (random weights, so nothing is downloaded), and
section 07 runs its real tf_flowers loader on tensorflow-datasets' mock data.
Both in the ``smoke`` profile: every code path once, on one or two of
everything, because VGG16's forward pass costs 0.6 s an image on one core.

These run notebooks end to end (minutes), so plain ``pytest tests`` leaves
them out (marker ``colab_path``); ``make test`` selects them too, and ``make
notebook-tests-colab-path`` runs them alone. They check what runs and what it writes,
not class names: random weights predict nothing in particular.
"""

import json

import nbformat
import papermill
import pytest

from report_lib.config import repo_root, section_notebooks

pytestmark = pytest.mark.colab_path

NOTEBOOKS = section_notebooks(repo_root() / "notebooks")


def _run(notebook, tmp_path, monkeypatch, model: str, parameters: dict | None = None):
    monkeypatch.setenv("REPORT_PROFILE", "smoke")
    monkeypatch.setenv("REPORT_MODEL", model)
    figures = tmp_path / "figures"
    executed = tmp_path / notebook.name
    papermill.execute_notebook(str(notebook), str(executed), kernel_name="python3", cwd=str(notebook.parent),
                               parameters={"output_dir": str(figures), **(parameters or {})}, progress_bar=False)
    run = json.loads((figures / "run.json").read_text())
    printed = "".join(output.get("text", "") for cell in nbformat.read(executed, as_version=4).cells
                      for output in cell.get("outputs", []) if output.get("name") == "stdout")
    return run, figures, printed


#: Shorter lists than the notebooks' defaults where the smoke profile does not
#: reach: one class (two hidden units) in 01, two photographs in 05. Every code
#: path still runs; each item costs VGG16 seconds per forward pass.
LIGHTER = {
    "01_dense_layers": {"classes": [2], "units_per_class": 2},
    "05_occlusion": {"images": ["chelsea", "coffee"]},
}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_section_runs_with_vgg16(notebook, tmp_path, monkeypatch):
    run, figures, printed = _run(notebook, tmp_path, monkeypatch, "vgg16_random", LIGHTER.get(notebook.stem))
    assert run["model"] == "vgg16_random"
    assert "RANDOM WEIGHTS" in printed.split("=" * 78)[1]  # said in the banner, not only in run.json
    assert run["figures"], "the section drew nothing"
    for name in run["figures"]:
        assert (figures / name).stat().st_size > 1000, name
    if notebook.stem == "01_dense_layers":
        # VGG16's hidden dense layers get their own figures (the embedded model has none).
        assert {"fc1", "fc2"} <= {name.rsplit(".", 1)[0] for name in run["figures"]}


def test_transfer_section_runs_its_tf_flowers_loader_on_mock_data(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    # The kernel starts tensorflow-datasets' mock before the notebook runs: a
    # sitecustomize on its path, so the notebook itself stays as readers see it.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import tensorflow_datasets as tfds\n"
        "# Kept in a module variable: a dropped context manager would undo the patches.\n"
        "MOCK = tfds.testing.mock_data(num_examples=80)\n"
        "MOCK.__enter__()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(hook))
    notebook = repo_root() / "notebooks" / "07_transfer_learning.ipynb"
    run, figures, printed = _run(notebook, tmp_path, monkeypatch, "efficientnet_lite0")
    assert "data set: tf_flowers" in printed and "daisy" in printed
    assert run["figures"]
