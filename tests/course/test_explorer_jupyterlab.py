"""The explorer (section 10) in a real frontend: a JupyterLab server started
here, driven by Playwright with the system Chromium (Debian's package, from
`make browser`; Playwright downloads no browser). The notebook runs all its
cells with the embedded model in the quick profile (offline), then the test
changes the method, the image and the class (typed), uploads a PNG, picks a
sample again, uploads the same PNG again and uploads a text file named .png,
checking after each step what a person sees: the figure redraws, the controls
show the kernel's choices and the status line says what went wrong.

About two minutes on the 2 cores this was built on, with another job running
(server and page 30 s, run all 35 to 70 s, 1 to 2 s per redraw). Skipped where
Chromium is missing; deselect with ``-m 'not colab_path and not browser'``. A
screenshot of the last view is saved as build/browser-test/explorer-jupyterlab.png.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from report_lib.config import build_dir, repo_root

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "explorer-test"
SERVER_START_SECONDS = 120
RUN_ALL_SECONDS = 300  # the static view computes every method once (about 30 s on 2 busy cores)
REDRAW_MS = 90_000  # one redraw takes about a second, more when the cores are shared
STATUS_ERROR_COLOUR = "rgb(176, 0, 32)"  # widgets.Explorer._say's #b00020

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _notebook_without_outputs(destination: Path) -> None:
    import nbformat

    notebook = nbformat.read(repo_root() / "notebooks" / "10_explorer.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, destination / "10_explorer.ipynb")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on a free local port, serving a copy of section 10
    (outputs cleared); its kernel is this venv's Python. Yields the notebook's URL."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (`make browser` installs Debian's chromium): "
                    "the explorer's JupyterLab test needs it")
    root = tmp_path_factory.mktemp("jupyterlab")
    _notebook_without_outputs(root)
    state = root / ".jupyter"
    # No news or update prompts over the notebook (this machine has no internet anyway).
    settings = state / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        **os.environ,
        "REPORT_PROFILE": "quick",
        "REPORT_MODEL": "efficientnet_lite0",
        "REPORT_OUTPUT_DIR": str(root / "figures"),
        # As the Makefile does: the venv's own kernelspec, whatever other kernels the user has.
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        # Nothing read from or written to the user's own Jupyter folders.
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
    }
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp: run all cells with JupyterLab's own command, not by menu clicks.
        "--LabApp.expose_app_in_browser=True",
    ]
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert server.poll() is None, f"JupyterLab exited ({server.returncode}):\n{log_path.read_text()[-3000:]}"
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                                 headers={"Authorization": f"token {TOKEN}"})
                urllib.request.urlopen(request, timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, f"JupyterLab did not answer:\n{log_path.read_text()[-3000:]}"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/10_explorer.ipynb?token={TOKEN}"
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _png(width: int = 96, height: int = 64) -> bytes:
    """Coloured stripes, nothing like the samples."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = (np.arange(width) * 8 % 256)[None]
    image[::8, :, 1] = 255
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class ExplorerPage:
    """The explorer's controls in the JupyterLab page, found by their labels."""

    def __init__(self, page):
        self.page = page
        self.status = page.locator(".widget-html .widget-html-content")
        self.upload = page.locator("button.widget-upload")

    def control(self, label: str):
        box = self.page.locator(".widget-inline-hbox",
                                has=self.page.locator("label.widget-label", has_text=re.compile(f"^{label}$")))
        return box.locator("select, input")

    def figure(self) -> str:
        return self.page.locator(".widget-output img").get_attribute("src")

    def watch_status(self) -> None:
        """Record every message the status line shows, even briefly ("computing ...")."""
        self.page.evaluate("""() => {
            window.statusMessages = [];
            const line = document.querySelector('.widget-html .widget-html-content');
            new MutationObserver(records => {
                for (const record of records)
                    for (const node of record.addedNodes) window.statusMessages.push(node.textContent);
            }).observe(line, {childList: true, subtree: true});
        }""")

    def messages(self) -> list[str]:
        """The status messages since the last call."""
        return self.page.evaluate("() => window.statusMessages.splice(0)")

    def redrawn(self, before: str, step: str, timings: dict) -> str:
        """Wait until the figure differs from ``before`` and the status line is
        empty again; check that the status said what was computed."""
        start = time.monotonic()
        self.page.wait_for_function(
            """before => {
                const image = document.querySelector('.widget-output img');
                const line = document.querySelector('.widget-html .widget-html-content');
                return image !== null && image.src !== before && line.textContent === '';
            }""", arg=before, timeout=REDRAW_MS)
        timings[step] = round(time.monotonic() - start, 2)
        messages = self.messages()
        assert any(message.startswith("computing ") and message.endswith(" on efficientnet_lite0 ...")
                   for message in messages), (step, messages)
        return self.figure()

    def error_shown(self, text: str) -> str:
        self.page.wait_for_function("text => document.querySelector('.widget-html .widget-html-content')"
                                    ".textContent.includes(text)", arg=text, timeout=REDRAW_MS)
        colour = self.status.locator("span").evaluate("span => getComputedStyle(span).color")
        assert colour == STATUS_ERROR_COLOUR, colour
        return self.status.inner_text()


