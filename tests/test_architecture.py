"""The package's layers: each subpackage imports only from the layers below
it, and publishing (rendering the report) never starts TensorFlow."""

import ast
import subprocess
import sys
from pathlib import Path

import report_lib

#: Lowest first. A module may import from its own layer and the ones before it.
LAYERS = ("config", "data", "models", "methods", "evaluation", "course", "evaluate", "publish")
PACKAGE = Path(report_lib.__file__).parent


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("report_lib"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("report_lib"))
    return found


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)


def test_every_module_is_in_a_layer():
    modules = [_module_name(p) for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py"]
    assert modules and all(_layer(m) >= 0 for m in modules), [m for m in modules if _layer(m) < 0]


def test_no_module_imports_from_a_layer_above_it():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if module == "report_lib":
            continue
        for imported in _imports(path):
            if _layer(imported) > _layer(module):
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_the_layer_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from report_lib.course.plotting import plot_maps\nimport report_lib.publish.report\n")
    imported = _imports(bad)
    assert {"report_lib.course.plotting", "report_lib.publish.report"} <= imported
    assert max(_layer(m) for m in imported) == LAYERS.index("publish") > LAYERS.index("models")


def test_publishing_does_not_start_tensorflow():
    code = ("import sys\n"
            "import report_lib.publish.report, report_lib.publish.build, report_lib.publish.links\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
