"""New models made from a bundle's: a conv base for a new task, a new
classifier head, unfreezing for fine-tuning, and copies with randomized
layers (for sanity checks)."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np

from report_lib.models.bundle import ModelBundle, bundle_from_model
from report_lib.models.layers import layer_groups


def conv_base(bundle: ModelBundle, size: int, pretrained: bool = True) -> keras.Model:
    """The model's convolutional part (input to ``cam_layer``) at a new input size.

    Args:
        bundle: The ImageNet model.
        size: Input side for the new task.
        pretrained: Copy the ImageNet weights (else fresh random weights).

    Returns:
        A functional model whose layers are copies of the bundle's.
    """
    return bundle.submodel([bundle.cam_layer], input_shape=(size, size, 3), weights="copied" if pretrained else "random")


def scratch_base(bundle: ModelBundle, size: int) -> keras.Model:
    """The same conv architecture with fresh random weights, for training from scratch.

    The embedded model's registry copy has its batch norms folded into the
    convolutions, which suits inference but not training; its from-scratch
    twin is built with batch norm.
    """
    from report_lib.models.registry import EFFICIENTNET_LITE0

    if bundle.name == EFFICIENTNET_LITE0:
        from report_lib.models.efficientnet_lite import build_efficientnet_lite0

        bundle = bundle_from_model(build_efficientnet_lite0(fold_batch_norm=False), bundle.preprocess,
                                   cam_layer=bundle.cam_layer)
    return conv_base(bundle, size, pretrained=False)


def last_block_start(bundle: ModelBundle) -> str:
    """The first layer of the last convolution block (where fine-tuning starts)."""
    for _, layers in layer_groups(bundle.model):
        convs = [name for name in layers if name in bundle.conv_layers]
        if convs and any(name != bundle.conv_layers[-1] for name in convs):
            return convs[0]
    return bundle.conv_layers[-1]


def classifier_on(base: keras.Model, num_classes: int, hidden_units: int = 128, dropout: float = 0.3,
                  trainable_base: bool = False, name: str = "classifier") -> keras.Model:
    """A new dense head on a conv base, built with the functional API on
    ``base.input`` (not nested), so every visualization method works on it.

    Args:
        base: The conv base.
        num_classes: Classes of the new task.
        hidden_units: Units of the hidden dense layer.
        dropout: Dropout before the classifier.
        trainable_base: Whether the base's weights train.
        name: Model name.

    Returns:
        The classifier.
    """
    for layer in base.layers:
        layer.trainable = trainable_base
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(base.output)
    x = keras.layers.Dense(hidden_units, activation="relu", name="head_dense")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(base.input, outputs, name=name)


def unfreeze_top(model: keras.Model, first_layer: str) -> int:
    """Make every layer from ``first_layer`` to the output trainable (fine-tuning).

    Returns:
        Number of layers unfrozen.
    """
    names = [layer.name for layer in model.layers]
    if first_layer not in names:
        raise ValueError(f"no layer {first_layer!r}")
    start = names.index(first_layer)
    for layer in model.layers[start:]:
        layer.trainable = True
    return len(model.layers) - start


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
    return dataclasses.replace(bundle, model=copy)
