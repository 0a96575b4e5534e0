"""Image occlusion: what happens to a prediction when part of the image is
hidden. Hand-made occlusion sets (boxes in a data file) and the systematic
occlusion-sensitivity map of Zeiler and Fergus (2014)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from report_lib.models.bundle import PREDICT_BATCH, ModelBundle
from report_lib.models.classes import Prediction

#: Grey used to hide regions: the middle of the pixel range.
OCCLUDER_VALUE = 127.0


@dataclass(frozen=True)
class OcclusionBox:
    """A grey rectangle over part of an image, in fractions of its size.

    Attributes:
        image: Sample name or path the box belongs to.
        top, left, bottom, right: Edges as fractions of height/width, in [0, 1].
        covers: What the box hides, in words.
        set: Which occlusion set the box belongs to.
    """

    image: str
    top: float
    left: float
    bottom: float
    right: float
    covers: str
    set: int

    def pixels(self, height: int, width: int) -> tuple[int, int, int, int]:
        """The box in pixel coordinates (top, left, bottom, right) of an image of this size."""
        return (round(self.top * height), round(self.left * width), round(self.bottom * height), round(self.right * width))


class OcclusionDataError(ValueError):
    """An entry of the occlusion data file is invalid; the message names it."""


def load_boxes(path: str | Path, known_images: set[str] | None = None) -> list[OcclusionBox]:
    """Read and check the occlusion boxes of a JSON data file.

    The file holds ``{"boxes": [{"image", "box": [top, left, bottom, right],
    "covers", "set"}, ...]}`` with box edges as fractions of the image size.

    Args:
        path: The JSON file.
        known_images: Image names that may be used; any name when ``None``.

    Returns:
        The boxes, in file order.

    Raises:
        OcclusionDataError: A box lies outside the image, is empty, or names an
            unknown image; the message says which entry.
    """
    entries = json.loads(Path(path).read_text())["boxes"]
    boxes = []
    for number, entry in enumerate(entries, start=1):
        where = f"entry {number} ({entry.get('image', '?')}: {entry.get('covers', '?')})"
        if known_images is not None and entry.get("image") not in known_images:
            raise OcclusionDataError(f"{where}: unknown image {entry.get('image')!r}; known: {sorted(known_images)}")
        try:
            top, left, bottom, right = (float(v) for v in entry["box"])
        except (KeyError, TypeError, ValueError):
            raise OcclusionDataError(f"{where}: 'box' must be [top, left, bottom, right]") from None
        if min(top, left, bottom, right) < 0 or max(top, left, bottom, right) > 1:
            raise OcclusionDataError(f"{where}: box {entry['box']} lies outside the image (edges must be in [0, 1])")
        if bottom <= top or right <= left:
            raise OcclusionDataError(f"{where}: box {entry['box']} is empty (bottom must exceed top, right exceed left)")
        boxes.append(OcclusionBox(entry["image"], top, left, bottom, right, entry.get("covers", ""), int(entry.get("set", 1))))
    return boxes


def occlude(image: np.ndarray, boxes: list[OcclusionBox], value: float = OCCLUDER_VALUE) -> np.ndarray:
    """A copy of an image with grey rectangles over the given boxes.

    Args:
        image: ``(H, W, 3)`` uint8.
        boxes: Boxes in fractions of the image size.
        value: Grey level of the rectangles.

    Returns:
        The occluded copy.
    """
    occluded = image.copy()
    for box in boxes:
        top, left, bottom, right = box.pixels(*image.shape[:2])
        occluded[top:bottom, left:right] = value
    return occluded


def hidden_fraction(boxes: list[OcclusionBox], size: int = 224) -> float:
    """Fraction of an image that a list of boxes hides (overlaps counted once).

    Args:
        boxes: Boxes in fractions of the image size (one image's boxes of one set).
        size: Side of the square grid on which the union is measured.

    Returns:
        The hidden fraction of the image area, in [0, 1].
    """
    mask = np.zeros((size, size), bool)
    for box in boxes:
        top, left, bottom, right = box.pixels(size, size)
        mask[top:bottom, left:right] = True
    return float(mask.mean())


def occlusion_side(image_size: int) -> int:
    """The side of the sliding square when none is chosen: a seventh of the
    image (32 px at 224 px), at least 4 px."""
    return max(4, image_size // 7)


def patch_positions(size: int, patch: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners ``(top, left)`` of a ``patch``-sided square slid over a
    ``size``-sided image every ``stride`` pixels, row by row."""
    return [(top, left) for top in range(0, size - patch + 1, stride) for left in range(0, size - patch + 1, stride)]


def occluded_copies(image: np.ndarray, positions: Sequence[tuple[int, int]], patch: int) -> np.ndarray:
    """One float copy of the image per position, with a grey square at that position.

    Args:
        image: ``(H, W, 3)`` RGB.
        positions: Top-left corners (``patch_positions``).
        patch: Side of the square.

    Returns:
        ``(len(positions), H, W, 3)`` float32.
    """
    copies = np.repeat(image[None].astype(np.float32), len(positions), axis=0)
    for copy, (top, left) in zip(copies, positions):
        copy[top : top + patch, left : left + patch] = OCCLUDER_VALUE
    return copies


def sensitivity_map(
    bundle: ModelBundle,
    image: np.ndarray,
    class_id: int,
    patch: int = 32,
    stride: int = 8,
    batch_size: int = PREDICT_BATCH,
    progress: bool = False,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler and Fergus 2014): slide a grey patch over
    the image and record how much the class probability drops at each place.

    Occluded copies go through the model ``batch_size`` at a time.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` RGB in ``[0, 255]``.
        class_id: The class whose probability is watched.
        patch: Side of the grey patch, in pixels.
        stride: Step between patch positions, in pixels.
        batch_size: Occluded copies per forward pass (bounds the memory).
        progress: Show a progress bar.

    Returns:
        ``(size, size)`` map: the mean probability drop over the patches
        covering each pixel (positive = hiding it hurts the class).
    """
    size = image.shape[0]
    if image.shape != (size, size, 3) or size != bundle.input_size:
        raise ValueError(f"expected an image of shape ({bundle.input_size}, {bundle.input_size}, 3), got {image.shape}")
    if not 1 <= patch <= size or stride < 1:
        raise ValueError(f"patch must be in [1, {size}] and stride >= 1; got patch={patch}, stride={stride}")
    positions = patch_positions(size, patch, stride)
    baseline = float(bundle.predict(image[None])[0, class_id])
    drops = np.zeros(len(positions), np.float32)
    # Copies are made a batch at a time: all of them at once would take 375 MB at stride 8.
    for start in tqdm(range(0, len(positions), batch_size), desc="occlusion", disable=not progress, leave=False):
        chunk = positions[start : start + batch_size]
        copies = occluded_copies(image, chunk, patch)
        drops[start : start + len(chunk)] = baseline - bundle.predict(copies, batch_size=len(chunk))[:, class_id]
    total = np.zeros((size, size), np.float32)
    count = np.zeros((size, size), np.float32)
    for drop, (top, left) in zip(drops, positions):
        total[top : top + patch, left : left + patch] += drop
        count[top : top + patch, left : left + patch] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def occlusion_maps(
    bundle: ModelBundle,
    images: np.ndarray,
    class_ids: Sequence[int],
    patch: int | None = None,
    stride: int = 8,
    progress: bool = False,
) -> np.ndarray:
    """Occlusion sensitivity maps of a batch (:func:`sensitivity_map` per image).

    Args:
        bundle: The model.
        images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
        class_ids: The class watched in each image.
        patch: Side of the grey square; a seventh of the image when ``None``.
        stride: Step between square positions, in pixels.
        progress: Show a progress bar per image.

    Returns:
        ``(n, size, size)`` mean probability drops (raw, signed).
    """
    side = occlusion_side(bundle.input_size) if patch is None else patch
    return np.stack([sensitivity_map(bundle, image, int(class_id), patch=side, stride=stride, progress=progress)
                     for image, class_id in zip(images, class_ids)])


@dataclass
class OccludedSet:
    """One hand-made occlusion set applied to the sample images.

    Attributes:
        number: The set's number in the data file.
        images: ``(n, size, size, 3)`` the images with the set's boxes greyed out.
        predictions: Top classes of each occluded image.
        before: ``(n,)`` probability of each image's original top-1 class.
        after: ``(n,)`` probability of the same class once occluded.
    """

    number: int
    images: np.ndarray
    predictions: list[list[Prediction]]
    before: np.ndarray
    after: np.ndarray


def apply_set(
    bundle: ModelBundle,
    images: np.ndarray,
    names: Sequence[str],
    originals: Sequence[Sequence[Prediction]],
    boxes: list[OcclusionBox],
    number: int,
) -> OccludedSet:
    """Grey out one set's boxes on each image and predict again.

    Args:
        bundle: The model.
        images: ``(n, size, size, 3)`` RGB images.
        names: Sample name of each image (boxes are matched by it).
        originals: Top classes of the unoccluded images; the top 1 is the class watched.
        boxes: All boxes of the data file (``load_boxes``).
        number: The set to apply.

    Returns:
        The occluded images, their predictions and the watched probabilities.
    """
    if number not in {box.set for box in boxes}:
        raise ValueError(f"no occlusion set {number}; the file has sets {sorted({box.set for box in boxes})}")
    occluded = np.stack([occlude(image, [b for b in boxes if b.set == number and b.image == name])
                         for image, name in zip(images, names)])
    watched = np.array([ranked[0].index for ranked in originals])
    probabilities = bundle.predict(occluded)
    return OccludedSet(number, occluded, bundle.decode(probabilities),
                       np.array([ranked[0].probability for ranked in originals]),
                       probabilities[np.arange(len(watched)), watched])
