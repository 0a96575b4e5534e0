"""Faithfulness of attribution maps: does removing what a map calls
important hurt the prediction? Deletion and insertion curves (Petsiuk et al.
2018) and average drop / increase in confidence (Chattopadhay et al. 2018)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from report_lib.methods.occlusion import OCCLUDER_VALUE
from report_lib.models.bundle import PREDICT_BATCH, ModelBundle


def curve_auc(values: Sequence[float]) -> float:
    """Area under a curve sampled at evenly spaced points of ``[0, 1]`` (trapezoids)."""
    values = np.asarray(values, np.float64)
    if values.size < 2:
        raise ValueError("a curve needs at least two points")
    return float(np.trapezoid(values, dx=1.0 / (values.size - 1)))


def blur(image: np.ndarray, sigma: float = 10.0) -> np.ndarray:
    """A strongly blurred copy of an RGB image (the start of insertion curves)."""
    return gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0))


def curve_images(
    image: np.ndarray,
    heatmap: np.ndarray,
    mode: str = "deletion",
    steps: int = 32,
    baseline: float = OCCLUDER_VALUE,
    blur_sigma: float = 10.0,
) -> np.ndarray:
    """The images a deletion or insertion curve is measured on.

    Pixels are changed in the order the map ranks them, the same number per
    step. *Deletion* greys them out, starting from the image; *insertion*
    puts them back, starting from a blurred image.

    Args:
        image: ``(size, size, 3)`` RGB.
        heatmap: ``(size, size)`` importance map (higher = more important).
        mode: ``"deletion"`` or ``"insertion"``.
        steps: Number of steps.
        baseline: Grey value deleted pixels take.
        blur_sigma: Blur of the image insertion starts from.

    Returns:
        ``(steps + 1, size, size, 3)`` float32, from 0% to 100% of the pixels changed.
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    if heatmap.shape != image.shape[:2]:
        raise ValueError(f"heatmap {heatmap.shape} does not match image {image.shape[:2]}")
    order = np.argsort(-heatmap.ravel(), kind="stable")
    counts = np.round(np.linspace(0, order.size, steps + 1)).astype(int)
    original = image.astype(np.float32).reshape(-1, 3)
    if mode == "deletion":
        start, source = original, np.full_like(original, baseline)
    else:
        start, source = blur(image, blur_sigma).reshape(-1, 3), original
    images = np.repeat(start[None], steps + 1, axis=0)
    for row, count in zip(images, counts):
        row[order[:count]] = source[order[:count]]
    return images.reshape(steps + 1, *image.shape)


def deletion_insertion(
    bundle: ModelBundle,
    image: np.ndarray,
    class_id: int,
    heatmap: np.ndarray,
    mode: str = "deletion",
    steps: int = 32,
    batch_size: int = PREDICT_BATCH,
) -> np.ndarray:
    """Deletion or insertion curve (Petsiuk et al. 2018) on ``curve_images``:
    with a good map the class probability falls fast under deletion (low
    area) and rises fast under insertion (high area).

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` RGB.
        class_id: Class whose probability is recorded.
        heatmap: ``(size, size)`` importance map (higher = more important).
        mode: ``"deletion"`` or ``"insertion"``.
        steps: Number of steps (the curve has ``steps + 1`` points).
        batch_size: Images per forward pass.

    Returns:
        Class probabilities, ``(steps + 1,)``, from 0% to 100% of the pixels changed.
    """
    return bundle.predict(curve_images(image, heatmap, mode, steps), batch_size=batch_size)[:, class_id]


def keep_top_fraction(
    image: np.ndarray, heatmap: np.ndarray, fraction: float = 0.5, baseline: float = OCCLUDER_VALUE
) -> np.ndarray:
    """The image with all but the map's top ``fraction`` of pixels set to the grey ``baseline``."""
    threshold = np.quantile(heatmap, 1.0 - fraction)
    kept = image.astype(np.float32).copy()
    kept[heatmap < threshold] = baseline
    return kept


def average_drop_increase(
    bundle: ModelBundle, images: np.ndarray, class_ids: Sequence[int], heatmaps: np.ndarray, fraction: float = 0.5
) -> tuple[float, float]:
    """Average drop and increase in confidence (Chattopadhay et al. 2018, as
    reported by the Score-CAM paper), keeping only the map's top pixels.

    Args:
        bundle: The model.
        images: ``(n, size, size, 3)``.
        class_ids: Class per image.
        heatmaps: ``(n, size, size)`` maps.
        fraction: Share of pixels kept.

    Returns:
        ``(average_drop, increase_in_confidence)``, both in percent: the mean
        relative fall of the class probability (lower is better), and the
        share of images whose probability rose (higher is better).
    """
    class_ids = np.asarray(class_ids)
    rows = np.arange(len(images))
    full = bundle.predict(images)[rows, class_ids]
    kept = np.stack([keep_top_fraction(image, heat, fraction) for image, heat in zip(images, heatmaps)])
    masked = bundle.predict(kept)[rows, class_ids]
    drop = np.maximum(0.0, full - masked) / np.maximum(full, 1e-12)
    return float(100 * drop.mean()), float(100 * (masked > full).mean())
