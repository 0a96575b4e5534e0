"""The one registry of attribution methods.

Every method, occlusion and the random baseline included, is one record
with one calling convention (after captum's common ``attribute`` signature)::

    raw = explain("gradcam", bundle, images, class_ids, layer="block5_conv3")

Methods return *raw* maps, ``(n, size, size)`` in their own units (gradient
magnitudes, CAM activations, probability drops); scaling for a figure is a
separate step (:meth:`Method.for_display`, ``methods.maps``). Code uses the
ids (``"gradcam"``); titles (``"Grad-CAM"``) are for what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from report_lib.config import Profile
from report_lib.methods import maps
from report_lib.methods.attention import explainer_for
from report_lib.methods.occlusion import occlusion_maps
from report_lib.models.bundle import ModelBundle

ExplainFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class MapStyle:
    """How a method's maps are drawn.

    Attributes:
        cmap: Matplotlib colormap.
        overlay: Blend over the image (else drawn alone).
        clip_percentile: Values above this percentile of each map show at full
            brightness (gradient maps have a few extreme pixels); ``None``: no clipping.
        positive_only: Draw only positive values (occlusion's drops; a rise
            in probability is not evidence).
        unit: What the raw values measure (for colour bars and captions).
    """

    cmap: str = "jet"
    overlay: bool = True
    clip_percentile: float | None = None
    positive_only: bool = False
    unit: str = "relative importance"


@dataclass(frozen=True)
class Method:
    """An attribution method.

    Attributes:
        id: Used in code and parameters (``"gradcam_plus_plus"``).
        title: Used in figures and tables (``"Grad-CAM++"``; generic
            words such as ``"saliency"`` stay lower case).
        uses_layer: Whether it is computed at a layer (the CAM methods).
        profile_options: Options a profile sets (see :func:`method_options`).
        compute: ``(bundle, images, class_ids, **options) -> raw maps``.
        style: How its maps are drawn.
    """

    id: str
    title: str
    uses_layer: bool
    profile_options: tuple[str, ...]
    compute: ExplainFn
    style: MapStyle = MapStyle()

    def __call__(self, bundle: ModelBundle, images: np.ndarray, class_ids: int | Sequence[int], **options) -> np.ndarray:
        """Raw maps of ``images`` for ``class_ids`` (one per image, or one for all)."""
        if "layer" in options and not self.uses_layer:
            raise ValueError(f"{self.title} does not use a layer; only {[m.id for m in METHODS.values() if m.uses_layer]} do")
        return self.compute(bundle, np.asarray(images), class_ids, **options)

    def for_display(self, raw: np.ndarray) -> np.ndarray:
        """Raw maps scaled to ``[0, 1]`` the way this method is always drawn.

        Args:
            raw: ``(n, H, W)`` maps from this method.

        Returns:
            ``(n, H, W)`` maps in ``[0, 1]``.
        """
        shown = maps.normalize(maps.positive_part(raw) if self.style.positive_only else raw)
        if self.style.clip_percentile is not None:
            shown = maps.clip_percentile(shown, self.style.clip_percentile)
        return shown


def _per_image_ids(class_ids: int | Sequence[int], count: int) -> np.ndarray:
    ids = np.atleast_1d(np.asarray(class_ids, dtype=int))
    return np.repeat(ids, count) if ids.size == 1 and count > 1 else ids


def _saliency(bundle, images, class_ids):
    return explainer_for(bundle).saliency(images, class_ids)


def _smoothgrad(bundle, images, class_ids, samples=32, noise_level=0.2, seed=0, batch_size=16, progress=False):
    return explainer_for(bundle).smoothgrad(images, class_ids, samples=samples, noise_level=noise_level, seed=seed,
                                            batch_size=batch_size, progress=progress)


def _gradcam(bundle, images, class_ids, layer=None, upsample=True):
    return explainer_for(bundle, layer).gradcam(images, class_ids, upsample=upsample)


def _gradcam_plus_plus(bundle, images, class_ids, layer=None, upsample=True):
    return explainer_for(bundle, layer).gradcam_plus_plus(images, class_ids, upsample=upsample)


def _scorecam(bundle, images, class_ids, layer=None, max_channels=128, batch_size=32, upsample=True, progress=False):
    return explainer_for(bundle, layer).scorecam(images, class_ids, max_channels=max_channels, batch_size=batch_size,
                                                 upsample=upsample, progress=progress)


def _occlusion(bundle, images, class_ids, patch=None, stride=8, progress=False):
    return occlusion_maps(bundle, images, _per_image_ids(class_ids, len(images)), patch=patch, stride=stride,
                          progress=progress)


def random_map(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """The baseline explanation: uniform noise."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _random(bundle, images, class_ids, seed=0):
    return np.stack([random_map(images.shape[1:3], seed=seed + index) for index in range(len(images))])