RUN_ALL = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    window.jupyterapp.commands.execute('notebook:run-all-cells');  // not awaited: the wait below has the timeout
}"""
CELLS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const found = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        const outputs = [];
        for (let j = 0; j < cell.outputs.length; j++) outputs.push(cell.outputs.get(j).toJSON());
        found.push({count: cell.executionCount, source: cell.sharedModel.getSource(), outputs});
    }
    return found;
}"""
KERNEL_PREFIX = """async () => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    let printed = '';
    const future = kernel.requestExecute({code: 'import sys; print(sys.prefix)', store_history: false});
    future.onIOPub = message => { if (message.header.msg_type === 'stream') printed += message.content.text; };
    await future.done;
    return printed.trim();
}"""


def test_explorer_in_jupyterlab(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    timings: dict[str, float] = {}
    page_errors: list[str] = []
    screenshot = build_dir() / "browser-test" / "explorer-jupyterlab.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            try:
                _drive(page, jupyterlab, timings, tmp_path)
            finally:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert page_errors == [], page_errors
    print("redraw seconds:", timings)


def _drive(page, url: str, timings: dict, tmp_path: Path) -> None:
    start = time.monotonic()
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext")
    page.evaluate(RUN_ALL)
    explorer = ExplorerPage(page)

    # Run all: every cell ran without an error, and the widgets came up with the first sample's figure.
    page.wait_for_function(f"""() => {{
        const cells = ({CELLS})();  // all ran, or one failed (and run all stopped there)
        return cells.every(cell => cell.count !== null)
            || cells.some(cell => cell.outputs.some(output => output.output_type === 'error'));
    }}""", timeout=RUN_ALL_SECONDS * 1000)
    timings["run all"] = round(time.monotonic() - start, 2)
    cells = page.evaluate(CELLS)
    errors = [output for cell in cells for output in cell["outputs"] if output["output_type"] == "error"]
    assert errors == [], errors
    explorer_cell = next(cell for cell in cells if "open_explorer(" in cell["source"])
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for output in explorer_cell["outputs"]), explorer_cell["outputs"]
    assert page.evaluate(KERNEL_PREFIX) == sys.prefix  # this venv's kernel, so this checkout's report_lib
    page.locator(".widget-output img").wait_for()
    assert explorer.control("Image").input_value() == "chelsea"
    assert explorer.control("Method").input_value() == "Grad-CAM"
    assert explorer.control("Class").input_value() == "Egyptian cat (285)"  # the top-1, shown by the kernel
    assert explorer.status.inner_text() == ""
    explorer.watch_status()
    figure = explorer.figure()

    # Method: a gradient method has no layer, so the layer picker greys out; a CAM method brings it back.
    explorer.control("Method").select_option(label="saliency")
    figure = explorer.redrawn(figure, "method saliency", timings)
    assert explorer.control("Layer").is_disabled()
    explorer.control("Method").select_option(label="Grad-CAM++")
    figure = explorer.redrawn(figure, "method Grad-CAM++", timings)
    assert explorer.control("Layer").is_enabled()

    # Image: another sample, explained at its own top-1 class.
    explorer.control("Image").select_option("coffee")
    figure = explorer.redrawn(figure, "image coffee", timings)
    assert explorer.control("Class").input_value() not in ("", "Egyptian cat (285)")

    # Class, typed: part of a name and Enter; the kernel writes the full label back.
    explorer.control("Class").fill("coffee m")
    explorer.control("Class").press("Enter")
    figure = explorer.redrawn(figure, "class coffee m", timings)
    assert explorer.control("Class").input_value() == "coffee mug (504)"
    # An ambiguous part is reported in the status line and the figure stays.
    explorer.control("Class").fill("espres")
    explorer.control("Class").press("Enter")
    assert "matches 2 classes: espresso maker (550), espresso (967)" in explorer.error_shown("matches 2 classes")
    assert explorer.figure() == figure
    explorer.messages()

    # Upload: the button opens the file dialog (ipywidgets 8 keeps its file input out of the page).
    stripes = tmp_path / "stripes.png"
    stripes.write_bytes(_png())
    with page.expect_file_chooser() as chooser:
        explorer.upload.click()
    chooser.value.set_files(str(stripes))
    figure = explorer.redrawn(figure, "upload", timings)
    assert explorer.control("Image").input_value() == ""  # no sample is shown now
    # ... so picking a sample counts again, and so does the same file uploaded once more.
    explorer.control("Image").select_option("chelsea")
    figure = explorer.redrawn(figure, "image chelsea after upload", timings)
    with page.expect_file_chooser() as chooser:
        explorer.upload.click()
    chooser.value.set_files(str(stripes))
    figure = explorer.redrawn(figure, "same file again", timings)

    # A bad upload: a text file named .png is reported in red; the figure stays and the explorer goes on.
    notes = tmp_path / "notes.png"
    notes.write_text("these are notes, not a picture\n")
    with page.expect_file_chooser() as chooser:
        explorer.upload.click()
    chooser.value.set_files(str(notes))
    assert explorer.error_shown("not an image") == "the uploaded file is not an image (unrecognised format)"
    assert explorer.figure() == figure
    explorer.messages()
    explorer.control("Method").select_option(label="Grad-CAM")
    explorer.redrawn(figure, "method Grad-CAM after the bad upload", timings)
    assert explorer.control("Image").input_value() == ""  # still the uploaded stripes
