"""Feature visualization (activation maximization) on a compiled, batched,
seeded engine.

Two recipes sit behind one call, :func:`visualize`:

- ``"tf-keras-vis"``: the recipe of tf-keras-vis' ``ActivationMaximization``
  that the original course used: optimize the pixels directly, starting from
  uniform noise, with random jitter (roll by up to 4 px) and rotation (up to
  1 degree) applied to the image itself at every step, total-variation and
  L1-norm penalties, and RMSprop (learning rate 1, rho 0.999), 200 steps.
- ``"lucid"``: the recipe of Lucid (Olah et al. 2017): the image is
  parameterized in a scaled Fourier basis with decorrelated colours and a
  sigmoid, each step sees a randomly padded, jittered, scaled and rotated
  copy (transformation robustness), and Adam (0.05) runs 512 steps.

Differences from tf-keras-vis: the whole step runs as one ``tf.function``;
all random transformations draw from one seeded generator (tf-keras-vis'
Rotate/Scale modifiers use unseeded NumPy generators); transformations run
on the graph instead of on the host; and conv-layer objectives run a
truncated model on a canvas sized to the layer rather than the full network
at 224 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from report_lib.methods.objectives import Objective, weight_matrices
from report_lib.models.bundle import LOGITS, ModelBundle
from report_lib.models.layers import capped_relu_input

# Lucid's colour decorrelation: square root of the ImageNet colour covariance.
_COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR_CORRELATION = _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))


@dataclass(frozen=True)
class Recipe:
    """How an image is parameterized, transformed, regularized and optimized.

    Attributes:
        name: Display name.
        parameterization: ``"pixel"`` (optimize RGB values) or ``"fft"``
            (scaled Fourier coefficients, decorrelated colour, sigmoid).
        optimizer: ``"rmsprop"`` or ``"adam"``.
        learning_rate: Optimizer step size.
        steps: Default number of steps.
        jitter: Largest random shift, in pixels.
        max_rotation: Largest random rotation, in degrees.
        scales: Random scale factors to choose from.
        transform_in_place: Write the transformed image back into the pixels
            at every step (tf-keras-vis' behaviour) instead of only showing
            the transformed copy to the model (Lucid's).
        tv_weight: Weight of the total-variation penalty (per pixel value).
        l1_weight: Weight of the L1-norm penalty (per pixel value).
        fill: Value, in ``[0, 255]``, of pixels that a transformation exposes.
        penalize_input: Apply the penalties to the model's input (after its
            preprocessing), as tf-keras-vis does, instead of to the pixels: the
            weights then mean the same thing for VGG16 (input in pixel units)
            and EfficientNet-Lite0 (input (x - 127) / 128, where penalties on
            pixels would be 128 times too strong against its logits' gradient).
    """

    name: str
    parameterization: str
    optimizer: str
    learning_rate: float
    steps: int
    jitter: int
    max_rotation: float
    scales: tuple[float, ...] = (1.0,)
    transform_in_place: bool = False
    tv_weight: float = 0.0
    l1_weight: float = 0.0
    fill: float = 127.5
    penalize_input: bool = False


RECIPES: dict[str, Recipe] = {
    "tf-keras-vis": Recipe(
        "tf-keras-vis", "pixel", "rmsprop", 1.0, 200, jitter=4, max_rotation=1.0,
        transform_in_place=True, tv_weight=1.0, l1_weight=0.3, penalize_input=True,
    ),
    "lucid": Recipe(
        "lucid", "fft", "adam", 0.05, 512, jitter=12, max_rotation=10.0,
        scales=tuple(1 + (i - 5) / 50 for i in range(11)),
    ),
}


#: Recipe settings re-tuned for a model, applied when a recipe is named by
#: :func:`visualize`. EfficientNet-Lite0 with the course's tf-keras-vis settings
#: (step 1, total variation 1) gives faint grey class images (pixel standard
#: deviation 6 of 255): its logits are smaller than VGG16's (10 to 20 for these
#: images) and its ReLU6 saturates, so the penalties win. Step 32 and total
#: variation 20 were chosen from six settings by ``benchmarks/tune_tf_keras_vis.py``
#: (the three course classes, three images each, seed 1, not the notebooks' 0):
#: the highest mean target probability (0.82, n = 9) and the most contrast (42).
MODEL_TUNING: dict[tuple[str, str], dict[str, float]] = {
    ("efficientnet_lite0", "tf-keras-vis"): {"learning_rate": 32.0, "tv_weight": 20.0},
}


def recipe_for(bundle: ModelBundle, recipe: str | Recipe) -> Recipe:
    """A recipe by name with the model's tuning (``MODEL_TUNING``) applied; a
    :class:`Recipe` object is used as it is."""
    if isinstance(recipe, Recipe):
        return recipe
    base = get_recipe(recipe)
    tuning = MODEL_TUNING.get((bundle.name, base.name))
    return replace(base, **tuning) if tuning else base


@dataclass
class Visualization:
    """The result of :func:`visualize`.

    Attributes:
        images: ``(n, size, size, 3)`` uint8, one per objective.
        scores: Objective value of each final image (no transformation).
        history: ``(steps, n)`` objective values seen during optimization.
        snapshots: Step -> ``(n, size, size, 3)`` uint8 images at that step.
        objectives: What was maximized.
        recipe: How.
        seed: The seed used.
    """

    images: np.ndarray
    scores: np.ndarray
    history: np.ndarray
    snapshots: dict[int, np.ndarray]
    objectives: list[Objective]
    recipe: Recipe
    seed: int
    labels: list[str] = field(default_factory=list)


def without_transforms(recipe: str | Recipe) -> Recipe:
    """The recipe with its random jitter, rotation and scaling switched off.

    For the neuron objective of a first layer: one unit sees a 3x3 patch, and
    random shifts of a few pixels would average its objective over the
    neighbourhood, back to the patch's mean colour; without them the optimum
    is the kernel's own pattern.
    """
    recipe = get_recipe(recipe)
    return replace(recipe, name=f"{recipe.name}, no transforms", jitter=0, max_rotation=0.0, scales=(1.0,))


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (``"tf-keras-vis"`` or ``"lucid"``), or the recipe itself."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {list(RECIPES)}") from None


def _needs_full_input(bundle: ModelBundle, layers: Sequence[str]) -> bool:
    return any(name == LOGITS or len(bundle.layer(name).output.shape) != 4 for name in layers)


def default_canvas(bundle: ModelBundle, layers: Sequence[str]) -> int:
    """A canvas sized to what is visualized.

    Dense layers and logits need the model's full input. A conv channel's
    pattern repeats with the layer's stride, so eight strides (at least 48 px)
    show it whole; early layers get small, fast canvases.

    Args:
        bundle: The model.
        layers: Layers of the objectives.

    Returns:
        Side of the square canvas, in pixels.
    """
    if _needs_full_input(bundle, layers):
        return bundle.input_size
    stride = max(bundle.input_size / bundle.layer(name).output.shape[1] for name in layers)
    return int(min(bundle.input_size, max(48, 8 * stride)))


def _affine_transform(images: tf.Tensor, angle: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor,
                      fill: float, fill_mode: str) -> tf.Tensor:
    """Rotate (radians), scale and shift (pixels, x then y) a batch about its centre."""
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    centre_x, centre_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # Output pixel p shows input pixel A p + b, with A = R(-angle) / scale.
    offset_x = centre_x + shift[0]
    offset_y = centre_y + shift[1]
    b_x = centre_x - (cos * offset_x + sin * offset_y)
    b_y = centre_y - (-sin * offset_x + cos * offset_y)
    transform = tf.stack([cos, sin, b_x, -sin, cos, b_y, 0.0, 0.0])
    transforms = tf.tile(transform[None], [shape[0], 1])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=shape[1:3], fill_value=fill,
        interpolation="BILINEAR", fill_mode=fill_mode,
    )


def random_transform(images: tf.Tensor, recipe: Recipe, generator: tf.random.Generator) -> tf.Tensor:
    """Apply the recipe's random jitter, scale and rotation (one draw per batch).

    Args:
        images: ``(n, h, w, 3)`` pixels.
        recipe: Supplies the ranges.
        generator: Seeded source of the random draws.

    Returns:
        Transformed images of the same shape.
    """
    angle = generator.uniform([], -recipe.max_rotation, recipe.max_rotation) * (math.pi / 180.0)
    scales = tf.constant(recipe.scales, tf.float32)
    scale = tf.gather(scales, generator.uniform([], 0, len(recipe.scales), dtype=tf.int32))
    shift = tf.cast(generator.uniform([2], -recipe.jitter, recipe.jitter + 1, dtype=tf.int32), tf.float32)
    if recipe.transform_in_place:
        # tf-keras-vis: Jitter rolls the image (wrapping around), Rotate2D keeps the border values.
        images = tf.roll(images, shift=tf.cast(shift[::-1], tf.int32), axis=[1, 2])
        return _affine_transform(images, angle, scale, tf.zeros(2), recipe.fill, "NEAREST")
    return _affine_transform(images, angle, scale, shift, recipe.fill, "CONSTANT")


class PixelImage:
    """Images optimized directly as RGB values, from uniform noise in [0, 255]."""

    def __init__(self, count: int, size: int, rng: np.random.Generator):
        self.shape = (count, size, size, 3)
        self.variable = tf.Variable(self.initial(rng))

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """The starting values drawn from ``rng``."""
        return rng.uniform(0, 255, self.shape).astype(np.float32)

    def __call__(self) -> tf.Tensor:
        return self.variable

    def to_uint8(self) -> np.ndarray:
        return np.clip(self.variable.numpy(), 0, 255).astype(np.uint8)


class FourierImage:
    """Images as scaled 2-D Fourier coefficients with decorrelated colour (Lucid's
    ``fft_image`` + ``to_valid_rgb``): low frequencies dominate, so the optimizer
    does not build up high-frequency noise."""

    def __init__(self, count: int, size: int, rng: np.random.Generator, decay_power: float = 1.0, sd: float = 0.01):
        frequencies = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[: size // 2 + 1] ** 2)
        scale = 1.0 / np.maximum(frequencies, 1.0 / size) ** decay_power * size
        self.size, self.sd = size, sd
        self.scale = tf.constant(scale.astype(np.float32))
        # Image-major layout: image i starts from the same values whatever the batch size.
        self.shape = (count, 2, 3, *frequencies.shape)
        self.variable = tf.Variable(self.initial(rng))

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """The starting coefficients drawn from ``rng``."""
        return rng.normal(0, self.sd, self.shape).astype(np.float32)

    def __call__(self) -> tf.Tensor:
        spectrum = tf.complex(self.variable[:, 0] * self.scale, self.variable[:, 1] * self.scale)
        image = tf.signal.irfft2d(spectrum, fft_length=[self.size, self.size])
        image = tf.transpose(image, (0, 2, 3, 1)) / 4.0
        image = tf.tensordot(image, tf.constant(_COLOR_CORRELATION.T), axes=1)
        return tf.sigmoid(image) * 255.0

    def to_uint8(self) -> np.ndarray:
        return np.clip(np.round(self().numpy()), 0, 255).astype(np.uint8)


@tf.custom_gradient
def total_variation(images: tf.Tensor):
    """Sum of absolute differences between neighbouring pixels, per image
    (as ``tf.image.total_variation``), with an analytic gradient that is
    about 8x faster on the CPU than differentiating through the slices."""
    down = images[:, 1:] - images[:, :-1]
    right = images[:, :, 1:] - images[:, :, :-1]
    value = tf.reduce_sum(tf.abs(down), axis=[1, 2, 3]) + tf.reduce_sum(tf.abs(right), axis=[1, 2, 3])

    def gradient(upstream):
        sign_down, sign_right = tf.sign(down), tf.sign(right)
        zero_row, zero_column = tf.zeros_like(images[:, :1]), tf.zeros_like(images[:, :, :1])
        grad = tf.concat([zero_row, sign_down], 1) - tf.concat([sign_down, zero_row], 1)
        grad += tf.concat([zero_column, sign_right], 2) - tf.concat([sign_right, zero_column], 2)
        return grad * upstream[:, None, None, None]

    return value, gradient


def _regularization(images: tf.Tensor, recipe: Recipe) -> tf.Tensor:
    values_per_image = tf.cast(tf.reduce_prod(tf.shape(images)[1:]), tf.float32)
    penalty = tf.zeros(tf.shape(images)[:1])
    if recipe.tv_weight:
        penalty += recipe.tv_weight * total_variation(images) / values_per_image
    if recipe.l1_weight:
        penalty += recipe.l1_weight * tf.reduce_sum(tf.abs(images), axis=[1, 2, 3]) / values_per_image
    return penalty


def _scores(activations: Sequence[tf.Tensor], weights: Sequence[tf.Tensor], readouts: Sequence[str]) -> tf.Tensor:
    total = 0.0
    for activation, weight, readout in zip(activations, weights, readouts):
        if activation.shape.rank == 4:
            if readout == "centre":
                shape = tf.shape(activation)
                activation = activation[:, shape[1] // 2, shape[2] // 2, :]
            else:
                activation = tf.reduce_mean(activation, axis=[1, 2])
        total += tf.reduce_sum(activation * weight, axis=-1)
    return total


@tf.custom_gradient
def redirected_relu(x: tf.Tensor):
    """ReLU whose gradient does not vanish on a unit that is off everywhere.

    Lucid's "redirected ReLU" (``relu_gradient_override``): for an image whose
    ReLU gradient is zero over the whole tensor, as for a channel that is
    negative everywhere on the near-grey image an optimization starts from,
    the gradient passes through wherever it would raise ``x``, so that the
    optimization can start; once the unit fires, it is the plain ReLU's.

    Args:
        x: ``(batch, ...)`` pre-activations.

    Returns:
        ``relu(x)``, with the redirected gradient.
    """

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        plain = tf.where(x > 0, upstream, tf.zeros_like(upstream))
        # The gradient is of a loss (minimized): a positive one would lower x.
        redirected = tf.where((x <= 0) & (upstream > 0), tf.zeros_like(upstream), upstream)
        axes = list(range(1, len(x.shape)))
        dead = tf.reduce_all(tf.equal(plain, 0.0), axis=axes, keepdims=True)
        return tf.where(dead, redirected, plain)

    return tf.nn.relu(x), gradient


def _optimizer(recipe: Recipe) -> keras.optimizers.Optimizer:
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=recipe.learning_rate, rho=0.999)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=recipe.learning_rate)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


class _Setup:
    """Feature model shared by :func:`visualize` and :func:`evaluate`.

    A capped ReLU (EfficientNet-Lite's ReLU6) is read without its cap: the
    feature model outputs the layer before it and applies a ReLU itself, because
    a unit at the cap passes no gradient, and at the first layer a flat colour
    already drives many filters to 6 everywhere. That ReLU is
    :func:`redirected_relu`, so a channel that is off on the starting image
    still gets a gradient (without it, about a third of the deeper channels
    stayed flat grey under the Lucid recipe).
    """

    def __init__(self, bundle: ModelBundle, keys: Sequence[tuple[str, str]], size: int | None):
        self.keys = list(keys)
        self.layers = list(dict.fromkeys(layer for layer, _ in self.keys))
        full = _needs_full_input(bundle, self.layers)
        self.size = int(size or default_canvas(bundle, self.layers))
        if full and self.size != bundle.input_size:
            raise ValueError(f"dense layers and logits need the model's input size {bundle.input_size}, got size={size}")
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        sources = {name: None if name == LOGITS else capped_relu_input(bundle, name) for name in self.layers}
        self.uncapped = [sources[name] is not None for name in self.layers]
        outputs = [sources[name] or name for name in self.layers]
        # Conv objectives run on any canvas size, through the bundle's own layers.
        self.model = bundle.submodel(outputs, input_shape=None if full else (None, None, 3))
        self.preprocess = bundle.preprocess

    def scores(self, pixels: tf.Tensor, weights: Sequence[tf.Tensor]) -> tf.Tensor:
        """Objective values of a batch, given one weight matrix per key."""
        outputs = self.model(self.preprocess(pixels), training=False)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        by_layer = {name: redirected_relu(out) if uncap else out
                    for name, out, uncap in zip(self.layers, outputs, self.uncapped)}
        return _scores([by_layer[layer] for layer, _ in self.keys], weights, [readout for _, readout in self.keys])


def _setup(bundle: ModelBundle, keys: Sequence[tuple[str, str]], size: int | None) -> _Setup:
    """The feature model for these layers and canvas, built once per bundle."""
    return bundle.cached(("featurevis-setup", tuple(keys), size), lambda: _Setup(bundle, keys, size))


class _Engine:
    """The image, optimizer, random generator and compiled step of one
    optimization shape (model layers, canvas, batch size, recipe), kept on
    the bundle and reset for every call: tracing the step costs about half a
    second on EfficientNet-Lite0, as much as 20 of its steps."""

    def __init__(self, setup: _Setup, recipe: Recipe, widths: Sequence[int], count: int):
        self.setup, self.recipe = setup, recipe
        parameterization = {"pixel": PixelImage, "fft": FourierImage}[recipe.parameterization]
        self.image = parameterization(count, setup.size, np.random.default_rng(0))
        self.generator = tf.random.Generator.from_seed(0)
        self.weights = [tf.Variable(tf.zeros((count, width))) for width in widths]
        self.optimizer = _optimizer(recipe)
        self.optimizer.build([self.image.variable])  # slot variables now, so the step is traced once
        self._fresh_optimizer = [v.numpy() for v in self.optimizer.variables]
        self.step = tf.function(self._step)
        # The final images' scores, compiled too: run eagerly, this one forward
        # pass took as long as two of the 20 steps of a short call.
        self.score = tf.function(lambda pixels: setup.scores(pixels, self.weights))

    def reset(self, weights: Sequence[np.ndarray], seed: int) -> None:
        """Start again from ``seed`` (the same values a new engine would draw)."""
        self.image.variable.assign(self.image.initial(np.random.default_rng(seed)))
        self.generator.reset_from_seed(seed)
        for variable, value in zip(self.optimizer.variables, self._fresh_optimizer):
            variable.assign(value)
        for variable, value in zip(self.weights, weights):
            variable.assign(value)

    def _step(self) -> tf.Tensor:
        recipe, variable, image = self.recipe, self.image.variable, self.image
        if recipe.transform_in_place:
            variable.assign(random_transform(variable, recipe, self.generator))
        with tf.GradientTape() as tape:
            pixels = image()
            seen = pixels if recipe.transform_in_place else random_transform(pixels, recipe, self.generator)
            scores = self.setup.scores(seen, self.weights)
            penalized = self.setup.preprocess(seen) if recipe.penalize_input else seen
            loss = tf.reduce_sum(-scores + _regularization(penalized, recipe))
        self.optimizer.apply_gradients([(tape.gradient(loss, variable), variable)])
        return scores


def evaluate(bundle: ModelBundle, objectives: Objective | Sequence[Objective], images: np.ndarray) -> np.ndarray:
    """Objective values of given images (one objective per image).

    Args:
        bundle: The model.
        objectives: One objective, or one per image.
        images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.

    Returns:
        ``(n,)`` objective values.
    """
    images = np.asarray(images, np.float32)
    objectives = [objectives] * len(images) if isinstance(objectives, Objective) else list(objectives)
    matrices = weight_matrices(bundle, objectives)
    setup = _setup(bundle, list(matrices), images.shape[1])
    return setup.scores(tf.constant(images), [tf.constant(m) for m in matrices.values()]).numpy()


def visualize(
    bundle: ModelBundle,
    objectives: Objective | Sequence[Objective],
    recipe: str | Recipe = "lucid",
    *,
    steps: int | None = None,
    size: int | None = None,
    seed: int = 0,
    snapshot_steps: Sequence[int] = (),
    progress: bool = True,
) -> Visualization:
    """Optimize one image per objective, all in one batch.

    Args:
        bundle: The model (``report_lib.models``).
        objectives: One objective, or a list (one image each).
        recipe: ``"lucid"``, ``"tf-keras-vis"`` (with the model's tuning, see
            ``MODEL_TUNING``) or a :class:`Recipe` (used as given).
        steps: Optimization steps; the recipe's default when ``None``.
        size: Canvas side; sized to the layers when ``None`` (dense layers
            and logits always use the model's input size).
        seed: Seeds the initial image and every random transformation; the
            same seed gives the same images.
        snapshot_steps: Steps (1-based) after which to keep a copy of the images.
        progress: Show a progress bar.

    Returns:
        The images, their objective values and any snapshots.

    Raises:
        ValueError: Unknown layer or unit (listing valid ones), bad size.
    """
    recipe = recipe_for(bundle, recipe)
    objectives = [objectives] if isinstance(objectives, Objective) else list(objectives)
    steps = recipe.steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    matrices = weight_matrices(bundle, objectives)
    setup = _setup(bundle, list(matrices), size)
    key = ("featurevis-engine", tuple(matrices), setup.size, len(objectives), recipe)
    widths = [m.shape[1] for m in matrices.values()]
    engine = bundle.cached(key, lambda: _Engine(setup, recipe, widths, len(objectives)))
    engine.reset(list(matrices.values()), seed)
    image, step = engine.image, engine.step

    wanted = set(int(s) for s in snapshot_steps)
    snapshots: dict[int, np.ndarray] = {}
    history = np.zeros((steps, len(objectives)), np.float32)
    for index in tqdm(range(steps), desc=f"{recipe.name} ({len(objectives)} images)", disable=not progress, leave=False):
        history[index] = step().numpy()
        if index + 1 in wanted:
            snapshots[index + 1] = image.to_uint8()
    final = image.to_uint8()
    scores = engine.score(tf.constant(final, tf.float32)).numpy()
    return Visualization(final, scores, history, snapshots, objectives, recipe, seed, [o.label for o in objectives])


def visualize_recipes(
    bundle: ModelBundle,
    objectives: Sequence[Objective],
    steps: dict[str, int],
    *,
    size: int | None = None,
    seed: int = 0,
    snapshot_steps: Sequence[int] = (),
) -> dict[str, Visualization]:
    """Run the same objectives with several recipes (same seed), for comparison.

    Args:
        bundle: The model.
        objectives: One image each.
        steps: Recipe name -> steps (e.g. ``{r: profile.steps(r) for r in RECIPES}``).
        size: Canvas side; see :func:`visualize`.
        seed: Seed shared by the recipes.
        snapshot_steps: Steps at which to keep copies (each recipe).

    Returns:
        Recipe name -> result, in the order of ``steps``.
    """
    return {
        name: visualize(bundle, objectives, name, steps=count, size=size, seed=seed, snapshot_steps=snapshot_steps)
        for name, count in steps.items()
    }


#: An objective at or below this at the end of a run never turned its unit on:
#: the image is still the recipe's start.
OFF_SCORE = 1e-6
#: An image whose pixel values (0-255) vary less than this is one flat tone on
#: the page. Lucid's near-grey start stays below it when a deep channel barely
#: moves (objective just above 0); a visible pattern is well above it (faint
#: tf-keras-vis tiles of EfficientNet-Lite0's last layer: 5 to 12).
FLAT_STD = 2.0


def is_flat(images: np.ndarray, min_std: float = FLAT_STD) -> np.ndarray:
    """Which images show nothing: one flat tone, however the objective moved.

    Args:
        images: ``(n, H, W, 3)`` pixel values in 0-255.
        min_std: Smallest standard deviation of the pixel values of an image that shows something.

    Returns:
        ``(n,)`` booleans.
    """
    return np.asarray(images, np.float64).reshape(len(images), -1).std(axis=1) < min_std


def visualize_first_that_draws(
    bundle: ModelBundle,
    objectives: Sequence[Objective],
    recipes: Sequence[str | Recipe],
    steps: dict[str, int],
    *,
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """Each objective drawn by the first recipe whose image is not flat (:func:`is_flat`).

    Lucid's recipe starts from a near-grey image, on which a deep channel can
    stay off, or barely on, for the whole run, leaving a flat tile;
    tf-keras-vis' starts from noise and often draws a pattern. Trying the
    recipes in order keeps one recipe for most tiles and says which drew each.

    Args:
        bundle: The model.
        objectives: One image each.
        recipes: Recipes to try, in order (names or :class:`Recipe` objects).
        steps: Recipe name -> steps.
        seed: Seed of every run.

    Returns:
        ``(n, size, size, 3)`` uint8 images and, per image, the name of the
        recipe that drew it (the last one tried when every image was flat).
    """
    if not recipes:
        raise ValueError("give at least one recipe")
    images: np.ndarray | None = None
    drawn_by = [""] * len(objectives)
    pending = list(range(len(objectives)))
    for attempt, recipe in enumerate(recipes):
        name = get_recipe(recipe).name
        result = visualize(bundle, [objectives[i] for i in pending], recipe, steps=steps[name], seed=seed)
        if images is None:
            images = np.zeros((len(objectives), *result.images.shape[1:]), np.uint8)
        last = attempt == len(recipes) - 1
        flat = is_flat(result.images)
        still_flat = []
        for index, image, shows_nothing in zip(pending, result.images, flat):
            if not shows_nothing or last:
                images[index], drawn_by[index] = image, name
            else:
                still_flat.append(index)
        pending = still_flat
        if not pending:
            break
    return images, drawn_by


def strip_steps(total: int, count: int = 5) -> list[int]:
    """Evenly spaced steps from 1 to ``total`` (1, 50, 100, 150, 200 for 200 steps)."""
    spaced = np.linspace(0, total, count).round().astype(int)
    return sorted({max(1, int(step)) for step in spaced})


def animation_steps(total: int, frames: int) -> list[int]:
    """About ``frames`` steps from 1 to ``total``, geometrically spaced: an image
    changes most in the first steps, so those get the most frames."""
    spaced = np.geomspace(1, total, max(frames, 2)).round().astype(int)
    return sorted(set(int(step) for step in spaced) | {total})


def draw_channels(width: int, count: int, seed: int) -> list[int]:
    """A seeded draw of ``count`` distinct channels out of ``width``, sorted."""
    rng = np.random.default_rng(seed)
    return sorted(int(c) for c in rng.choice(width, size=min(count, width), replace=False))


def target_probabilities(bundle: ModelBundle, result: Visualization) -> np.ndarray:
    """The model's probability, for each class image, of the class it was optimized for.

    Args:
        bundle: The model.
        result: Images of single class-logit objectives (``objectives.class_logit``).

    Returns:
        ``(n,)`` probabilities.
    """
    targets = []
    for objective in result.objectives:
        if len(objective.terms) != 1 or objective.terms[0].layer != LOGITS:
            raise ValueError(f"{objective.label!r} is not a single class logit")
        targets.append(objective.terms[0].index)
    probabilities = bundle.predict(result.images)
    return probabilities[np.arange(len(targets)), targets]
