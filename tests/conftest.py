"""Shared fixtures: a small CNN trained in seconds on synthetic images whose
object position is known (``report_lib.synthetic``), and the embedded
ImageNet model."""

from __future__ import annotations

import report_lib  # noqa: F401  (sets TensorFlow's environment before it starts)

import numpy as np
import pytest

from report_lib.models import ModelBundle
from report_lib.synthetic import synthetic_objects, train_small_cnn


@pytest.fixture(scope="session")
def tiny_bundle() -> ModelBundle:
    """A small CNN trained to tell red squares from blue ones (about 5 s on 2 cores)."""
    return train_small_cnn(synthetic_objects(768, seed=1), epochs=6, seed=0)


@pytest.fixture(scope="session")
def tiny_test_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out synthetic images (other seed than training): images, labels, boxes."""
    data = synthetic_objects(48, seed=2)
    return data.images, data.labels, data.boxes


@pytest.fixture(scope="session")
def lite0_bundle() -> ModelBundle:
    from report_lib.models import efficientnet_lite0_bundle

    return efficientnet_lite0_bundle()
