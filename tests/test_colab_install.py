"""The Colab install cell keeps Colab's own TensorFlow, Keras and NumPy.

Colab's packages are modelled by ``constraints/colab.txt`` (taken from Colab's
public ``pip-freeze.txt``). The install cell's ``%pip install`` runs as a
dry run of Colab's pip in a throwaway venv in which each of those packages is
recorded as installed at Colab's version (metadata only, so building it takes
seconds), with the cell's git address replaced by this checkout. pip's JSON
report then says what the cell would install or replace in Colab. Without
the package index (offline), the tests that need it skip and say so.
The venv runs this machine's Python (3.11), not Colab's 3.13.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from report_lib.config import REPO_URL, repo_root
from report_lib.publish.links import install_cell_source

CONSTRAINTS = repo_root() / "constraints" / "colab.txt"
# Colab's list has `tensorflow`; the constraints file names the same build `tensorflow-cpu`.
COLAB_NAMES = {"tensorflow-cpu": "tensorflow"}
NEVER_REPLACED = re.compile(r"^(tensorflow.*|tf-keras|keras|numpy)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_pins() -> dict[str, str]:
    """Normalised package name -> version, from ``constraints/colab.txt``."""
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()  # no comments, no markers
        if line:
            name, version = line.split("==")
            pins[_normalise(name)] = version
    return pins


def install_cell_pip_args() -> list[str]:
    """The arguments of the install cell's ``%pip install``, for this checkout."""
    pip_lines = [line.strip() for line in install_cell_source().splitlines() if line.strip().startswith("%pip ")]
    assert len(pip_lines) == 1, install_cell_source()
    args = shlex.split(pip_lines[0])[1:]
    assert args[0] == "install"
    requirements = [arg for arg in args if f"git+{REPO_URL}" in arg]
    assert len(requirements) == 1, args
    # The same package from this working tree: same dependencies, no git clone.
    local = f"report_lib @ {repo_root().as_uri()}"
    return [local if arg == requirements[0] else arg for arg in args[1:]]


# What pip prints when it cannot reach the package index.
OFFLINE = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution"
                     r"|Network is unreachable|ProxyError|ConnectTimeout|Max retries exceeded")


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m pip ARGS``; skips the test when the package index is unreachable."""
    result = subprocess.run(
        [str(python), "-m", "pip", *args, "--timeout", "30", "--retries", "2"],
        capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0 and OFFLINE.search(result.stderr):
        pytest.skip(f"the package index is unreachable, so the install cell cannot be dry-run: "
                    f"{OFFLINE.search(result.stderr).group(0)}")
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _colab_venv(path: Path, pins: dict[str, str]) -> Path:
    """A venv with Colab's pip, in which every other pinned package is recorded
    as installed at its pinned version (metadata only)."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    _pip(python, "install", "--quiet", f"pip=={pins['pip']}")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    for name, version in pins.items():
        if name == "pip":
            continue
        name = COLAB_NAMES.get(name, name)
        dist_info = Path(site) / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (dist_info / "INSTALLER").write_text("pip\n")
        (dist_info / "RECORD").write_text("")
    return python


@pytest.fixture(scope="module")
def install_report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("colab")
    pins = colab_pins()
    python = _colab_venv(root / "venv", pins)
    report = root / "report.json"
    _pip(python, "install", "--dry-run", "--report", str(report), *install_cell_pip_args())
    return json.loads(report.read_text())


def test_constraints_are_colabs_list_of_2026_08_19():
    header = CONSTRAINTS.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "a72407924822ea377410b69f0a290150bcb5c9c2 (2026-08-19" in header
    pins = colab_pins()
    assert pins["tensorflow-cpu"] == "2.20.0" and pins["keras"] == "3.13.2" and pins["numpy"] == "2.1.3"
    assert "tensorflow" not in pins  # Colab's TensorFlow is pinned as the CPU build


def test_install_cell_keeps_colabs_tensorflow_keras_and_numpy(install_report):
    installed = {_normalise(item["metadata"]["name"]): item["metadata"]["version"] for item in install_report["install"]}
    # The dry run did resolve the course's package and its own dependencies.
    assert "report-lib" in installed and installed["tf-keras-vis"] == "0.8.7"
    assert {name: v for name, v in installed.items() if NEVER_REPLACED.match(name)} == {}


def test_install_cell_replaces_nothing_colab_has(install_report):
    pins = {COLAB_NAMES.get(name, name): version for name, version in colab_pins().items()}
    assert len(pins) > 100  # the packages of constraints/colab.txt, all recorded as installed
    replaced = {
        name: f"{pins[name]} -> {item['metadata']['version']}"
        for item in install_report["install"]
        if (name := _normalise(item["metadata"]["name"])) in pins
    }
    assert replaced == {}


def test_project_requirements_admit_colabs_versions():
    """Every dependency (and dev tool) Colab has accepts Colab's version, so
    neither the install cell nor ``make test-colab`` has to replace it."""
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    pins = colab_pins()
    refused = []
    for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(line)
        version = pins.get(_normalise(requirement.name))
        if version is not None and not requirement.specifier.contains(version, prereleases=True):
            refused.append(f"{line} refuses Colab's {version}")
    assert refused == []
