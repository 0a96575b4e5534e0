"""Shared fixtures: a tiny CNN trained in seconds on synthetic images whose
object position is known, and the embedded ImageNet model."""

from __future__ import annotations

import report_lib  # noqa: F401  (sets TensorFlow's environment before it starts)

import keras
import numpy as np
import pytest
import tensorflow as tf

from report_lib.models import ModelBundle, bundle_from_model

TINY_SIZE = 32
OBJECT_SIZE = 8
#: Object colours of the two classes: class 0 red, class 1 blue.
OBJECT_COLOURS = np.array([[230, 30, 30], [30, 30, 230]], dtype=np.float32)


def synthetic_objects(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey noisy images, each with one coloured square at a random place.

    Returns:
        ``(images uint8 (n, 32, 32, 3), labels (n,), boxes (n, 4) as top, left, bottom, right)``.
    """
    rng = np.random.default_rng(seed)
    images = rng.normal(120, 20, size=(count, TINY_SIZE, TINY_SIZE, 3))
    labels = rng.integers(0, 2, size=count)
    boxes = np.zeros((count, 4), dtype=int)
    for index, label in enumerate(labels):
        top, left = rng.integers(0, TINY_SIZE - OBJECT_SIZE + 1, size=2)
        images[index, top : top + OBJECT_SIZE, left : left + OBJECT_SIZE] = OBJECT_COLOURS[label]
        boxes[index] = (top, left, top + OBJECT_SIZE, left + OBJECT_SIZE)
    return np.clip(images, 0, 255).astype(np.uint8), labels, boxes


def _scale(images: tf.Tensor) -> tf.Tensor:
    return images / 255.0


def build_tiny_cnn(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@pytest.fixture(scope="session")
def tiny_bundle() -> ModelBundle:
    """A tiny CNN trained to tell red squares from blue ones (about 5 s on 2 cores)."""
    model = build_tiny_cnn()
    images, labels, _ = synthetic_objects(768, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(_scale(tf.constant(images, tf.float32)), labels, epochs=6, batch_size=32, verbose=0)
    return bundle_from_model(model, _scale, name="tiny_cnn")


@pytest.fixture(scope="session")
def tiny_test_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out synthetic images (other seed than training)."""
    return synthetic_objects(48, seed=2)


@pytest.fixture(scope="session")
def lite0_bundle() -> ModelBundle:
    from report_lib.models import efficientnet_lite0_bundle

    return efficientnet_lite0_bundle()
