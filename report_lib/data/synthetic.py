"""A synthetic data set whose right answers are known by construction: grey
noise images with one coloured square. Tests use it to check methods, and the
evaluation section uses it for the pointing game (with the small CNN of
``models.training``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Object colours of the two classes: class 0 red, class 1 blue.
OBJECT_COLOURS = np.array([[230, 30, 30], [30, 30, 230]], dtype=np.float32)
#: Names of the two classes, by label.
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
