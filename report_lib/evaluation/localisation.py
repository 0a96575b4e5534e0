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
