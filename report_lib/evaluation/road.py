"""ROAD: RemOve And Debias (Rong et al. 2022, "A Consistent and Efficient
Evaluation Strategy for Attribution Methods", ICML).

Deletion curves grey pixels out; the grey pattern itself tells the model
which pixels were removed (the shape of the mask leaks the explanation), so
a map can score well for where it removes, not for what. ROAD fills removed
pixels by *noisy linear imputation* instead: each removed pixel becomes the
weighted mean of its 8 neighbours (1/6 for the 4 direct ones, 1/12 for the
diagonals), solved jointly as one sparse linear system with the kept pixels
fixed, plus a little Gaussian noise. The result is smooth where pixels were
removed and carries little trace of the mask.

Conventions here:

- ``fraction`` is always the fraction of pixels *removed*: MoRF (most
  relevant first) removes the map's highest pixels, LeRF (least relevant
  first) its lowest. (The reference code's LeRF percentage counts kept
  pixels instead.) A good map makes the class probability fall fast under
  MoRF and stay high under LeRF.
- ``noise`` is the standard deviation in units of the image's value range
  (``scale``): 0.01 as in the authors' code, which imputes images in [0, 1]
  before normalisation (pytorch-grad-cam applies the same 0.01 after
  ImageNet normalisation, about 0.0023 in [0, 1] units). Imputed values are
  not clipped, as in the reference.
- Ties in the map are broken at random (seeded), so a flat map removes
  random pixels rather than the top rows.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu

ORDERS = ("morf", "lerf")
DEFAULT_NOISE = 0.01
DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

# (row offset, column offset, weight) of the 8 neighbours, as in the paper.
NEIGHBOUR_WEIGHTS = (
    (-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
    (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12),
)

PredictFn = Callable[[np.ndarray], np.ndarray]
Seed = int | np.random.SeedSequence


def noisy_linear_imputation(
    image: np.ndarray,
    removed_mask: np.ndarray,
    noise: float = DEFAULT_NOISE,
    seed: Seed = 0,
    scale: float = 255.0,
) -> np.ndarray:
    """Fill removed pixels with the weighted mean of their neighbours, plus noise.

    Solves ``A x = b`` for all removed pixels at once: one equation per
    removed pixel, ``sum_j w_j (x_i - v_j) = 0`` over its in-image
    neighbours ``j``, where ``v_j`` is a kept pixel's value or another
    unknown. At the image border the weights of the missing neighbours are
    dropped, so a pixel is still the weighted mean of the neighbours it has.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` image (any numeric dtype).
        removed_mask: ``(H, W)`` boolean, True where a pixel is removed.
        noise: Standard deviation of the Gaussian noise added to the imputed
            pixels, as a fraction of ``scale``; 0 for none.
        seed: Seeds the noise.
        scale: The image's value range (255 for 0..255 images, 1 for [0, 1]).

    Returns:
        float32 image of the input's shape; kept pixels are unchanged.
    """
    values = np.asarray(image, np.float64)
    flat_image = values.reshape(values.shape[0], values.shape[1], -1)
    height, width, channels = flat_image.shape
    removed = np.asarray(removed_mask, bool)
    if removed.shape != (height, width):
        raise ValueError(f"removed_mask {removed.shape} does not match image {(height, width)}")
    result = flat_image.astype(np.float32)
    count = int(removed.sum())
    if count == 0:
        return result.reshape(values.shape)
    if count == removed.size:
        raise ValueError("every pixel is removed: there is nothing to impute from (keep at least one)")

    rows, cols = np.nonzero(removed)
    # Unknown number of each removed pixel; -1 for kept ones.
    unknown = np.full((height, width), -1, np.int64)
    unknown[rows, cols] = np.arange(count)
    pixels = flat_image.reshape(-1, channels)

    diagonal = np.zeros(count)
    rhs = np.zeros((count, channels))
    a_rows, a_cols, a_data = [], [], []
    for dr, dc, weight in NEIGHBOUR_WEIGHTS:  # 8 vectorised passes, not one per pixel
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        equation = np.flatnonzero(inside)
        r, c = r[inside], c[inside]
        diagonal[equation] += weight
        neighbour = unknown[r, c]
        is_unknown = neighbour >= 0
        a_rows.append(equation[is_unknown])
        a_cols.append(neighbour[is_unknown])
        a_data.append(np.full(int(is_unknown.sum()), -weight))
        known = ~is_unknown
        # Each equation meets each offset once, so this fancy-index add is safe.
        rhs[equation[known]] += weight * pixels[r[known] * width + c[known]]

    index = np.arange(count)
    row_index = np.concatenate([index, *a_rows])
    col_index = np.concatenate([index, *a_cols])
    data = np.concatenate([diagonal, *a_data])
    matrix = coo_matrix((data, (row_index, col_index)), shape=(count, count)).tocsc()
    # One factorisation serves all channels. Every connected region of removed
    # pixels touches a kept pixel, so the matrix is a non-singular M-matrix.
    solution = splu(matrix).solve(rhs)
    if noise:
        solution = solution + np.random.default_rng(seed).normal(0.0, noise * scale, size=solution.shape)
    result[rows, cols] = solution.astype(np.float32)
    return result.reshape(values.shape)


def removal_order(heatmap: np.ndarray, order: str = "morf", seed: Seed = 0) -> np.ndarray:
    """Flat pixel indices in the order ROAD removes them.

    Args:
        heatmap: ``(H, W)`` map, higher = more relevant.
        order: ``"morf"`` (highest first) or ``"lerf"`` (lowest first).
        seed: Seeds the random tie-break.

    Returns:
        ``(H * W,)`` int64 indices into the flattened map.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    flat = np.asarray(heatmap, np.float64).ravel()
    if not np.isfinite(flat).all():
        raise ValueError("the heatmap contains NaN or infinity")
    tie_break = np.random.default_rng(seed).random(flat.size)
    key = -flat if order == "morf" else flat
    return np.lexsort((tie_break, key))  # last key sorts first


def road_images(
    image: np.ndarray,
    heatmap: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    order: str = "morf",
    noise: float = DEFAULT_NOISE,
    seed: Seed = 0,
    scale: float = 255.0,
) -> np.ndarray:
    """The image with the given fractions of its pixels removed and imputed.

    Args:
        image: ``(H, W, C)`` image.
        heatmap: ``(H, W)`` map, higher = more relevant.
        fractions: Fractions of pixels removed, each in ``[0, 1)``.
        order: ``"morf"`` or ``"lerf"``.
        noise: Imputation noise, as a fraction of ``scale``.
        seed: Seeds the tie-break and the noise of every fraction.
        scale: The image's value range.

    Returns:
        ``(len(fractions), H, W, C)`` float32.
    """
    image = np.asarray(image)
    if np.shape(heatmap) != image.shape[:2]:
        raise ValueError(f"heatmap {np.shape(heatmap)} does not match image {image.shape[:2]}")
    fractions = np.asarray(fractions, np.float64)
    if fractions.ndim != 1 or ((fractions < 0) | (fractions >= 1)).any():
        raise ValueError(f"fractions must be a list of numbers in [0, 1); got {fractions.tolist()}")
    order_seed, *noise_seeds = _fresh(seed).spawn(len(fractions) + 1)
    ranking = removal_order(heatmap, order, order_seed)
    pixels = ranking.size
    out = np.empty((len(fractions), *image.shape), np.float32)
    for k, (fraction, noise_seed) in enumerate(zip(fractions, noise_seeds)):
        removed = np.zeros(pixels, bool)
        removed[ranking[: int(round(fraction * pixels))]] = True
        out[k] = noisy_linear_imputation(image, removed.reshape(image.shape[:2]), noise, noise_seed, scale)
    return out


def _fresh(seed: Seed) -> np.random.SeedSequence:
    # A copy, so spawning children does not change the caller's SeedSequence
    # and the same seed always gives the same images.
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
    return np.random.SeedSequence(seed)


def road_scores(
    predict_fn: PredictFn,
    images: np.ndarray,
    class_ids: Sequence[int],
    heatmaps: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    order: str = "morf",
    noise: float = DEFAULT_NOISE,
    seed: int = 0,
    scale: float = 255.0,
) -> np.ndarray:
    """Class probability of every image after ROAD removal at every fraction.

    One forward pass per image covers all its fractions, so memory holds
    ``len(fractions)`` images at a time whatever the number of images.

    Args:
        predict_fn: ``(batch, H, W, C) -> (batch, classes)`` probabilities.
        images: ``(n, H, W, C)`` images.
        class_ids: The class scored for each image.
        heatmaps: ``(n, H, W)`` maps.
        fractions: Fractions of pixels removed.
        order: ``"morf"`` or ``"lerf"``.
        noise: Imputation noise, as a fraction of ``scale``.
        seed: Seeds every image's removal (image ``i`` gets its own stream).
        scale: The images' value range.

    Returns:
        ``(n, len(fractions))`` float32 probabilities.
    """
    if not len(images) == len(class_ids) == len(heatmaps):
        raise ValueError(f"got {len(images)} images, {len(class_ids)} classes and {len(heatmaps)} maps")
    streams = np.random.SeedSequence(seed).spawn(len(images))
    scores = np.empty((len(images), len(fractions)), np.float32)
    for i, (image, class_id, heatmap, stream) in enumerate(zip(images, class_ids, heatmaps, streams)):
        batch = road_images(image, heatmap, fractions, order, noise, stream, scale)
        scores[i] = np.asarray(predict_fn(batch))[:, int(class_id)]
    return scores
