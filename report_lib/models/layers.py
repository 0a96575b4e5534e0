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


#: VGG16's conv layers, the depth scale of the course's layer positions (4th, 7th, 10th, last of 13).
REFERENCE_CONV_LAYERS = 13


def _is_activation(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU, keras.layers.ELU))


def activated_output(bundle: ModelBundle, conv_layer: str) -> str:
    """The layer whose output is a conv layer's activated output: what feature
    visualization should maximize.

    VGG16's conv layers apply their ReLU themselves, so the conv layer is the
    answer. EfficientNet-Lite0's convolutions are linear (batch norm folded in)
    and a separate ReLU6 layer (``stem_activation``, ``block3a_activation``)
    follows; that layer is the answer. A conv layer that no non-linearity
    follows (a linear 1x1 projection) is its own answer.

    Args:
        bundle: The model.
        conv_layer: A conv layer's name.

    Returns:
        A layer name.
    """
    layer = bundle.layer(conv_layer)
    if getattr(layer, "activation", None) not in (None, keras.activations.linear):
        return conv_layer
    output = layer.output
    for candidate in bundle.model.layers:
        if _is_activation(candidate) and candidate.input is output:
            return candidate.name
    return conv_layer


def capped_relu_input(bundle: ModelBundle, name: str) -> str | None:
    """The layer feeding ``name`` when ``name`` is a capped ReLU (EfficientNet-Lite's
    ReLU6), so that it can be read without its cap; ``None`` otherwise.

    The backward counterpart of :func:`activated_output`: both find a layer by
    the tensor it shares with its neighbour.

    Args:
        bundle: The model.
        name: A layer name.

    Returns:
        A layer name, or ``None``.
    """
    layer = bundle.layer(name)
    capped = isinstance(layer, keras.layers.ReLU) and layer.max_value is not None
    capped |= isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") == "relu6"
    if not capped:
        return None
    for candidate in bundle.model.layers:
        if candidate is not layer and candidate.output is layer.input:
            return candidate.name
    return None


def spatial_conv_layers(bundle: ModelBundle) -> list[str]:
    """Conv layers whose kernels are larger than 1x1 (convolutions and depthwise
    convolutions that look at a neighbourhood), input to output."""
    return [name for name in bundle.conv_layers
            if max(getattr(bundle.layer(name), "kernel_size", (1, 1))) > 1 and len(bundle.layer(name).output.shape) == 4]


def depth_matched_layers(bundle: ModelBundle, positions: tuple[int, ...] | list[int],
                         reference: int = REFERENCE_CONV_LAYERS) -> list[str]:
    """Map the course's conv-layer positions (counted in VGG16's 13) to the same
    relative depths of any model, among its spatial (larger than 1x1) conv layers.

    Position ``p`` of ``reference`` becomes spatial layer ``round(p / reference * n)``
    of the model's ``n`` (at least the first); ``-1`` is the last. For VGG16 the
    mapping is the identity; for EfficientNet-Lite0 (17 spatial layers: the stem
    and 16 depthwise convolutions) 4, 7, 10, -1 become ``block3a_dwconv``,
    ``block4c_dwconv``, ``block6a_dwconv`` and ``block7a_dwconv``, rather than
    the 1x1 expansions that counting all 49 conv layers would pick.

    Args:
        bundle: The model.
        positions: 1-based positions in the reference, or ``-1`` for the last.
        reference: Conv layers of the reference network.

    Returns:
        Conv layer names, one per position.
    """
    spatial = spatial_conv_layers(bundle)
    if not spatial:
        raise ValueError(f"{bundle.name} has no conv layer larger than 1x1")
    chosen = []
    for position in positions:
        if position == -1:
            chosen.append(spatial[-1])
            continue
        if not 1 <= position <= reference:
            raise ValueError(f"positions run from 1 to {reference} (or -1 for the last), got {position}")
        index = max(1, round(position / reference * len(spatial)))
        chosen.append(spatial[index - 1])
    return chosen
