"""Shared fixtures: a small CNN trained in seconds on synthetic images whose
object position is known (``report_lib.data.synthetic``), and the embedded
ImageNet model."""

from __future__ import annotations

import report_lib  # noqa: F401  (sets TensorFlow's environment before it starts)

import numpy as np
import pytest

from report_lib.data.synthetic import CLASS_NAMES, synthetic_objects
from report_lib.models.bundle import ModelBundle
from report_lib.models.training import train_small_cnn


@pytest.fixture(scope="session")
def tiny_bundle() -> ModelBundle:
    """A small CNN trained to tell red squares from blue ones (about 5 s on 2 cores)."""
    data = synthetic_objects(768, seed=1)
    return train_small_cnn(data.images, data.labels, epochs=6, seed=0, class_names=CLASS_NAMES)


@pytest.fixture(scope="session")
def tiny_test_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out synthetic images (other seed than training): images, labels, boxes."""
    data = synthetic_objects(48, seed=2)
    return data.images, data.labels, data.boxes


@pytest.fixture(scope="session")
def lite0_bundle() -> ModelBundle:
    from report_lib.models.registry import efficientnet_lite0_bundle

    return efficientnet_lite0_bundle()


@pytest.fixture(scope="session")
def imagenet_shaped_bundle() -> ModelBundle:
    """A tiny untrained model with ImageNet's 1000 classes, names and WordNet ids."""
    import keras

    from report_lib.models.bundle import bundle_from_model
    from report_lib.models.classes import imagenet_class_names, imagenet_wnids

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(x))
    return bundle_from_model(model, lambda x: x, class_names=imagenet_class_names(), wnids=imagenet_wnids())
