"""Two-object images in the course: maps for each object's class on one image
(section 03) and hiding each object in turn (section 05)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from report_lib.data.composites import Composite, box_mask, make_composite
from report_lib.evaluation.localisation import box_share, pointing_game
from report_lib.methods.registry import explain
from report_lib.models.bundle import ModelBundle


@dataclass
class TwoObjectMaps:
    """Maps of one composite for the class of each of its objects.

    Attributes:
        composite: The image, its boxes and each object alone.
        classes: ``(k,)`` each object's class: the model's top-1 on that object alone.
        probabilities: ``(k,)`` the probability of each of those classes on the composite.
        maps: Method id -> ``(k, H, W)`` raw maps of the composite, one per object's class.
        hits: Method id -> ``(k,)`` whether the map's peak lies in that object's box.
        shares: Method id -> ``(k,)`` fraction of the map's positive mass in that object's box.
    """

    composite: Composite
    classes: np.ndarray
    probabilities: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    hits: dict[str, np.ndarray] = field(default_factory=dict)
    shares: dict[str, np.ndarray] = field(default_factory=dict)

    def masks(self) -> np.ndarray:
        """``(k, H, W)`` bool: each object's box."""
        size = self.composite.image.shape[0]
        return np.stack([box_mask(box, size) for box in self.composite.boxes])


def two_object_maps(bundle: ModelBundle, names: Sequence[str], method_ids: Sequence[str] = ("gradcam",),
                    **options) -> list[TwoObjectMaps]:
    """Explain every object's class on each named composite.

    Each object's class is what the model predicts for that object alone (the
    composite with the other objects greyed out), so the question is only
    *where*, not *whether*, the model sees it.

    Args:
        bundle: The model.
        names: Recipes of ``data.composites.COMPOSITES``.
        method_ids: Methods of ``methods.registry`` to run.
        **options: Passed to every ``explain`` call.

    Returns:
        One result per composite.
    """
    results = []
    for name in names:
        composite = make_composite(name, bundle.input_size)
        classes = bundle.predict(composite.alone).argmax(axis=1)
        probabilities = bundle.predict(composite.image[None])[0][classes]
        result = TwoObjectMaps(composite, classes, probabilities)
        copies = np.repeat(composite.image[None], len(classes), axis=0)
        for method_id in method_ids:
            raw = explain(method_id, bundle, copies, classes, **options)
            result.maps[method_id] = raw
            result.hits[method_id] = pointing_game(raw, result.masks())
            result.shares[method_id] = box_share(raw, result.masks())
        results.append(result)
    return results


@dataclass
class HiddenObjects:
    """Probabilities of each object's class as the objects are hidden in turn.

    Attributes:
        composite: The image.
        classes: ``(k,)`` each object's class (top-1 on that object alone).
        images: ``(k, H, W, 3)`` the composite with object ``i`` greyed out (row ``i``).
        before: ``(k,)`` probability of each class on the whole composite.
        after: ``(k, k)`` ``after[i, j]``: probability of class ``j`` with object ``i`` hidden.
    """

    composite: Composite
    classes: np.ndarray
    images: np.ndarray
    before: np.ndarray
    after: np.ndarray


def hide_each_object(bundle: ModelBundle, name: str) -> HiddenObjects:
    """Hide each object of a two-object composite in turn (grey over its box)
    and watch every object's class.

    Args:
        bundle: The model.
        name: A recipe of ``data.composites.COMPOSITES`` with two objects.

    Returns:
        The occluded images and the probabilities before and after.
    """
    composite = make_composite(name, bundle.input_size)
    if len(composite.boxes) != 2:
        raise ValueError(f"{name} has {len(composite.boxes)} objects; hiding in turn needs two")
    classes = bundle.predict(composite.alone).argmax(axis=1)
    # With two objects, hiding one leaves exactly the other alone.
    hidden = composite.alone[::-1]
    return HiddenObjects(composite, classes, hidden, bundle.predict(composite.image[None])[0][classes],
                         bundle.predict(hidden)[:, classes])


def two_object_rows(bundle: ModelBundle, results: Sequence[TwoObjectMaps], method_id: str) -> list[list[object]]:
    """Table rows, one per object: composite, object, its class, that class's
    probability on the composite, whether the map's peak is in the object's box,
    and the share of the map's mass in it.

    Args:
        bundle: The model (for class names).
        results: From ``two_object_maps``.
        method_id: Which method's maps to report.

    Returns:
        Rows for ``course.tables.markdown_table``.
    """
    rows = []
    for result in results:
        for index, (sample, class_id) in enumerate(zip(result.composite.samples, result.classes)):
            rows.append([result.composite.name, f"{index + 1}: {sample}", bundle.class_label(int(class_id)),
                         float(result.probabilities[index]), "yes" if result.hits[method_id][index] else "no",
                         float(result.shares[method_id][index])])
    return rows
