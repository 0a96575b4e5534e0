"""Dataset examples: the real image patches that excite a filter most, the
step the original course could not do, shown next to its feature
visualization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import tensorflow as tf

from report_lib.models.bundle import ModelBundle


@dataclass
class DatasetExamples:
    """The strongest responses of some channels of one layer.

    Attributes:
        layer: Layer name.
        channels: Channel indices.
        patches: ``(channels, top_k, patch, patch, 3)`` uint8 crops around the
            most activated positions, at most one per image.
        activations: ``(channels, top_k)`` the activations there.
        image_indices: ``(channels, top_k)`` which image each patch comes from.
    """

    layer: str
    channels: list[int]
    patches: np.ndarray
    activations: np.ndarray
    image_indices: np.ndarray


def layer_activations(bundle: ModelBundle, layer: str, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Activations of one layer for a batch of RGB images, computed in chunks.

    Args:
        bundle: The model.
        layer: A layer with a spatial output.
        images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
        batch_size: Images per forward pass.

    Returns:
        ``(n, h, w, channels)`` float32.
    """
    output = bundle.layer(layer).output
    if len(output.shape) != 4:
        raise ValueError(f"layer {layer!r} has no spatial output (shape {output.shape})")
    truncated = bundle.cached(("activations", layer), lambda: bundle.submodel([layer]))
    chunks = [
        truncated(bundle.preprocess(tf.constant(images[start : start + batch_size], tf.float32)), training=False).numpy()
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(chunks)


def strongest_channels(activations: np.ndarray, count: int) -> list[int]:
    """Channels whose best response over the images is highest (ties: lower index)."""
    best = activations.max(axis=(0, 1, 2))
    return [int(c) for c in np.argsort(-best, kind="stable")[:count]]


def _crop(image: np.ndarray, centre_row: float, centre_column: float, side: int) -> np.ndarray:
    height, width = image.shape[:2]
    top = int(np.clip(round(centre_row - side / 2), 0, height - side))
    left = int(np.clip(round(centre_column - side / 2), 0, width - side))
    return image[top : top + side, left : left + side]


def top_activating_patches(
    bundle: ModelBundle,
    layer: str,
    channels: Sequence[int],
    images: np.ndarray,
    top_k: int = 4,
    patch_size: int | None = None,
    activations: np.ndarray | None = None,
    sources: np.ndarray | None = None,
) -> DatasetExamples:
    """Find, for each channel, the image patches that activate it most.

    Each source photograph contributes at most one patch per channel (the best
    position of its best image): crops of one photograph count as one source,
    so the examples never repeat a photograph.

    Args:
        bundle: The model.
        layer: A conv layer.
        channels: Channel indices.
        images: ``(n, size, size, 3)`` RGB in ``[0, 255]``, n >= top_k.
        top_k: Patches per channel.
        patch_size: Side of the patches; four strides of the layer (at least
            24 px, at most half the image) when ``None``.
        activations: The layer's activations for ``images``, if already computed.
        sources: ``(n,)`` the photograph each image comes from (e.g. from
            ``augmented_crops_with_sources``); every image its own by default.

    Returns:
        The patches, their activations and source images.
    """
    images = np.asarray(images)
    sources = np.arange(len(images)) if sources is None else np.asarray(sources)
    if sources.shape != (len(images),):
        raise ValueError(f"need one source per image ({len(images)}), got shape {sources.shape}")
    if len(np.unique(sources)) < top_k:
        raise ValueError(f"need at least top_k={top_k} images from different sources, got {len(np.unique(sources))}")
    activations = layer_activations(bundle, layer, images) if activations is None else activations
    width = activations.shape[-1]
    bad = [c for c in channels if not 0 <= c < width]
    if bad:
        raise ValueError(f"{layer!r} has {width} channels (0 to {width - 1}); got {bad}")
    stride = images.shape[1] / activations.shape[1]
    side = patch_size or int(np.clip(4 * stride, 24, images.shape[1] // 2))
    patches = np.zeros((len(channels), top_k, side, side, 3), np.uint8)
    values = np.zeros((len(channels), top_k), np.float32)
    chosen_images = np.zeros((len(channels), top_k), int)
    for row, channel in enumerate(channels):
        maps = activations[..., channel]
        best_per_image = maps.reshape(len(images), -1).max(axis=1)
        used: set[int] = set()
        column = 0
        for index in np.argsort(-best_per_image, kind="stable"):
            if column == top_k:
                break
            if int(sources[index]) in used:
                continue
            used.add(int(sources[index]))
            y, x = np.unravel_index(np.argmax(maps[index]), maps[index].shape)
            patches[row, column] = _crop(images[index], (y + 0.5) * stride, (x + 0.5) * stride, side)
            values[row, column] = best_per_image[index]
            chosen_images[row, column] = index
            column += 1
    return DatasetExamples(layer, list(channels), patches, values, chosen_images)
