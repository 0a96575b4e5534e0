"""A classifier together with everything the visualization methods need to
know about it: how pixels become its input, its layers, its classes, and the
compiled functions built for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable, Sequence, TypeVar

import keras
import numpy as np
import tensorflow as tf

from report_lib.models.classes import Prediction, find_class
from report_lib.models.layers import CONV_LAYER_TYPES, last_spatial_layer, layer_names

# The methods build a compiled function per model on purpose (every explained
# or randomized model gets its own); TensorFlow's retracing warnings about that
# would only clutter the notebooks. Set after TensorFlow's import, which resets it.
tf.get_logger().setLevel("ERROR")

Preprocess = Callable[[tf.Tensor], tf.Tensor]
T = TypeVar("T")

#: Stand-in layer name for the classifier's output before its softmax.
LOGITS = "logits"
#: Images per forward pass of ``ModelBundle.predict``: as fast as larger
#: batches on a CPU once compiled, and a fraction of their memory.
PREDICT_BATCH = 16
#: How ``ModelBundle.submodel`` treats weights when it rebuilds a model on a new input.
SUBMODEL_WEIGHTS = ("shared", "copied", "random")


@dataclass(frozen=True)
class ModelBundle:
    """A classifier and the facts the visualization methods need.

    Attributes:
        name: Registry name (``vgg16``, ``efficientnet_lite0``, ...).
        model: Keras model from preprocessed input to class probabilities.
        preprocess: Differentiable map from RGB pixels in ``[0, 255]`` to the
            model's input; methods work on raw pixels through it.
        input_size: Side of the square input, in pixels.
        conv_layers: Names of the convolution layers, input to output.
        dense_layers: Names of the dense layers, input to output.
        cam_layer: Layer whose activations CAM methods weight (the last
            spatial feature map).
        class_names: One name per class, in class order (ImageNet's 1000 or
            a model's own).
        wnids: WordNet ids of the classes, for ImageNet models.
        choice: Why this model is used (the registry fills it in).

    Compiled functions built for the model (its forward pass, explainers)
    are kept by the bundle itself: see :meth:`cached`. A copy made with
    ``dataclasses.replace`` starts with an empty cache.
    """

    name: str
    model: keras.Model
    preprocess: Preprocess
    input_size: int
    conv_layers: tuple[str, ...]
    dense_layers: tuple[str, ...]
    cam_layer: str
    class_names: tuple[str, ...]
    wnids: tuple[str, ...] | None = None
    choice: str = ""
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """Something built for this model once and reused (compiled functions).

        Args:
            key: What it is, e.g. ``("explainer", "top_activation")``.
            build: Makes it the first time.

        Returns:
            The cached object.
        """
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def predict(self, images: np.ndarray, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Class probabilities of RGB images.

        The forward pass is compiled once per model for any batch size, and
        images go through it ``batch_size`` at a time: the activations, not the
        images, bound the memory (169 occluded copies of one image in a single
        batch took 2 GB with EfficientNet-Lite0).

        Args:
            images: ``(n, input_size, input_size, 3)`` RGB in ``[0, 255]``.
            batch_size: Images per forward pass.

        Returns:
            ``(n, classes)`` probabilities.
        """
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"expected images of shape (n, {self.input_size}, {self.input_size}, 3), got {images.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        forward = self.cached("forward", self._compile_forward)
        outputs = [forward(tf.constant(images[start : start + batch_size])).numpy()
                   for start in range(0, len(images), batch_size)]
        return np.concatenate(outputs) if outputs else np.zeros((0, len(self.class_names)), np.float32)

    def _compile_forward(self):
        spec = tf.TensorSpec([None, self.input_size, self.input_size, 3], tf.float32)
        return tf.function(lambda pixels: self.model(self.preprocess(pixels), training=False), input_signature=[spec])

    def decode(self, probabilities: np.ndarray, top: int = 5) -> list[list[Prediction]]:
        """Top classes per image, most probable first.

        Args:
            probabilities: ``(n, classes)``.
            top: Classes kept per image.

        Returns:
            One list of :class:`Prediction` per image.
        """
        probabilities = np.asarray(probabilities)
        if probabilities.ndim != 2 or probabilities.shape[1] != len(self.class_names):
            raise ValueError(f"expected predictions of shape (batch, {len(self.class_names)}), got {probabilities.shape}")
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
        wnids = self.wnids or ("",) * len(self.class_names)
        return [[Prediction(int(i), wnids[int(i)], self.class_names[int(i)], float(row[i])) for i in order]
                for row, order in zip(probabilities, ranked)]

    def class_label(self, class_id: int) -> str:
        """The readable name of a class (``"Egyptian cat"`` for ``Egyptian_cat``)."""
        if not 0 <= int(class_id) < len(self.class_names):
            raise ValueError(f"class ids of {self.name} run from 0 to {len(self.class_names) - 1}, got {class_id}")
        return self.class_names[int(class_id)].replace("_", " ")

    def find_class(self, query: str) -> int:
        """The id of the class a name (or a unique part of it) names; see
        :func:`report_lib.models.classes.find_class`."""
        return find_class(query, self.class_names)

    def layer(self, name: str) -> keras.layers.Layer:
        """A layer by name, with the valid names in the error when it is missing."""
        try:
            return self.model.get_layer(name)
        except ValueError:
            raise ValueError(
                f"{self.name} has no layer {name!r}; conv layers: {list(self.conv_layers)}; "
                f"dense layers: {list(self.dense_layers)}"
            ) from None

    def submodel(
        self, outputs: Sequence[str], *, input_shape: tuple[int | None, int | None, int] | None = None,
        weights: str = "shared",
    ) -> keras.Model:
        """A model from the (preprocessed) input to the named layers' outputs.

        ``LOGITS`` names the classifier's output before its softmax: a linear
        copy of the last Dense layer (tf-keras-vis' ``ReplaceToLinear``), so
        that gradients do not saturate.

        Args:
            outputs: Layer names (or ``LOGITS``); one output each, in order.
            input_shape: ``None`` keeps the model's input; otherwise the graph
                is rebuilt on a new input, e.g. ``(None, None, 3)`` for any
                size or ``(128, 128, 3)`` (spatial layers only).
            weights: With a new input: ``"shared"`` (the same layer objects),
                ``"copied"`` (new layers holding copies of the weights) or
                ``"random"`` (new layers, freshly initialized).

        Returns:
            A functional model; a single output is returned as a tensor, several as a list.
        """
        if not outputs:
            raise ValueError("name at least one output layer")
        if weights not in SUBMODEL_WEIGHTS:
            raise ValueError(f"weights must be one of {SUBMODEL_WEIGHTS}, got {weights!r}")
        tensors = [self._linear_logits() if name == LOGITS else self.layer(name).output for name in outputs]
        truncated = keras.Model(self.model.inputs, tensors[0] if len(tensors) == 1 else tensors)
        if input_shape is None:
            return truncated
        if LOGITS in outputs:
            raise ValueError("the logits need the model's own input; leave input_shape as None")
        new_input = keras.Input(input_shape)
        if weights == "shared":
            return keras.models.clone_model(truncated, input_tensors=[new_input], clone_function=lambda layer: layer)
        rebuilt = keras.models.clone_model(truncated, input_tensors=[new_input])
        if weights == "copied":
            rebuilt.set_weights(truncated.get_weights())
        return rebuilt

    def _linear_logits(self) -> keras.KerasTensor:
        classifier = self.model.layers[-1]
        head = keras.layers.Dense(classifier.units, activation=None, name="linear_logits")
        logits = head(classifier.input)
        head.set_weights(classifier.get_weights())
        return logits


def caffe_preprocess(images: tf.Tensor) -> tf.Tensor:
    """VGG16's preprocessing: RGB to BGR, minus the ImageNet channel means."""
    return images[..., ::-1] - tf.constant([103.939, 116.779, 123.68], dtype=images.dtype)


def lite_preprocess(images: tf.Tensor) -> tf.Tensor:
    """EfficientNet-Lite's preprocessing: ``(x - 127) / 128``."""
    return (images - 127.0) / 128.0


#: Preprocessings a model of your own can name: RGB pixels in [0, 255] -> model input.
PREPROCESSING: dict[str, Preprocess] = {
    "caffe": caffe_preprocess,  # VGG16, ResNet50 (Keras applications)
    "lite": lite_preprocess,  # EfficientNet-Lite
    "tf": lambda images: images / 127.5 - 1.0,  # MobileNet, Inception, Xception
    "unit": lambda images: images / 255.0,  # pixels scaled to [0, 1]
    "none": lambda images: images,  # the model preprocesses (or expects [0, 255])
}


def bundle_from_model(
    model: keras.Model,
    preprocess: Preprocess,
    *,
    name: str | None = None,
    cam_layer: str | None = None,
    class_names: Sequence[str] | None = None,
    wnids: Sequence[str] | None = None,
    choice: str = "",
) -> ModelBundle:
    """Describe any Keras image classifier whose last layer is a softmax Dense.

    Args:
        model: Functional model with one square image input.
        preprocess: Map from RGB pixels in ``[0, 255]`` to the model's input.
        name: Display name; the model's own by default.
        cam_layer: Layer for CAM methods; the last 4-D output by default.
        class_names: One per class; ``class 0``, ``class 1``, ... by default.
        wnids: WordNet ids of the classes (ImageNet models).
        choice: Note on why this model is used.

    Returns:
        The bundle.
    """
    height, width = model.input_shape[1:3]
    if height != width or height is None:
        raise ValueError(f"expected a square, fixed-size image input; got {model.input_shape}")
    classifier = model.layers[-1]
    if not isinstance(classifier, keras.layers.Dense):
        raise ValueError("the model's last layer must be the Dense classifier")
    names = tuple(class_names) if class_names is not None else tuple(f"class {i}" for i in range(classifier.units))
    if len(names) != classifier.units:
        raise ValueError(f"{len(names)} class names given for a model with {classifier.units} classes")
    bundle = ModelBundle(
        name=name or model.name,
        model=model,
        preprocess=preprocess,
        input_size=int(height),
        conv_layers=tuple(layer_names(model, CONV_LAYER_TYPES)),
        dense_layers=tuple(layer_names(model, (keras.layers.Dense,))),
        cam_layer=cam_layer or last_spatial_layer(model),
        class_names=names,
        wnids=tuple(wnids) if wnids is not None else None,
        choice=choice,
    )
    bundle.layer(bundle.cam_layer)
    return bundle
