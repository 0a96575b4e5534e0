"""Measuring explanations: faithfulness (deletion and insertion, average
drop), localisation (pointing game) and sanity checks (cascading weight
randomization)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import keras
import numpy as np
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from report_lib.models import PREDICT_BATCH, ModelBundle, bundle_from_model
from report_lib.occlusion import OCCLUDER_VALUE


def curve_auc(values: Sequence[float]) -> float:
    """Area under a curve sampled at evenly spaced points of ``[0, 1]`` (trapezoids)."""
    values = np.asarray(values, np.float64)
    if values.size < 2:
        raise ValueError("a curve needs at least two points")
    return float(np.trapezoid(values, dx=1.0 / (values.size - 1)))


def blur(image: np.ndarray, sigma: float = 10.0) -> np.ndarray:
    """A strongly blurred copy of an RGB image (the start of insertion curves)."""
    return gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0))


def random_map(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """The baseline explanation: uniform noise."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def curve_images(image: np.ndarray, heatmap: np.ndarray, mode: str = "deletion", steps: int = 32) -> np.ndarray:
    """The images a deletion or insertion curve is measured on.

    Pixels are changed in the order the map ranks them, the same number per
    step. *Deletion* greys them out, starting from the image; *insertion*
    puts them back, starting from a blurred image.

    Args:
        image: ``(size, size, 3)`` RGB.
        heatmap: ``(size, size)`` importance map (higher = more important).
        mode: ``"deletion"`` or ``"insertion"``.
        steps: Number of steps.

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
        start, source = original, np.full_like(original, OCCLUDER_VALUE)
    else:
        start, source = blur(image).reshape(-1, 3), original
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


def keep_top_fraction(image: np.ndarray, heatmap: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """The image with all but the map's top ``fraction`` of pixels greyed out."""
    threshold = np.quantile(heatmap, 1.0 - fraction)
    kept = image.astype(np.float32).copy()
    kept[heatmap < threshold] = OCCLUDER_VALUE
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


