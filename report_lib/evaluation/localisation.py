"""Localisation of attribution maps: does a map's peak fall on the object
(the pointing game)?"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation


def pointing_game(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Whether each map's maximum falls on the object (within ``tolerance`` pixels).

    Args:
        heatmaps: ``(n, H, W)`` maps.
        masks: ``(n, H, W)`` bool, True on the object.
        tolerance: Grow the object by this many pixels (in every direction, diagonals included) first.

    Returns:
        ``(n,)`` bool hits.
    """
    hits = []
    for heat, mask in zip(heatmaps, masks):
        grown = binary_dilation(mask, structure=np.ones((3, 3)), iterations=tolerance) if tolerance else mask
        hits.append(bool(grown[np.unravel_index(np.argmax(heat), heat.shape)]))
    return np.array(hits)


def box_share(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Fraction of each map's positive mass that lies on the object (energy-based pointing game).

    Unlike the pointing game, which looks only at the peak, this says how much
    of the map falls on the object: 1 is all of it, the object's area fraction
    is what a uniform map would score.

    Args:
        heatmaps: ``(n, H, W)`` maps; negative values count as zero.
        masks: ``(n, H, W)`` bool, True on the object.

    Returns:
        ``(n,)`` shares in [0, 1] (0 for an all-zero map).
    """
    positive = np.clip(np.asarray(heatmaps, np.float64), 0, None)
    total = positive.sum(axis=(1, 2))
    inside = (positive * masks).sum(axis=(1, 2))
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)
