"""Attribution maps after the method: scaling, positive part, display
clipping and comparisons between two maps.

Every method of ``methods.registry`` returns *raw* maps in its own units
(gradient magnitudes, CAM activations, probability drops). What a figure or
a metric needs from them is done here, in one place, and only where asked.
"""

from __future__ import annotations

import numpy as np

_EPSILON = 1e-7


def normalize(maps: np.ndarray) -> np.ndarray:
    """Scale each map of a batch to ``[0, 1]`` (a constant map becomes 0).

    Args:
        maps: ``(n, H, W)`` maps (any array whose first axis is the batch).

    Returns:
        float32 maps of the same shape.
    """
    maps = np.asarray(maps, dtype=np.float32)
    axes = tuple(range(1, maps.ndim))
    low = maps.min(axis=axes, keepdims=True)
    high = maps.max(axis=axes, keepdims=True)
    return (maps - low) / (high - low + _EPSILON)


def positive_part(maps: np.ndarray) -> np.ndarray:
    """Only the positive values (e.g. the probability drops of occlusion), negatives set to 0."""
    return np.maximum(np.asarray(maps, dtype=np.float32), 0.0)


def clip_percentile(maps: np.ndarray, percentile: float) -> np.ndarray:
    """Rescale each map so that its given percentile maps to 1 (values above are clipped).

    Gradient maps have a few extreme pixels that would leave the rest black.

    Args:
        maps: ``(n, H, W)`` non-negative maps.
        percentile: In ``(0, 100]``.

    Returns:
        Maps in ``[0, 1]``.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    maps = np.asarray(maps, dtype=np.float32)
    high = np.percentile(maps, percentile, axis=tuple(range(1, maps.ndim)), keepdims=True)
    return np.clip(maps / np.maximum(high, 1e-12), 0.0, 1.0)


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation between the pixels of two maps (0 when either is constant)."""
    from scipy.stats import spearmanr

    _check_same_shape(first, second)
    return float(np.nan_to_num(spearmanr(np.ravel(first), np.ravel(second)).statistic))


def ssim(first: np.ndarray, second: np.ndarray) -> float:
    """Structural similarity of two maps, each first scaled to ``[0, 1]``, so
    that maps in different units compare by their shape."""
    from skimage.metrics import structural_similarity

    _check_same_shape(first, second)
    a, b = normalize(np.asarray(first)[None])[0], normalize(np.asarray(second)[None])[0]
    return float(structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=1.0))


def peak_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Distance in pixels between the maxima of two maps."""
    _check_same_shape(first, second)
    peak_first = np.array(np.unravel_index(np.argmax(first), np.shape(first)))
    peak_second = np.array(np.unravel_index(np.argmax(second), np.shape(second)))
    return float(np.linalg.norm(peak_first - peak_second))


def compare(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """All comparisons of two maps of one image.

    Returns:
        ``{"spearman": ..., "ssim": ..., "peak_distance": ...}``.
    """
    return {"spearman": spearman(first, second), "ssim": ssim(first, second), "peak_distance": peak_distance(first, second)}


def _check_same_shape(first: np.ndarray, second: np.ndarray) -> None:
    if np.shape(first) != np.shape(second):
        raise ValueError(f"maps differ in shape: {np.shape(first)} and {np.shape(second)}")
