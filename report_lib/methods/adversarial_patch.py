"""Adversarial patches (Brown et al. 2017): a small, universal picture that
makes a classifier see a chosen class wherever it is placed.

The patch is trained by *expectation over transformation*: at every step it
is pasted on many training images at random positions, sizes and rotations,
and its pixels move to raise the target class's log-probability on all of
them at once. The patch is round, as in the paper, so rotation never changes
its footprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from report_lib.models.bundle import LOGITS, ModelBundle


@dataclass(frozen=True)
class Placements:
    """Where patches go: one row per image.

    Attributes:
        areas: Fraction of the image area that the round patch covers.
        angles: Rotation, radians.
        centres: ``(n, 2)`` centre (row, column) in pixels.
    """

    areas: np.ndarray
    angles: np.ndarray
    centres: np.ndarray


@dataclass
class TrainedPatch:
    """A trained patch and how training went.

    Attributes:
        patch: ``(p, p, 3)`` uint8 (outside the circle is irrelevant).
        class_id: The class it pushes images to.
        losses: Mean loss per step.
        target_probability: Mean target probability per step (on training placements).
        snapshots: Step -> the patch after that step (``snapshot_every`` of ``train_patch``), to
            measure how success grows with training.
    """

    patch: np.ndarray
    class_id: int
    losses: np.ndarray
    target_probability: np.ndarray
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)


def patch_radius(area: float | np.ndarray, image_size: int) -> np.ndarray:
    """Radius in pixels of a round patch covering ``area`` of a square image."""
    return image_size * np.sqrt(np.asarray(area, np.float64) / math.pi)


def circle_mask(side: int) -> np.ndarray:
    """``(side, side, 1)`` float mask: 1 inside the inscribed circle."""
    centre = (side - 1) / 2
    rows, columns = np.mgrid[:side, :side]
    return (((rows - centre) ** 2 + (columns - centre) ** 2) <= (side / 2) ** 2).astype(np.float32)[..., None]


def random_placements(
    count: int, image_size: int, areas: tuple[float, float] | float, max_rotation: float = 45.0, seed: int = 0
) -> Placements:
    """Random positions, sizes and rotations that keep the whole patch inside the image.

    Args:
        count: Number of placements.
        image_size: Side of the square images.
        areas: One area fraction, or a ``(low, high)`` range to draw from.
        max_rotation: Largest rotation, degrees.
        seed: Seeds the draw.

    Returns:
        The placements.
    """
    rng = np.random.default_rng(seed)
    low, high = (areas, areas) if np.isscalar(areas) else areas
    if not 0 < low <= high < math.pi / 4:
        raise ValueError(f"patch areas must satisfy 0 < low <= high < pi/4 (a circle inside the image); got {areas}")
    chosen = rng.uniform(low, high, count)
    radius = patch_radius(chosen, image_size)
    centres = np.stack([rng.uniform(radius, image_size - radius) for _ in range(2)], axis=1)
    angles = rng.uniform(-1, 1, count) * math.radians(max_rotation)
    return Placements(chosen.astype(np.float32), angles.astype(np.float32), centres.astype(np.float32))


def apply_patch(images: tf.Tensor, patch: tf.Tensor, areas: tf.Tensor, angles: tf.Tensor, centres: tf.Tensor) -> tf.Tensor:
    """Paste a round patch on each image (differentiable with respect to the patch).

    Args:
        images: ``(n, size, size, 3)`` float pixels in ``[0, 255]``.
        patch: ``(p, p, 3)`` float pixels in ``[0, 255]``.
        areas: ``(n,)`` fraction of the image area covered.
        angles: ``(n,)`` rotations in radians.
        centres: ``(n, 2)`` centres (row, column) in pixels.

    Returns:
        The patched images.
    """
    size = int(images.shape[1])
    side = int(patch.shape[0])
    layers = tf.concat([patch, tf.constant(circle_mask(side))], axis=-1)
    canvas = tf.pad(layers, [[0, size - side], [0, size - side], [0, 0]])
    canvas = tf.tile(canvas[None], [tf.shape(images)[0], 1, 1, 1])
    diameter = 2.0 * tf.sqrt(tf.cast(areas, tf.float32) / math.pi) * size
    scale = side / diameter  # patch pixels per image pixel
    cos, sin = tf.cos(angles) * scale, tf.sin(angles) * scale
    centre_y, centre_x = centres[:, 0], centres[:, 1]
    half = (side - 1) / 2.0
    # Image pixel (x, y) shows patch pixel R(-angle) * scale * ((x, y) - centre) + half.
    transforms = tf.stack(
        [cos, sin, half - cos * centre_x - sin * centre_y,
         -sin, cos, half + sin * centre_x - cos * centre_y,
         tf.zeros_like(cos), tf.zeros_like(cos)], axis=1,
    )
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=canvas, transforms=transforms, output_shape=[size, size], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT",
    )
    colour, mask = warped[..., :3], warped[..., 3:]
    return images * (1.0 - mask) + colour * mask


def _logits_fn(bundle: ModelBundle):
    model = bundle.submodel([LOGITS])
    return lambda pixels: model(bundle.preprocess(pixels), training=False)


@dataclass(frozen=True)
class PatchRecipe:
    """How a patch is trained (expectation over transformation).

    Attributes:
        steps: Optimization steps.
        batch_size: Patched images per step (images drawn with replacement).
        patch_pixels: Side of the patch's own pixel grid.
        areas: Range of image-area fractions the patch is trained at.
        max_rotation: Largest rotation, degrees.
        learning_rate: Adam step size on the patch's logits.
    """

    steps: int = 600
    batch_size: int = 16
    patch_pixels: int = 96
    areas: tuple[float, float] = (0.05, 0.25)
    max_rotation: float = 45.0
    learning_rate: float = 0.05


def train_patch(
    bundle: ModelBundle,
    images: np.ndarray,
    class_id: int,
    recipe: PatchRecipe = PatchRecipe(),
    seed: int = 0,
    progress: bool = True,
    snapshot_every: int = 0,
) -> TrainedPatch:
    """Train a universal targeted patch by expectation over transformation.

    Args:
        bundle: The model to fool.
        images: ``(n, size, size, 3)`` training images (uint8 or float).
        class_id: Class the patch should make the model see.
        recipe: Steps, batch, patch size, placements and learning rate.
        seed: Seeds the initial patch and every draw.
        progress: Show a progress bar.
        snapshot_every: Keep a copy of the patch every this many steps (0: none).

    Returns:
        The patch, its training curves and its snapshots.
    """
    steps, batch_size, patch_pixels = recipe.steps, recipe.batch_size, recipe.patch_pixels
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be at least 1")
    pool = tf.constant(np.asarray(images, np.float32))
    size = int(pool.shape[1])
    if patch_pixels > size:
        raise ValueError(f"patch_pixels ({patch_pixels}) cannot exceed the image size ({size})")
    rng = np.random.default_rng(seed)
    logits_param = tf.Variable(rng.normal(0, 0.5, (patch_pixels, patch_pixels, 3)).astype(np.float32))
    optimizer = keras.optimizers.Adam(recipe.learning_rate)
    optimizer.build([logits_param])
    logits_of = _logits_fn(bundle)
    generator = tf.random.Generator.from_seed(seed)
    low, high = recipe.areas
    max_angle = math.radians(recipe.max_rotation)
    targets = tf.fill([batch_size], int(class_id))

    @tf.function
    def step():
        picks = generator.uniform([batch_size], 0, pool.shape[0], dtype=tf.int32)
        batch_areas = generator.uniform([batch_size], low, high)
        radius = size * tf.sqrt(batch_areas / math.pi)
        centres = tf.stack([radius + generator.uniform([batch_size]) * (size - 2 * radius) for _ in range(2)], axis=1)
        angles = generator.uniform([batch_size], -max_angle, max_angle)
        with tf.GradientTape() as tape:
            patch = tf.sigmoid(logits_param) * 255.0
            patched = apply_patch(tf.gather(pool, picks), patch, batch_areas, angles, centres)
            logits = logits_of(patched)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        optimizer.apply_gradients([(tape.gradient(loss, logits_param), logits_param)])
        probability = tf.reduce_mean(tf.gather(tf.nn.softmax(logits), int(class_id), axis=1))
        return loss, probability

    def current() -> np.ndarray:
        return np.clip(np.round(tf.sigmoid(logits_param).numpy() * 255), 0, 255).astype(np.uint8)

    losses, probabilities = np.zeros(steps, np.float32), np.zeros(steps, np.float32)
    snapshots = {}
    for index in tqdm(range(steps), desc="patch", disable=not progress, leave=False):
        loss, probability = step()
        losses[index], probabilities[index] = float(loss), float(probability)
        if snapshot_every and (index + 1) % snapshot_every == 0:
            snapshots[index + 1] = current()
    return TrainedPatch(current(), int(class_id), losses, probabilities, snapshots)


def masked_for_display(patch: np.ndarray, background: int = 255) -> np.ndarray:
    """The patch as it is pasted: its square's corners outside the inscribed
    circle are never pasted, get no gradient and keep their random start, so
    they are painted ``background`` here.

    Args:
        patch: ``(p, p, 3)`` uint8.
        background: Grey level of the corners.

    Returns:
        ``(p, p, 3)`` uint8 copy.
    """
    inside = circle_mask(patch.shape[0])[..., 0] > 0
    shown = patch.copy()
    shown[~inside] = background
    return shown


def placement_masks(placements: Placements, image_size: int) -> np.ndarray:
    """``(n, size, size)`` bool: where each placed round patch lies (its known box, for the pointing game).

    Args:
        placements: From ``random_placements``.
        image_size: Side of the square images.

    Returns:
        The masks.
    """
    rows, columns = np.mgrid[:image_size, :image_size]
    radius = patch_radius(placements.areas, image_size)
    # Pixel centres at integer coordinates, as ``apply_patch`` samples them.
    distance = (rows[None] - placements.centres[:, 0, None, None]) ** 2 + (columns[None] - placements.centres[:, 1, None, None]) ** 2
    return distance <= radius[:, None, None] ** 2


def noise_patch(side: int, seed: int = 0) -> np.ndarray:
    """A control patch of uniform random pixels."""
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def patched_images(images: np.ndarray, patch: np.ndarray, placements: Placements) -> np.ndarray:
    """Paste a patch on images (one placement per image) and return uint8 images."""
    patched = apply_patch(
        tf.constant(np.asarray(images, np.float32)), tf.constant(patch.astype(np.float32)),
        tf.constant(placements.areas), tf.constant(placements.angles), tf.constant(placements.centres),
    )
    return np.clip(np.round(patched.numpy()), 0, 255).astype(np.uint8)


def success_rate(
    bundle: ModelBundle, images: np.ndarray, patch: np.ndarray, class_id: int, area: float,
    placements_per_image: int = 4, max_rotation: float = 45.0, seed: int = 0,
) -> float:
    """Fraction of patched images whose top-1 class is the patch's class.

    Args:
        bundle: The model.
        images: ``(n, size, size, 3)`` images (held out from training).
        patch: The patch to test.
        class_id: The class it should cause.
        area: Fraction of the image area the patch covers.
        placements_per_image: Random placements tried on each image.
        max_rotation: Largest rotation, degrees.
        seed: Seeds the placements (use one not used in training).

    Returns:
        The success rate in ``[0, 1]``.
    """
    repeated = np.repeat(np.asarray(images), placements_per_image, axis=0)
    placements = random_placements(len(repeated), repeated.shape[1], area, max_rotation, seed)
    predictions = bundle.predict(patched_images(repeated, patch, placements)).argmax(axis=1)
    return float(np.mean(predictions == class_id))
