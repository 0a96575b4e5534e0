"""Pytest hooks shared by the unit tests and the notebook checks.

``make test`` runs everything on every core with pytest-xdist and
``--dist loadscope``, with the scopes set here. nbval makes one test item per
cell, and a notebook's cells share one kernel, so they stay together, in
order, on one worker. A whole-notebook run (``tests/notebooks``, minutes
each) is a scope of its own, so the workers share those one by one. Every
other test module is one scope, so a module's fixtures (e.g. the report that
the browser tests render into one folder) are built once, on one worker.
(xdist's own ``xdist_group`` marks do not take effect with pytest 9, which no
longer reads the node ids xdist rewrites.)
"""

import pytest

#: Tests that each run a notebook end to end: one scope per test, not per module.
WHOLE_NOTEBOOK_RUNS = "tests/notebooks/"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist; without it, never called
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = _path(nodeid)
            return nodeid if path.startswith(WHOLE_NOTEBOOK_RUNS) else path

    return NotebookScopes(config, log)


def _path(nodeid: str) -> str:
    """The file part of a test id (``notebooks/01_dense_layers.ipynb::Cell 3`` -> the notebook)."""
    return nodeid.split("::", 1)[0]


def _length_class(item: pytest.Item) -> int:
    """0: a whole notebook run (minutes); 1: a notebook's nbval cell; 2: a unit test (seconds)."""
    path = _path(item.nodeid)
    if path.startswith(WHOLE_NOTEBOOK_RUNS):
        return 0
    return 1 if path.endswith(".ipynb") else 2


def pytest_collection_modifyitems(config, items):
    # Longest first, so that in ``make test``'s one parallel run the short unit
    # tests fill the gaps at the end instead of a notebook run starting last.
    # The sort is stable: a notebook's cells and a module's tests keep their order.
    items.sort(key=_length_class)
