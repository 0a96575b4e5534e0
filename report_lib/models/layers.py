"""Facts about a model's layers: which are convolutions, which output a
spatial map, how they group into blocks, and which ones CAM methods can use."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from report_lib.models.bundle import ModelBundle

CONV_LAYER_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def layer_names(model: keras.Model, types: tuple[type, ...]) -> list[str]:
    """Names of the model's layers of the given types, input to output."""
    return [layer.name for layer in model.layers if isinstance(layer, types)]


def last_spatial_layer(model: keras.Model) -> str:
    """The last layer whose output is a 4-D feature map (the usual CAM layer)."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if len(layer.output.shape) == 4:
            return layer.name
    raise ValueError(f"{model.name} has no layer with a spatial (4-D) output for CAM methods")


def last_layer_with_side(model: keras.Model, min_side: int) -> tuple[str, int]:
    """The last layer whose 4-D output map is at least ``min_side`` cells wide:
    a CAM layer with more resolution than the last one, when images are small.

    Args:
        model: The Keras model (built on a fixed input size).
        min_side: Smallest side of the map, in cells.

    Returns:
        (layer name, side of its map).
    """
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer) or len(layer.output.shape) != 4:
            continue
        side = layer.output.shape[1]
        if side is not None and side >= min_side:
            return layer.name, int(side)
    raise ValueError(f"{model.name} has no 4-D layer output with side >= {min_side}")


def layer_groups(model: keras.Model) -> list[tuple[str, list[str]]]:
    """The model's weighted layers grouped by block, from the output down.

    ``block5_conv1`` and ``block5_conv3`` form ``block5``; ``block7a_...``
    is ``block7``; other layers (``predictions``, ``fc1``, ``top_conv``,
    ``stem_conv``) are grouped by the first word of their name.

    Args:
        model: The Keras model.

    Returns:
        ``[(group name, [layer names]), ...]``, top group first.
    """
    groups: dict[str, list[str]] = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        match = re.match(r"(block\d+)", layer.name)
        key = match.group(1) if match else layer.name.split("_")[0]
        groups.setdefault(key, []).append(layer.name)
    return list(reversed(list(groups.items())))


def cam_layer_choices(bundle: ModelBundle) -> list[str]:
    """Layers a CAM method can use: the spatial conv layers, ending with the CAM layer."""
    spatial = [name for name in bundle.conv_layers if len(bundle.layer(name).output.shape) == 4]
    return [name for name in spatial if name != bundle.cam_layer] + [bundle.cam_layer]


def layers_by_resolution(bundle: ModelBundle, count: int = 3) -> list[str]:
    """The last CAM-capable layer at each of the model's ``count`` coarsest
    feature-map sizes, fine to coarse (e.g. VGG16: ``block3_conv3``,
    ``block4_conv3``, ``block5_conv3``)."""
    last_at_size: dict[int, str] = {}
    for name in cam_layer_choices(bundle):
        last_at_size[bundle.layer(name).output.shape[1]] = name
    return [last_at_size[side] for side in sorted(last_at_size, reverse=True)][-count:]
