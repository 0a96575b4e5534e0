"""Two-object images made offline from the sample photographs, with the box of
every object known exactly (a ground truth for class-discriminative maps).

``compose`` pastes object pictures into boxes on a backdrop; ``COMPOSITES``
names a few recipes (the cat beside the espresso cup, two cats, ...) and
``make_composite`` builds one at the model's input size. Importing this module
does not start TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from report_lib.data.images import resize_rgb
from report_lib.data.samples import SAMPLES

#: A box as (top, left, bottom, right): fractions of the image in recipes,
#: pixels (bottom and right exclusive) in what ``compose`` returns.
Box = tuple[float, float, float, float]
PixelBox = tuple[int, int, int, int]

#: The neutral backdrop: the middle of the pixel range, as the occluders use.
GREY = 127


def pixel_box(box: Box, size: int) -> PixelBox:
    """A box in fractions as pixels of a ``size`` x ``size`` image.

    Args:
        box: (top, left, bottom, right) in [0, 1].
        size: Side of the image.

    Returns:
        (top, left, bottom, right) in pixels, bottom and right exclusive.
    """
    top, left, bottom, right = box
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f"a box must satisfy 0 <= top < bottom <= 1 and 0 <= left < right <= 1, got {box}")
    return round(top * size), round(left * size), round(bottom * size), round(right * size)


def crop_fraction(image: np.ndarray, box: Box) -> np.ndarray:
    """Cut the part of an image given in fractions (top, left, bottom, right)."""
    top, left, bottom, right = box
    height, width = image.shape[:2]
    return image[round(top * height) : round(bottom * height), round(left * width) : round(right * width)]


def compose(
    backdrop: np.ndarray | None, objects: Sequence[tuple[np.ndarray, Box]], size: int
) -> tuple[np.ndarray, list[PixelBox]]:
    """Paste object pictures into boxes on a backdrop.

    Each object picture is resized to fill its box exactly (crop it to the
    box's aspect ratio first to avoid distortion); later objects cover earlier
    ones where boxes overlap.

    Args:
        backdrop: ``(H, W, 3)`` uint8 picture resized to the output, or ``None`` for plain grey.
        objects: (picture, box) pairs, the box as fractions (top, left, bottom, right).
        size: Side of the square output.

    Returns:
        The ``(size, size, 3)`` uint8 image and each object's box in pixels.
    """
    canvas = np.full((size, size, 3), GREY, np.uint8) if backdrop is None else resize_rgb(backdrop, size).copy()
    boxes = []
    for picture, box in objects:
        top, left, bottom, right = pixel_box(box, size)
        canvas[top:bottom, left:right] = resize_rgb(np.asarray(picture, np.uint8), (bottom - top, right - left))
        boxes.append((top, left, bottom, right))
    return canvas, boxes


def box_mask(box: PixelBox, size: int) -> np.ndarray:
    """``(size, size)`` bool mask, True inside the pixel box."""
    mask = np.zeros((size, size), bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    return mask


@dataclass(frozen=True)
class Piece:
    """One object of a recipe: a part of a sample photograph and where it goes.

    Attributes:
        sample: Name in ``data.samples.SAMPLES``.
        crop: The part of the photograph used, fractions (top, left, bottom, right).
        box: Where it goes in the composite, fractions.
        mirror: Flip it left-right (a second, different-looking instance).
    """

    sample: str
    crop: Box
    box: Box
    mirror: bool = False


@dataclass(frozen=True)
class Composite:
    """A composed image with its objects' boxes.

    Attributes:
        name: The recipe's name.
        image: ``(size, size, 3)`` uint8.
        samples: The sample each object comes from, in order.
        boxes: Each object's box in pixels (top, left, bottom, right; bottom and right exclusive).
        alone: ``(k, size, size, 3)``: for each object, the composite with only
            that object (the others greyed out): its class and the effect of
            hiding the others.
    """

    name: str
    image: np.ndarray
    samples: tuple[str, ...]
    boxes: tuple[PixelBox, ...]
    alone: np.ndarray


# Crops keep each object's aspect roughly equal to its box's (tall halves of a
# square), so nothing is visibly squashed. Left half / right half leave a grey
# margin above and below, so each object sits alone in its box.
_LEFT, _RIGHT = (0.14, 0.0, 0.86, 0.5), (0.14, 0.5, 0.86, 1.0)
_CAT_FACE = (0.0, 0.25, 1.0, 0.8)  # chelsea, 300 x 451: the cat's head and chest
_CUP = (0.0, 0.18, 1.0, 0.82)  # coffee, 400 x 600: cup and saucer
_BIKE = (0.05, 0.0, 1.0, 1.0)  # stereo_motorcycle left view: the whole motorcycle
_UNIFORM = (0.15, 0.1, 1.0, 0.9)  # grace_hopper: cap, face and uniform

#: Named two-object recipes. The first three put two classes side by side (Grad-CAM
#: for each should light its own box); ``two_cats`` has one class twice.
COMPOSITES: dict[str, tuple[Piece, ...]] = {
    "cat_and_coffee": (Piece("chelsea", _CAT_FACE, _LEFT), Piece("coffee", _CUP, _RIGHT)),
    "coffee_and_cat": (Piece("coffee", _CUP, _LEFT), Piece("chelsea", _CAT_FACE, _RIGHT)),
    "cat_and_motorcycle": (Piece("chelsea", _CAT_FACE, _LEFT), Piece("motorcycle", _BIKE, _RIGHT)),
    "uniform_and_coffee": (Piece("grace_hopper", _UNIFORM, _LEFT), Piece("coffee", _CUP, _RIGHT)),
    "motorcycle_and_coffee": (Piece("motorcycle", _BIKE, _LEFT), Piece("coffee", _CUP, _RIGHT)),
    "two_cats": (Piece("chelsea", _CAT_FACE, _LEFT), Piece("chelsea", _CAT_FACE, _RIGHT, mirror=True)),
}


def make_composite(name: str, size: int = 224) -> Composite:
    """Build a named recipe of ``COMPOSITES`` on a grey backdrop.

    Args:
        name: The recipe.
        size: Side of the image (the model's input size).

    Returns:
        The composite, its boxes and each object alone.
    """
    if name not in COMPOSITES:
        raise KeyError(f"unknown composite {name!r}; known: {', '.join(COMPOSITES)}")
    pictures = []
    for piece in COMPOSITES[name]:
        picture = crop_fraction(SAMPLES[piece.sample].load(), piece.crop)
        pictures.append(picture[:, ::-1] if piece.mirror else picture)
    placed = [(np.ascontiguousarray(p), piece.box) for p, piece in zip(pictures, COMPOSITES[name])]
    image, boxes = compose(None, placed, size)
    alone = np.stack([compose(None, [one], size)[0] for one in placed])
    return Composite(name, image, tuple(p.sample for p in COMPOSITES[name]), tuple(boxes), alone)
