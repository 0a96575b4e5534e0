"""Transfer learning: a flowers data set where there is internet, a texture
stand-in built from installed sample images where there is not, the
transferred and from-scratch models, and a callback that records how
filters evolve over the epochs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from report_lib.images import resize_rgb
from report_lib.models import ModelBundle

#: Offline stand-in: large grey-level scikit-image pictures, one class each;
#: crops are shown in grey so that colour alone cannot tell the classes apart.
TEXTURE_CLASSES: dict[str, str] = {
    "brick": "a brick wall (scikit-image, CC0)",
    "grass": "grass (scikit-image, CC0)",
    "gravel": "gravel (scikit-image, CC0)",
    "moon": "the surface of the moon (NASA, public domain, via scikit-image)",
    "camera": "the cameraman (scikit-image; owned by MIT)",
    "cell": "a cell under a microscope (scikit-image, CC0)",
    "coins": "Greek coins (Brooklyn Museum, via scikit-image)",
    "hubble_deep_field": "Hubble deep field (NASA, public domain, via scikit-image)",
}
#: Fractions of each image's width reserved for the three splits, left to right.
SPLIT_BANDS: dict[str, tuple[float, float]] = {"train": (0.0, 0.6), "validation": (0.6, 0.8), "test": (0.8, 1.0)}


@dataclass
class ImageSplits:
    """A classification data set in three splits.

    Attributes:
        name: Which data set ran (shown on the page).
        class_names: Class names, by label.
        images: Split -> ``(n, size, size, 3)`` uint8.
        labels: Split -> ``(n,)`` int labels.
        boxes: Split -> ``(n, 4)`` crop boxes (top, left, bottom, right) in
            the source image of each crop, for the offline set (empty otherwise).
    """

    name: str
    class_names: list[str]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    boxes: dict[str, np.ndarray] = field(default_factory=dict)


def _texture_image(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray

    image = getattr(data, name)()
    grey = rgb2gray(image) if image.ndim == 3 else image / 255.0
    return np.repeat(np.round(255 * grey).astype(np.uint8)[..., None], 3, axis=-1)


def texture_crops(
    per_class: dict[str, int], size: int = 128, crop_fraction: float = 0.15, seed: int = 0,
    classes: Sequence[str] = tuple(TEXTURE_CLASSES),
) -> ImageSplits:
    """The offline stand-in: square crops of large sample images, one class per image.

    Each image is cut into vertical bands (60% train, 20% validation, 20%
    test, left to right); a crop lies entirely within its split's band, so no
    test pixel is ever seen in training.

    Args:
        per_class: Split -> crops per class (balanced classes).
        size: Side of the returned crops.
        crop_fraction: Crop side as a fraction of the image's shorter side.
        seed: Seeds the crop positions and mirroring.
        classes: Sample names of scikit-image's data to use as classes.

    Returns:
        The splits.
    """
    rng = np.random.default_rng(seed)
    images, labels, boxes = {}, {}, {}
    sources = [_texture_image(name) for name in classes]
    for split, count in per_class.items():
        low, high = SPLIT_BANDS[split]
        crops, split_labels, split_boxes = [], [], []
        for label, source in enumerate(sources):
            height, width = source.shape[:2]
            side = int(crop_fraction * min(height, width))
            left_min, left_max = int(np.ceil(low * width)), int(np.floor(high * width)) - side
            if left_max < left_min:
                raise ValueError(f"crops of {side} px do not fit the {split} band of {classes[label]}")
            for _ in range(count):
                top = int(rng.integers(0, height - side + 1))
                left = int(rng.integers(left_min, left_max + 1))
                crop = resize_rgb(source[top : top + side, left : left + side], size)
                crops.append(crop[::-1] if rng.random() < 0.5 else crop)  # vertical flips keep the bands apart
                split_labels.append(label)
                split_boxes.append((top, left, top + side, left + side))
        images[split] = np.stack(crops)
        labels[split] = np.array(split_labels)
        boxes[split] = np.array(split_boxes)
    return ImageSplits("textures (offline stand-in)", list(classes), images, labels, boxes)


def load_tf_flowers(size: int, per_class: dict[str, int], seed: int = 0, timeout: float = 60.0) -> ImageSplits | None:
    """tf_flowers through tensorflow-datasets, or ``None`` when it cannot be had in time.

    The download runs in a background thread that is abandoned after
    ``timeout`` seconds, so a stalled connection never hangs the notebook.

    Args:
        size: Side of the returned images.
        per_class: Split -> images per class.
        seed: Seeds the shuffling.
        timeout: Seconds before giving up.

    Returns:
        The splits, or ``None`` (with the reason printed).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        print("tensorflow-datasets is not installed: using the offline stand-in")
        return None
    result: dict[str, object] = {}

    def download() -> None:
        try:
            result["data"] = tfds.load("tf_flowers", split="train", as_supervised=True, shuffle_files=False)
            result["names"] = tfds.builder("tf_flowers").info.features["label"].names
        except Exception as error:  # any failure means: fall back
            result["error"] = error

    worker = threading.Thread(target=download, daemon=True)
    worker.start()
    worker.join(timeout)
    if "data" not in result:
        print(f"tf_flowers unavailable ({result.get('error', f'no answer within {timeout:g} s')}): using the offline stand-in")
        return None
    names = list(result["names"])
    wanted = sum(per_class.values())
    by_class: dict[int, list[np.ndarray]] = {label: [] for label in range(len(names))}
    for image, label in result["data"]:
        label = int(label)
        if len(by_class[label]) < wanted:
            by_class[label].append(resize_rgb(image.numpy(), size))
        if all(len(v) >= wanted for v in by_class.values()):
            break
    rng = np.random.default_rng(seed)
    images, labels, start = {}, {}, 0
    for split, count in per_class.items():
        chosen = [(np.stack(by_class[c][start : start + count]), c) for c in by_class]
        images[split] = np.concatenate([batch for batch, _ in chosen])
        labels[split] = np.concatenate([[c] * len(batch) for batch, c in chosen])
        order = rng.permutation(len(labels[split]))
        images[split], labels[split] = images[split][order], labels[split][order]
        start += count
    return ImageSplits("tf_flowers", names, images, labels)