_GRADIENT_STYLE = MapStyle(cmap="gray", overlay=False, clip_percentile=99.5, unit="gradient magnitude")
_CAM_STYLE = MapStyle(unit="relative importance")

#: Every method, in the order the course presents them.
METHODS: dict[str, Method] = {
    method.id: method
    for method in (
        Method("saliency", "saliency", False, (), _saliency, _GRADIENT_STYLE),
        Method("smoothgrad", "SmoothGrad", False, ("samples", "seed"), _smoothgrad, _GRADIENT_STYLE),
        Method("gradcam", "Grad-CAM", True, (), _gradcam, _CAM_STYLE),
        Method("gradcam_plus_plus", "Grad-CAM++", True, (), _gradcam_plus_plus, _CAM_STYLE),
        Method("scorecam", "Score-CAM", True, ("max_channels",), _scorecam, _CAM_STYLE),
        Method("occlusion", "occlusion", False, ("stride",), _occlusion,
               MapStyle(positive_only=True, unit="probability drop")),
        Method("random", "random", False, ("seed",), _random, MapStyle(unit="uniform noise")),
    )
}
#: The methods that explain (every method but the random baseline).
ATTRIBUTION_METHODS = tuple(name for name in METHODS if name != "random")


def get_method(method_id: str) -> Method:
    """A method by id, with the valid ids in the error."""
    try:
        return METHODS[method_id]
    except KeyError:
        raise ValueError(f"unknown method {method_id!r}; choose one of {list(METHODS)}") from None


def explain(method_id: str, bundle: ModelBundle, images: np.ndarray, class_ids: int | Sequence[int], **options) -> np.ndarray:
    """Raw maps of a method, by id.

    Args:
        method_id: A key of ``METHODS``.
        bundle: The model.
        images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
        class_ids: One class per image, or one for all.
        **options: The method's options (``layer``, ``samples``, ``stride``, ...).

    Returns:
        ``(n, size, size)`` raw maps.
    """
    return get_method(method_id)(bundle, images, class_ids, **options)


def bound(method_id: str, **options) -> Callable[[ModelBundle, np.ndarray, Sequence[int]], np.ndarray]:
    """A method with its options fixed: ``(bundle, images, class_ids) -> raw maps``,
    for code that runs the same methods on many models (the sanity check).

    Args:
        method_id: A key of ``METHODS``.
        **options: The method's options.

    Returns:
        The function.
    """
    method = get_method(method_id)
    return lambda bundle, images, class_ids: method(bundle, images, class_ids, **options)


def method_options(method_id: str, profile: Profile, seed: int = 0) -> dict[str, object]:
    """The options a profile sets for a method (how many SmoothGrad samples,
    Score-CAM channels, the occlusion stride) and its seed.

    Args:
        method_id: A key of ``METHODS``.
        profile: The profile.
        seed: Seed of the methods that draw random numbers.

    Returns:
        Keyword arguments for :func:`explain`.
    """
    available = {"samples": profile.smoothgrad_samples, "max_channels": profile.scorecam_max_channels,
                 "stride": profile.occlusion_stride, "seed": seed}
    return {name: available[name] for name in get_method(method_id).profile_options}


def method_title(method_id: str) -> str:
    """The title of a method (``"Grad-CAM++"``), for figures and tables."""
    return get_method(method_id).title
