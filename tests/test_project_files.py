"""The project's own files agree with each other (one source per fact)."""

import tomllib

import yaml

from report_lib.config import repo_root


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    cpu = [r.split(";")[0].strip() for r in extras["cpu"] if "x86_64" in r.split(";")[1] and "==" in r]
    return {*project["dependencies"], *cpu[:1], *extras["dev"]}


def test_environment_yml_mirrors_pyproject():
    environment = yaml.safe_load((repo_root() / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    pinned = {line for line in pip_section if not line.startswith("-e")}
    assert pinned == _pyproject_requirements()


def test_ci_runs_the_readme_test_command():
    ci = (repo_root() / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"
    assert "make test" in (repo_root() / "README.md").read_text()