def dataset(images: np.ndarray, labels: np.ndarray, preprocess: Callable, batch_size: int = 32,
            shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A cached, prefetched tf.data pipeline of preprocessed images."""
    data = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), labels))
    data = data.map(lambda x, y: (preprocess(x), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if shuffle:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def conv_base(bundle: ModelBundle, size: int, pretrained: bool = True) -> keras.Model:
    """The model's convolutional part (input to ``cam_layer``) at a new input size.

    Args:
        bundle: The ImageNet model.
        size: Input side for the new task.
        pretrained: Copy the ImageNet weights (else fresh random weights).

    Returns:
        A functional model whose layers are copies of the bundle's.
    """
    truncated = keras.Model(bundle.model.inputs, bundle.layer(bundle.cam_layer).output)
    base = keras.models.clone_model(truncated, input_tensors=[keras.Input((size, size, 3), name="image")])
    if pretrained:
        base.set_weights(truncated.get_weights())
    return base


def scratch_base(bundle: ModelBundle, size: int) -> keras.Model:
    """The same conv architecture with fresh random weights, for training from scratch.

    The embedded model's registry copy has its batch norms folded into the
    convolutions, which suits inference but not training; its from-scratch
    twin is built with batch norm.
    """
    from report_lib.models import EFFICIENTNET_LITE0, bundle_from_model

    if bundle.name == EFFICIENTNET_LITE0:
        from report_lib.efficientnet_lite import build_efficientnet_lite0

        bundle = bundle_from_model(build_efficientnet_lite0(fold_batch_norm=False), bundle.preprocess,
                                   cam_layer=bundle.cam_layer)
    return conv_base(bundle, size, pretrained=False)


def last_block_start(bundle: ModelBundle) -> str:
    """The first layer of the last convolution block (where fine-tuning starts)."""
    from report_lib.metrics import layer_groups

    for _, layers in layer_groups(bundle):
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


def best_epoch(history: dict[str, list[float]]) -> int:
    """The 1-based epoch with the highest validation accuracy (the first, on ties)."""
    return int(np.argmax(history["val_accuracy"])) + 1


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


def small_scratch_cnn(size: int, num_classes: int, seed: int = 0) -> keras.Model:
    """A small VGG-style CNN with 5x5 first-layer filters (large enough to see),
    for watching filters evolve."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(64, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_scratch_cnn")


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


def compile_classifier(model: keras.Model, learning_rate: float) -> keras.Model:
    """Compile for integer labels with Adam and accuracy (recompile after (un)freezing)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


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
    from report_lib.featurevis import visualize
    from report_lib.models import bundle_from_model
    from report_lib.objectives import channel

    def visualize_channels(model: keras.Model, layer: str, channels: Sequence[int]) -> np.ndarray:
        bundle = bundle_from_model(model, preprocess, name=model.name)
        objectives = [channel(layer, c) for c in channels]
        return visualize(bundle, objectives, "lucid", steps=steps, size=size, seed=seed, progress=False).images

    return visualize_channels


def texture_credits() -> str:
    """Markdown credits of the offline stand-in's source pictures."""
    return "\n".join(f"- **{name}** (texture set): {credit}" for name, credit in TEXTURE_CLASSES.items())
