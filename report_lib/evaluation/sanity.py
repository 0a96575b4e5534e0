"""Sanity checks (Adebayo et al. 2018): do the maps change when the model's
weights are replaced by random ones, block by block from the output down?"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from report_lib.methods import maps
from report_lib.models.bundle import ModelBundle
from report_lib.models.layers import layer_groups
from report_lib.models.surgery import randomized_copy

#: ``(bundle, images, class_ids) -> maps``: a method with its options fixed.
ExplainFn = Callable[[ModelBundle, np.ndarray, Sequence[int]], np.ndarray]


def cascading_randomization(
    bundle: ModelBundle, groups: Sequence[tuple[str, list[str]]] | None = None, seed: int = 0
) -> Iterator[tuple[str, ModelBundle]]:
    """Adebayo et al. (2018): randomize the layer groups one after another,
    from the output down, keeping the earlier randomizations.

    Yields:
        ``(group name, model with that group and all above it randomized)``.
    """
    groups = list(groups or layer_groups(bundle.model))
    randomized: list[str] = []
    for name, layers in groups:
        randomized.extend(layers)
        yield name, randomized_copy(bundle, randomized, seed)


def sanity_check(
    bundle: ModelBundle,
    images: np.ndarray,
    class_ids: Sequence[int],
    explainers: Mapping[str, ExplainFn],
    groups: Sequence[tuple[str, list[str]]] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict[str, list]]:
    """Cascading randomization: how similar each method's maps stay to the
    trained model's as the weights are randomized from the top down.

    Args:
        bundle: The trained model.
        images: A few images.
        class_ids: Class explained in each.
        explainers: Name -> ``(bundle, images, class_ids) -> maps`` (e.g.
            ``methods.registry.bound(method_id, **options)``).
        groups: Layer groups, top first; ``layer_groups(bundle.model)`` by default.
        seed: Seeds the random weights.
        progress: Show a progress bar.

    Returns:
        ``{method: {"groups": [...], "spearman": [...], "ssim": [...],
        "spearman_per_image": [[...], ...], "ssim_per_image": [[...], ...]}}``:
        means over the images after each randomization step, and each
        image's value (one list per step), for intervals.
    """
    reference = {name: explain(bundle, images, class_ids) for name, explain in explainers.items()}
    results = {name: {"groups": [], "spearman": [], "ssim": [], "spearman_per_image": [], "ssim_per_image": []}
               for name in explainers}
    groups = list(groups or layer_groups(bundle.model))
    steps = cascading_randomization(bundle, groups, seed)
    for group, randomized in tqdm(steps, total=len(groups), desc="randomizing", disable=not progress, leave=False):
        for name, explain in explainers.items():
            after = explain(randomized, images, class_ids)
            results[name]["groups"].append(group)
            # Spearman of absolute maps (Adebayo et al.: the sign of an attribution
            # is not compared); SSIM of maps scaled to [0, 1] (maps.ssim normalises).
            for measure, compare in (("spearman", lambda a, b: maps.spearman(np.abs(a), np.abs(b))),
                                     ("ssim", maps.ssim)):
                values = [compare(a, b) for a, b in zip(reference[name], after)]
                results[name][f"{measure}_per_image"].append(values)
                results[name][measure].append(float(np.mean(values)))
    return results
