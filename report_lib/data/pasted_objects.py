"""Photographs with a known box for the pointing game at scale: a downscaled
sample photograph pasted at a random place onto another, drawn in any number
and written as an image folder with a CSV of boxes for the evaluation engine.
No sample photograph comes with a box, but a pasted one has an exact box by
construction. (The hand-made two-object scenes of sections 03 and 05, where
they exist, are another module: the two should become one.) Importing this
module does not start TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from report_lib.data.images import load_rgb, resize_centre_crop

#: Side of a composite, in pixels (the engine crops and resizes it like any photograph).
COMPOSITE_SIZE = 256


@dataclass(frozen=True)
class Composite:
    """A photograph with another pasted onto it.

    Attributes:
        name: ``"<object>_on_<background>"``.
        image: ``(size, size, 3)`` uint8.
        box: ``(xmin, ymin, xmax, ymax)`` of the pasted photograph, in pixels
            (``xmax``/``ymax`` exclusive: the pasted pixels are
            ``image[ymin:ymax, xmin:xmax]``).
        object_name: Sample pasted.
        background_name: Sample underneath.
    """

    name: str
    image: np.ndarray
    box: tuple[int, int, int, int]
    object_name: str
    background_name: str


def paste(background: np.ndarray, obj: np.ndarray, top: int, left: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Paste ``obj`` onto a copy of ``background`` with its top-left corner at ``(top, left)``.

    Args:
        background: ``(H, W, 3)`` uint8.
        obj: ``(h, w, 3)`` uint8, fitting inside the background at that place.
        top: Row of the object's first row.
        left: Column of the object's first column.

    Returns:
        The composite and the box ``(xmin, ymin, xmax, ymax)`` (max exclusive).
    """
    height, width = obj.shape[:2]
    if top < 0 or left < 0 or top + height > background.shape[0] or left + width > background.shape[1]:
        raise ValueError(f"a {height} x {width} object at ({top}, {left}) does not fit in {background.shape[:2]}")
    composite = background.copy()
    composite[top : top + height, left : left + width] = obj
    return composite, (left, top, left + width, top + height)


def compose(
    background: np.ndarray, obj: np.ndarray, scale: float, rng: np.random.Generator,
    size: int = COMPOSITE_SIZE, margin: float = 0.1,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A square composite: the background centre-cropped to ``size``, the
    object centre-cropped to ``scale * size`` and pasted at a random place at
    least ``margin * size`` from every edge (so the ImageNet centre crop,
    which trims 6.25% per side, keeps it whole).

    Args:
        background: ``(H, W, 3)`` uint8 photograph.
        obj: ``(H', W', 3)`` uint8 photograph.
        scale: Side of the pasted square as a fraction of ``size``.
        rng: Chooses the place.
        size: Side of the composite.
        margin: Smallest distance to the edges, as a fraction of ``size``.

    Returns:
        The composite and the box ``(xmin, ymin, xmax, ymax)``.
    """
    side = int(round(scale * size))
    low, high = int(np.ceil(margin * size)), size - int(np.ceil(margin * size)) - side
    if not 0 < scale < 1 or high < low:
        raise ValueError(f"an object of scale {scale} does not fit with margin {margin}")
    base = resize_centre_crop(background, size, 1.0)
    patch = resize_centre_crop(obj, side, 1.0)
    top, left = (int(v) for v in rng.integers(low, high + 1, size=2))
    return paste(base, patch, top, left)


def sample_composites(
    names: Sequence[str], count: int, seed: int = 0, scales: tuple[float, float] = (0.35, 0.5),
    size: int = COMPOSITE_SIZE,
) -> list[Composite]:
    """``count`` composites of the given samples, each pasted onto another.

    Pairs ``(object, background)`` cycle through all ordered pairs in a
    seeded order, so every sample is pasted before any is pasted twice.

    Args:
        names: Sample names (or anything ``load_rgb`` accepts).
        count: Number of composites.
        seed: Seeds the pairs, scales and places.
        scales: Range of the pasted side, as a fraction of ``size``.
        size: Side of each composite.

    Returns:
        The composites.
    """
    if len(names) < 2:
        raise ValueError("need at least two photographs to compose")
    photos = {name: load_rgb(name) for name in names}
    rng = np.random.default_rng(seed)
    pairs = list(permutations(names, 2))
    order = rng.permutation(len(pairs))
    # Interleave so the first len(names) composites paste each sample once.
    by_object = {name: [pairs[i] for i in order if pairs[i][0] == name] for name in names}
    chosen = [by_object[name][round_] for round_ in range(len(names) - 1) for name in names][:count]
    if count > len(chosen):
        raise ValueError(f"{len(names)} photographs make at most {len(chosen)} distinct composites")
    composites = []
    for obj, background in chosen:
        image, box = compose(photos[background], photos[obj], float(rng.uniform(*scales)), rng, size)
        composites.append(Composite(f"{obj}_on_{background}", image, box, obj, background))
    return composites


def write_composites(
    folder: str | Path, composites: Sequence[Composite], labels: Sequence[str], photos: Sequence[str] = ()
) -> Path:
    """Save composites (and optionally plain photographs) as PNG files with a
    CSV of ``path,label,box``, the evaluation engine's input format.

    Args:
        folder: Where to write (created).
        composites: The composites.
        labels: Class of each pasted object (a class name, WordNet id or class id).
        photos: Sample names saved whole, with no label (the engine then
            explains the model's top-1 class) and no box.

    Returns:
        The CSV file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["path,label,box"]
    for composite, label in zip(composites, labels, strict=True):
        Image.fromarray(composite.image).save(folder / f"{composite.name}.png")
        lines.append(f"{composite.name}.png,{label},{' '.join(map(str, composite.box))}")
    for name in photos:
        Image.fromarray(load_rgb(name)).save(folder / f"{name}.png")
        lines.append(f"{name}.png,,")
    table = folder / "composites.csv"
    table.write_text("\n".join(lines) + "\n")
    return table
