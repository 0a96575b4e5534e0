"""Pytest hooks shared by the unit tests and the notebook checks.

The notebook checks run in parallel (``make test``: pytest-xdist,
``--dist loadgroup``). nbval makes one test item per cell, and the cells of a
notebook share one kernel, so they must stay together, in order, on one
worker: each notebook's cells become one xdist group. Whole-notebook tests
(the VGG16 runs) have no group and are spread over the workers one by one.
"""

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if type(item).__module__.startswith("nbval"):
            item.add_marker(pytest.mark.xdist_group(f"notebook-{item.path.stem}"))
