"""A synthetic data set whose right answers are known by construction: grey
noise images with one coloured square, and a small CNN trained on it in
seconds. Tests use it to check methods, and the evaluation section uses it
for the pointing game."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from report_lib.models import ModelBundle, bundle_from_model

#: Object colours of the two classes: class 0 red, class 1 blue.
OBJECT_COLOURS = np.array([[230, 30, 30], [30, 30, 230]], dtype=np.float32)
CLASS_NAMES = ("red square", "blue square")


@dataclass
class SyntheticSet:
    """Images with one object each, and where the object is.

    Attributes:
        images: ``(n, size, size, 3)`` uint8.
        labels: ``(n,)`` class of each object.
        boxes: ``(n, 4)`` top, left, bottom, right of each object.
        masks: ``(n, size, size)`` bool, True on the object.
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray


def synthetic_objects(count: int, seed: int, size: int = 32, object_size: int = 8) -> SyntheticSet:
    """Grey noisy images, each with one red or blue square at a random place.

    Args:
        count: Number of images.
        seed: Seeds noise, classes and positions.
        size: Image side.
        object_size: Square side.

    Returns:
        The images with their labels, boxes and masks.
    """
    rng = np.random.default_rng(seed)
    images = rng.normal(120, 20, size=(count, size, size, 3))
    labels = rng.integers(0, 2, size=count)
    boxes = np.zeros((count, 4), dtype=int)
    masks = np.zeros((count, size, size), dtype=bool)
    for index, label in enumerate(labels):
        top, left = rng.integers(0, size - object_size + 1, size=2)
        images[index, top : top + object_size, left : left + object_size] = OBJECT_COLOURS[label]
        boxes[index] = (top, left, top + object_size, left + object_size)
        masks[index, top : top + object_size, left : left + object_size] = True
    return SyntheticSet(np.clip(images, 0, 255).astype(np.uint8), labels, boxes, masks)


def scale_pixels(images: tf.Tensor) -> tf.Tensor:
    """The small CNN's preprocessing: pixels to ``[0, 1]``."""
    return images / 255.0


def build_small_cnn(size: int = 32, seed: int = 0) -> keras.Model:
    """Three conv layers, global average pooling and a 2-way softmax."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def train_small_cnn(data: SyntheticSet, epochs: int = 6, seed: int = 0) -> ModelBundle:
    """Train the small CNN on a synthetic set (a few seconds on a CPU).

    Args:
        data: Training set.
        epochs: Passes over it.
        seed: Seeds the initial weights and the shuffling.

    Returns:
        The trained model as a bundle (CAM layer ``last_conv``).
    """
    model = build_small_cnn(data.images.shape[1], seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(scale_pixels(tf.constant(data.images, tf.float32)), data.labels, epochs=epochs, batch_size=32, verbose=0)
    return bundle_from_model(model, scale_pixels, name="small_cnn")
