"""What the explorer computes: one image, one model, one class, any method.

Plain functions, used both by the widgets (``course.widgets``) and by the
static figures that stand in for them when no one can click (papermill,
nbval, the HTML report).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.figure
import numpy as np

from report_lib.config import Profile
from report_lib.course.plotting import Panel, method_panel, plot_explanation
from report_lib.methods.registry import ATTRIBUTION_METHODS, explain, get_method, method_options
from report_lib.models.bundle import ModelBundle
from report_lib.models.classes import Prediction, UnknownClassError

#: The methods the explorer offers, in the order of the course.
EXPLORER_METHODS: tuple[str, ...] = ATTRIBUTION_METHODS
#: Occlusion in the widgets slides its square at least this far per step: a
#: quarter of the forward passes of the report's 8 px (VGG16 on 2 CPU cores:
#: about 10 s instead of 40 s).
INTERACTIVE_OCCLUSION_STRIDE = 16


def class_choices(bundle: ModelBundle) -> list[str]:
    """One searchable label per class, ``"Egyptian cat (285)"``, in class order."""
    return [f"{name.replace('_', ' ')} ({index})" for index, name in enumerate(bundle.class_names)]


def parse_class_choice(text: str, bundle: ModelBundle) -> int:
    """The class id a user typed or picked.

    Args:
        text: A label from ``class_choices``, a class id, or a (part of a)
            class name that matches exactly one class.
        bundle: The model.

    Returns:
        The class id.

    Raises:
        UnknownClassError: Nothing, or more than one class, matches, or the id is out of range.
    """
    text = text.strip()
    choices = class_choices(bundle)
    if text in choices:
        return choices.index(text)
    if text.isdigit():
        if int(text) < len(choices):
            return int(text)
        raise UnknownClassError(f"class id {text} is out of range: the model has {len(choices)} classes")
    return bundle.find_class(text)


def explain_for_display(
    bundle: ModelBundle,
    image: np.ndarray,
    class_id: int,
    method: str,
    profile: Profile,
    layer: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """One attribution map, scaled the way its method is always drawn.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` RGB in ``[0, 255]`` at the model's input size.
        class_id: The class to explain.
        method: A method id (``methods.registry.METHODS``).
        profile: Sets SmoothGrad's samples, Score-CAM's channels, occlusion's stride.
        layer: CAM layer, for the methods that use one; ``bundle.cam_layer`` when ``None``.
        seed: Seed of SmoothGrad's noise.

    Returns:
        ``(size, size)`` map in ``[0, 1]`` (``Method.for_display``).
    """
    raw = _raw_map(bundle, image, class_id, method, profile, layer, seed)
    return get_method(method).for_display(raw[None])[0]


def _raw_map(bundle: ModelBundle, image: np.ndarray, class_id: int, method: str, profile: Profile,
             layer: str | None, seed: int) -> np.ndarray:
    options = method_options(method, profile, seed)
    if layer is not None:
        options["layer"] = layer
    return explain(method, bundle, image[None], class_id, **options)[0]


def _panel(bundle: ModelBundle, image: np.ndarray, class_id: int, method: str, profile: Profile,
           layer: str | None, seed: int) -> Panel:
    """One method's panel. Maps are scaled to [0, 1] for display, which hides
    how much occlusion changes the probability, so its title says it."""
    spec = get_method(method)
    layer = layer if spec.uses_layer else None
    raw = _raw_map(bundle, image, class_id, method, profile, layer, seed)
    if method == "occlusion":
        title = f"Occlusion (largest drop {raw.max():.2f})"
    else:
        title = spec.title + (f" @ {layer or bundle.cam_layer}" if spec.uses_layer else "")
    return method_panel(method, raw[None], title)


def explanations(
    bundle: ModelBundle, image: np.ndarray, methods: Sequence[str], profile: Profile,
    class_id: int | None, layer: str | None, seed: int,
) -> tuple[list[Prediction], int, list[Panel]]:
    """Top 5, the explained class (the top 1 when ``None``) and one panel per method.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` at the model's input size.
        methods: Method ids, one panel each.
        profile: Method options.
        class_id: Class to explain; the top-1 class when ``None``.
        layer: CAM layer (used by the methods that take one).
        seed: Seed of SmoothGrad.

    Returns:
        ``(top 5, class id, panels)``.
    """
    top5 = top_classes(bundle, image)
    class_id = top5[0].index if class_id is None else class_id
    return top5, class_id, [_panel(bundle, image, class_id, method, profile, layer, seed) for method in methods]


def explanation_figure(
    bundle: ModelBundle,
    image: np.ndarray,
    methods: Sequence[str],
    profile: Profile,
    class_id: int | None = None,
    layer: str | None = None,
    seed: int = 0,
    title: str = "",
) -> tuple[matplotlib.figure.Figure, int]:
    """The explorer's view of one image: its maps for one class and its top 5.

    Args:
        bundle, image, methods, profile, class_id, layer, seed: As for :func:`explanations`.
        title: Name of the image.

    Returns:
        The figure and the explained class id.
    """
    top5, class_id, panels = explanations(bundle, image, methods, profile, class_id, layer, seed)
    return plot_explanation(image, panels, top5, class_id, figure_title(bundle, title, class_id)), class_id


def layer_figure(
    bundle: ModelBundle,
    image: np.ndarray,
    method: str,
    layers: Sequence[str],
    profile: Profile,
    class_id: int,
    title: str = "",
) -> matplotlib.figure.Figure:
    """One CAM method at several layers of the model, for one class.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` at the model's input size.
        method: A method that uses a layer.
        layers: Layer names, one panel each.
        profile: Method options.
        class_id: Class to explain.
        title: Name of the image.

    Returns:
        The figure.
    """
    if not get_method(method).uses_layer:
        raise ValueError(f"{method!r} does not use a layer; choose one of "
                         f"{[m for m in EXPLORER_METHODS if get_method(m).uses_layer]}")
    panels = []
    for layer in layers:
        side = bundle.layer(layer).output.shape[1]
        raw = _raw_map(bundle, image, class_id, method, profile, layer, 0)
        panels.append(method_panel(method, raw[None], f"{layer} ({side} x {side})"))
    return plot_explanation(image, panels, top_classes(bundle, image), class_id, figure_title(bundle, title, class_id))


def top_classes(bundle: ModelBundle, image: np.ndarray, top: int = 5) -> list[Prediction]:
    """The model's top classes for one image at its input size."""
    return bundle.decode(bundle.predict(image[None]), top=top)[0]


def figure_title(bundle: ModelBundle, image_name: str, class_id: int) -> str:
    """Title of the explorer's image panel: the image's name and the explained class."""
    return f"{image_name}\nexplaining: {class_choices(bundle)[class_id]}".strip()
