"""Small models trained in this course, and the training helpers they share:
a CNN that learns synthetic squares in seconds (tests, the pointing game) and
a small VGG-style CNN for watching filters evolve."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from report_lib.models.bundle import ModelBundle, bundle_from_model


def compile_classifier(model: keras.Model, learning_rate: float) -> keras.Model:
    """Compile for integer labels with Adam and accuracy (recompile after (un)freezing)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def best_epoch(history: dict[str, list[float]]) -> int:
    """The 1-based epoch with the highest validation accuracy (the first, on ties)."""
    return int(np.argmax(history["val_accuracy"])) + 1


def best_epochs(history: dict[str, list[float]], key: str = "val_accuracy") -> list[int]:
    """Every 1-based epoch that reached the highest value of ``key`` (ties are ties).

    Args:
        history: Keras ``History.history``.
        key: The metric, validation accuracy by default.

    Returns:
        The epochs, ascending.
    """
    values = np.asarray(history[key])
    return [int(i) + 1 for i in np.flatnonzero(values == values.max())]


def first_epoch_reaching(history: dict[str, list[float]], key: str, value: float) -> int | None:
    """The first 1-based epoch where ``history[key] >= value``; ``None`` if never."""
    reached = np.flatnonzero(np.asarray(history[key]) >= value)
    return int(reached[0]) + 1 if len(reached) else None


class BestWeights(keras.callbacks.Callback):
    """Keep the weights of the epoch with the best validation accuracy (the
    first such epoch on ties), to restore them after training: a model is
    then scored at its best epoch as well as at its last.

    Attributes:
        epoch: 1-based epoch of the weights kept (0 before any epoch ends).
        value: Its validation accuracy.
    """

    def __init__(self, monitor: str = "val_accuracy") -> None:
        super().__init__()
        self.monitor = monitor
        self.epoch, self.value, self._weights = 0, -np.inf, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.value:  # strictly better: the first best epoch wins ties
            self.epoch, self.value, self._weights = epoch + 1, float(value), self.model.get_weights()

    def restore(self) -> None:
        """Load the kept weights into the model."""
        if self._weights is None:
            raise RuntimeError(f"no epoch reported {self.monitor}; nothing to restore")
        self.model.set_weights(self._weights)


def last_and_best_accuracy(model: keras.Model, keeper: BestWeights, data, keep: str = "best") -> tuple[float, float]:
    """Test accuracy of a trained model at its last epoch and with the weights
    of its best validation epoch.

    Args:
        model: The model, as training left it (its last epoch).
        keeper: The ``BestWeights`` callback that watched its training.
        data: Test data for ``model.evaluate``.
        keep: Which weights the model holds afterwards: ``"best"`` or ``"last"``.

    Returns:
        (accuracy at the last epoch, accuracy at the best validation epoch).
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    last_weights = model.get_weights()
    last = float(model.evaluate(data, verbose=0)[1])
    keeper.restore()
    best = float(model.evaluate(data, verbose=0)[1])
    if keep == "last":
        model.set_weights(last_weights)
    return last, best


def scale_pixels(images: tf.Tensor) -> tf.Tensor:
    """The small CNNs' preprocessing: pixels to ``[0, 1]``."""
    return images / 255.0


def centre_pixels(images: tf.Tensor) -> tf.Tensor:
    """Pixels to ``[-1, 1]``, centred on mid-grey.

    For a network trained from scratch with ReLUs: on all-positive inputs a
    first-layer filter whose weights sum below zero is negative everywhere,
    its ReLU never fires and it stops learning (13 of 32 filters of section
    08's network on ``[0, 1]`` inputs, none on these).
    """
    return images / 127.5 - 1.0


def build_small_cnn(size: int = 32, seed: int = 0, num_classes: int = 2) -> keras.Model:
    """Three conv layers, global average pooling and a softmax."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def train_small_cnn(images: np.ndarray, labels: np.ndarray, epochs: int = 6, seed: int = 0,
                    class_names: tuple[str, ...] | None = None) -> ModelBundle:
    """Train the small CNN on labelled images (a few seconds on a CPU for the synthetic squares).

    Args:
        images: ``(n, size, size, 3)`` uint8.
        labels: ``(n,)`` int labels.
        epochs: Passes over the data.
        seed: Seeds the initial weights and the shuffling.
        class_names: Names of the classes; ``class 0``, ... by default.

    Returns:
        The trained model as a bundle (CAM layer ``last_conv``).
    """
    num_classes = len(class_names) if class_names else int(np.max(labels)) + 1
    model = build_small_cnn(images.shape[1], seed, num_classes)
    compile_classifier(model, 3e-3)
    model.fit(scale_pixels(tf.constant(images, tf.float32)), labels, epochs=epochs, batch_size=32, verbose=0)
    return bundle_from_model(model, scale_pixels, name="small_cnn", class_names=class_names)


def small_scratch_cnn(size: int, num_classes: int, seed: int = 0, first_kernel: int = 5,
                      first_init_std: float | None = None) -> keras.Model:
    """A small VGG-style CNN for watching filters evolve.

    Args:
        size: Side of the input images.
        num_classes: Classes of the softmax.
        seed: Seeds the initial weights.
        first_kernel: Side of the first layer's kernels (5: large enough to see).
        first_init_std: Start the first layer from normal noise of this
            standard deviation instead of Glorot's (about 0.08 here); small
            noise makes what training adds stand out from where it started.

    Returns:
        The uncompiled model (layers ``conv1`` to ``conv3``, ``dense``, ``predictions``).
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    initializer = keras.initializers.RandomNormal(stddev=first_init_std, seed=seed) if first_init_std else "glorot_uniform"
    x = keras.layers.Conv2D(32, first_kernel, padding="same", activation="relu", kernel_initializer=initializer,
                            name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(64, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_scratch_cnn")
