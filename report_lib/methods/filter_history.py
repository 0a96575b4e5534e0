"""Watching a network learn: a Keras callback that records, epoch by epoch,
the first layer's kernels, feature visualizations of a deeper layer and how
far each layer's weights move; and the first-layer kernels as pictures."""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from report_lib.methods.featurevis import visualize
from report_lib.methods.objectives import channel
from report_lib.models.bundle import ModelBundle, bundle_from_model


class FilterHistory(keras.callbacks.Callback):
    """Record, at the end of chosen epochs, the first conv layer's weights and a
    feature visualization of fixed channels of a deeper layer; and, after every
    epoch, how much each layer's weights moved.

    Args:
        epochs: 1-based epochs to record (0 records the initial weights, before training).
        first_layer: The conv layer whose kernels are recorded.
        deep_layer: The layer whose channels are visualized.
        channels: Channels of ``deep_layer`` to visualize.
        visualize: Function ``(model, layer, channels) -> images``; it must use
            a fixed seed, so that only the network changes between epochs.
    """

    def __init__(self, epochs: Sequence[int], first_layer: str, deep_layer: str, channels: Sequence[int],
                 visualize: Callable[[keras.Model, str, Sequence[int]], np.ndarray]):
        super().__init__()
        self.epochs = sorted(set(int(e) for e in epochs))
        self.first_layer, self.deep_layer, self.channels = first_layer, deep_layer, list(channels)
        self.visualize = visualize
        self.kernels: dict[int, np.ndarray] = {}
        self.visualizations: dict[int, np.ndarray] = {}
        self.weight_change: dict[str, list[float]] = {}
        self._previous: dict[str, list[np.ndarray]] = {}

    def _weighted_layers(self):
        return [layer for layer in self.model.layers if layer.trainable_weights]

    def _record(self, epoch: int) -> None:
        self.kernels[epoch] = self.model.get_layer(self.first_layer).get_weights()[0].copy()
        self.visualizations[epoch] = self.visualize(self.model, self.deep_layer, self.channels)

    def on_train_begin(self, logs=None):
        self._previous = {layer.name: [w.copy() for w in layer.get_weights()] for layer in self._weighted_layers()}
        if 0 in self.epochs:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        for layer in self._weighted_layers():
            current = layer.get_weights()
            before = self._previous[layer.name]
            moved = np.sqrt(sum(float(np.sum((c - b) ** 2)) for c, b in zip(current, before)))
            size = np.sqrt(sum(float(np.sum(b**2)) for b in before))
            self.weight_change.setdefault(layer.name, []).append(moved / max(size, 1e-12))
            self._previous[layer.name] = [w.copy() for w in current]
        if epoch + 1 in self.epochs:
            self._record(epoch + 1)


def kernels_as_images(kernels: np.ndarray, grey: bool = False) -> np.ndarray:
    """First-layer kernels ``(k, k, 3, n)`` as ``n`` RGB images, each scaled to ``[0, 255]``.

    Args:
        kernels: The conv layer's kernel.
        grey: Show what the filter does to grey-level input: the sum over
            the colour channels, as a grey image. On grey images the three
            colour weights act only through their sum, so their differences
            never receive a gradient and stay random; the colours would hide
            the learned spatial pattern.

    Returns:
        ``(n, k, k, 3)`` uint8.
    """
    if kernels.ndim != 4 or kernels.shape[2] != 3:
        raise ValueError(f"expected kernels of shape (k, k, 3, n), got {kernels.shape}")
    filters = np.moveaxis(kernels, -1, 0)
    if grey:
        filters = np.repeat(filters.sum(axis=-1, keepdims=True), 3, axis=-1)
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    high = filters.max(axis=(1, 2, 3), keepdims=True)
    return np.round(255 * (filters - low) / np.maximum(high - low, 1e-12)).astype(np.uint8)


def pixel_space_kernels(bundle: ModelBundle, layer: str | None = None) -> np.ndarray:
    """A first conv layer's kernels as they act on RGB pixels.

    The preprocessing is affine per channel (VGG16: RGB to BGR minus means;
    EfficientNet-Lite: ``(x - 127) / 128``), so its effect on a kernel is a
    3x3 matrix ``M`` (pixel channel -> model channel): the pixel-space kernel is
    ``M @ w`` over the colour axis. For VGG16 this puts the colours back in RGB
    order, so red in the figure means the filter weights the red channel.

    Args:
        bundle: The model.
        layer: Its first conv layer by default.

    Returns:
        ``(k, k, 3, n)`` kernel in RGB pixel order.
    """
    layer = layer or bundle.conv_layers[0]
    kernel = bundle.layer(layer).get_weights()[0]
    if kernel.ndim != 4 or kernel.shape[2] != 3:
        raise ValueError(f"{layer!r} does not read RGB input (kernel shape {kernel.shape})")
    origin = np.asarray(bundle.preprocess(tf.zeros((1, 1, 1, 3))), np.float32).reshape(3)
    mixing = np.stack([np.asarray(bundle.preprocess(tf.constant(np.eye(3, dtype=np.float32)[c].reshape(1, 1, 1, 3))),
                                  np.float32).reshape(3) - origin for c in range(3)])
    return np.einsum("pm,hwmn->hwpn", mixing, kernel)


def channel_visualizer(preprocess: Callable, size: int, steps: int, seed: int) -> Callable[[keras.Model, str, Sequence[int]], np.ndarray]:
    """A ``FilterHistory`` visualizer: Lucid-recipe images of channels of a
    model being trained, with a fixed seed so only the network changes.

    Args:
        preprocess: The model's preprocessing of RGB pixels.
        size: Canvas side.
        steps: Optimization steps per call.
        seed: Seed used at every call.

    Returns:
        A function ``(model, layer, channels) -> (len(channels), size, size, 3)`` uint8.
    """
    def visualize_channels(model: keras.Model, layer: str, channels: Sequence[int]) -> np.ndarray:
        bundle = bundle_from_model(model, preprocess, name=model.name)
        objectives = [channel(layer, c) for c in channels]
        return visualize(bundle, objectives, "lucid", steps=steps, size=size, seed=seed, progress=False).images

    return visualize_channels