def pointing_game(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Whether each map's maximum falls on the object (within ``tolerance`` pixels).

    Args:
        heatmaps: ``(n, H, W)`` maps.
        masks: ``(n, H, W)`` bool, True on the object.
        tolerance: Grow the object by this many pixels (in every direction, diagonals included) first.

    Returns:
        ``(n,)`` bool hits.
    """
    from scipy.ndimage import binary_dilation

    hits = []
    for heat, mask in zip(heatmaps, masks):
        grown = binary_dilation(mask, structure=np.ones((3, 3)), iterations=tolerance) if tolerance else mask
        hits.append(bool(grown[np.unravel_index(np.argmax(heat), heat.shape)]))
    return np.array(hits)


def map_similarity(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Spearman rank correlation and SSIM between two maps, each first scaled
    to ``[0, 1]`` (so maps in other units, like occlusion's probability
    drops, compare fairly)."""
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    from report_lib.attention import normalize_maps

    reference, other = normalize_maps(reference[None])[0], normalize_maps(other[None])[0]
    correlation = spearmanr(reference.ravel(), other.ravel()).statistic
    ssim = structural_similarity(reference.astype(np.float64), other.astype(np.float64), data_range=1.0)
    return {"spearman": float(np.nan_to_num(correlation)), "ssim": float(ssim)}


def layer_groups(bundle: ModelBundle) -> list[tuple[str, list[str]]]:
    """The model's weighted layers grouped by block, from the output down.

    ``block5_conv1`` and ``block5_conv3`` form ``block5``; ``block7a_...``
    is ``block7``; other layers (``predictions``, ``fc1``, ``top_conv``,
    ``stem_conv``) are grouped by the first word of their name.

    Returns:
        ``[(group name, [layer names]), ...]``, top group first.
    """
    groups: dict[str, list[str]] = {}
    for layer in bundle.model.layers:
        if not layer.weights:
            continue
        match = re.match(r"(block\d+)", layer.name)
        key = match.group(1) if match else layer.name.split("_")[0]
        groups.setdefault(key, []).append(layer.name)
    return list(reversed(list(groups.items())))


def randomized_copy(bundle: ModelBundle, layers: Sequence[str], seed: int = 0) -> ModelBundle:
    """A copy of the model whose named layers get fresh random weights.

    Each weight tensor of those layers is replaced by Gaussian noise with the
    tensor's own standard deviation, so activations keep their scale (as a
    re-initialization would); other layers keep their trained weights.

    Args:
        bundle: The model (not modified).
        layers: Names of the layers to randomize.
        seed: Seeds the new weights.

    Returns:
        A new bundle with the same metadata.
    """
    unknown = [name for name in layers if name not in {layer.name for layer in bundle.model.layers}]
    if unknown:
        raise ValueError(f"no layers named {unknown} in {bundle.name}")
    copy = keras.models.clone_model(bundle.model)
    copy.set_weights(bundle.model.get_weights())
    rng = np.random.default_rng(seed)
    for name in layers:
        layer = copy.get_layer(name)
        layer.set_weights([rng.normal(0.0, float(w.std()) or 1e-3, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return bundle_from_model(copy, bundle.preprocess, name=bundle.name, cam_layer=bundle.cam_layer, choice=bundle.choice)


def cascading_randomization(
    bundle: ModelBundle, groups: Sequence[tuple[str, list[str]]] | None = None, seed: int = 0
) -> Iterator[tuple[str, ModelBundle]]:
    """Adebayo et al. (2018): randomize the layer groups one after another,
    from the output down, keeping the earlier randomizations.

    Yields:
        ``(group name, model with that group and all above it randomized)``.
    """
    groups = list(groups or layer_groups(bundle))
    randomized: list[str] = []
    for name, layers in groups:
        randomized.extend(layers)
        yield name, randomized_copy(bundle, randomized, seed)


@dataclass
class MethodScores:
    """One method's scores on the measures of this module (NaN when not measured)."""

    method: str
    deletion_auc: float = float("nan")
    insertion_auc: float = float("nan")
    average_drop: float = float("nan")
    increase_in_confidence: float = float("nan")
    pointing_game: float = float("nan")
    randomized_ssim: float = float("nan")


def rank_methods(scores: Sequence[MethodScores]) -> list[tuple[str, float, dict[str, int]]]:
    """Rank methods on every measure and by their mean rank (1 = best).

    Lower is better for deletion AUC, average drop and SSIM after full
    randomization (a map that survives randomization does not depend on the
    model); higher for the others. Measures that are NaN for every method are
    skipped.

    Returns:
        ``[(method, mean rank, {measure: rank}), ...]``, best first.
    """
    directions = {"deletion_auc": 1, "insertion_auc": -1, "average_drop": 1, "increase_in_confidence": -1,
                  "pointing_game": -1, "randomized_ssim": 1}
    ranks: dict[str, dict[str, int]] = {s.method: {} for s in scores}
    for measure, direction in directions.items():
        values = np.array([getattr(s, measure) for s in scores], np.float64)
        if np.isnan(values).all():
            continue
        order = np.argsort(np.where(np.isnan(values), np.inf, direction * values), kind="stable")
        for rank, index in enumerate(order, start=1):
            ranks[scores[index].method][measure] = rank
    table = [(method, float(np.mean(list(r.values()))), r) for method, r in ranks.items()]
    return sorted(table, key=lambda row: row[1])


ExplainFn = Callable[[ModelBundle, np.ndarray, Sequence[int]], np.ndarray]


def sanity_check(
    bundle: ModelBundle,
    images: np.ndarray,
    class_ids: Sequence[int],
    explainers: dict[str, ExplainFn],
    groups: Sequence[tuple[str, list[str]]] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict[str, list[float]]]:
    """Cascading randomization: how similar each method's maps stay to the
    trained model's as the weights are randomized from the top down.

    Args:
        bundle: The trained model.
        images: A few images.
        class_ids: Class explained in each.
        explainers: Method name -> function ``(bundle, images, class_ids) -> maps``.
        groups: Layer groups, top first; ``layer_groups(bundle)`` by default.
        seed: Seeds the random weights.
        progress: Show a progress bar.

    Returns:
        ``{method: {"groups": [...], "spearman": [...], "ssim": [...]}}``,
        means over the images after each randomization step.
    """
    reference = {name: explain(bundle, images, class_ids) for name, explain in explainers.items()}
    results = {name: {"groups": [], "spearman": [], "ssim": []} for name in explainers}
    groups = list(groups or layer_groups(bundle))
    steps = cascading_randomization(bundle, groups, seed)
    for group, randomized in tqdm(steps, total=len(groups), desc="randomizing", disable=not progress, leave=False):
        for name, explain in explainers.items():
            maps = explain(randomized, images, class_ids)
            similarity = [map_similarity(a, b) for a, b in zip(reference[name], maps)]
            results[name]["groups"].append(group)
            results[name]["spearman"].append(float(np.mean([s["spearman"] for s in similarity])))
            results[name]["ssim"].append(float(np.mean([s["ssim"] for s in similarity])))
    return results


def standard_explainers(
    smoothgrad_samples: int, scorecam_max_channels: int, occlusion_stride: int, seed: int = 0
) -> dict[str, ExplainFn]:
    """The course's methods as interchangeable functions ``(model, images, classes) -> maps``,
    plus a random-map baseline, so the same measurements run through all of them.

    Args:
        smoothgrad_samples: Noisy copies per SmoothGrad map.
        scorecam_max_channels: Faster-Score-CAM channel limit.
        occlusion_stride: Step of the occlusion square (its side is a seventh of the image).
        seed: Seeds SmoothGrad's noise and the random maps.

    Returns:
        Method name -> function.
    """
    from report_lib.attention import explainer_for
    from report_lib.occlusion import occlusion_side, sensitivity_map

    def occlusion(model: ModelBundle, images: np.ndarray, classes: Sequence[int]) -> np.ndarray:
        side = occlusion_side(model.input_size)
        return np.stack([sensitivity_map(model, image, int(c), patch=side, stride=occlusion_stride)
                         for image, c in zip(images, classes)])

    def random_maps(model: ModelBundle, images: np.ndarray, classes: Sequence[int]) -> np.ndarray:
        return np.stack([random_map(images.shape[1:3], seed=seed + index) for index in range(len(images))])

    return {
        "saliency": lambda model, x, c: explainer_for(model).saliency(x, c),
        "SmoothGrad": lambda model, x, c: explainer_for(model).smoothgrad(x, c, samples=smoothgrad_samples, seed=seed),
        "Grad-CAM": lambda model, x, c: explainer_for(model).gradcam(x, c),
        "Grad-CAM++": lambda model, x, c: explainer_for(model).gradcam_plus_plus(x, c),
        "Score-CAM": lambda model, x, c: explainer_for(model).scorecam(x, c, max_channels=scorecam_max_channels),
        "occlusion": occlusion,
        "random": random_maps,
    }
