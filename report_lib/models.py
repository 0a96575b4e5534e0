"""Model registry: one call gives a Keras ImageNet classifier together with
everything the visualization methods need to know about it."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from report_lib.config import MODEL_ENV
from report_lib.imagenet import Prediction, decode_predictions

AUTO = "auto"
VGG16 = "vgg16"
EFFICIENTNET_LITE0 = "efficientnet_lite0"

VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
VGG16_WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{VGG16_WEIGHTS_FILE}"
#: Seconds ``auto`` waits to learn whether the VGG16 weights can be downloaded.
AUTO_PROBE_TIMEOUT = 5.0

# The methods build a compiled function per model on purpose (every explained
# or randomized model gets its own); TensorFlow's retracing warnings about that
# would only clutter the notebooks. Set after TensorFlow's import, which resets it.
tf.get_logger().setLevel("ERROR")

Preprocess = Callable[[tf.Tensor], tf.Tensor]
CONV_LAYER_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


#: Images per forward pass of ``ModelBundle.predict``: as fast as larger
#: batches on a CPU once compiled, and a fraction of their memory.
PREDICT_BATCH = 16


@dataclass
class ModelBundle:
    """A classifier and the facts the visualization methods need.

    Attributes:
        name: Registry name (``vgg16``, ``efficientnet_lite0``, ...).
        model: Keras model from RGB-preprocessed input to class probabilities.
        preprocess: Differentiable map from RGB pixels in ``[0, 255]`` to the
            model's input; methods work on raw pixels through it.
        input_size: Side of the square input, in pixels.
        conv_layers: Names of the convolution layers, input to output.
        dense_layers: Names of the dense layers, input to output.
        cam_layer: Layer whose activations CAM methods weight (the last
            spatial feature map).
        choice: Why this model was chosen (filled in by ``auto``).
        class_names: Names of the classes of a model of your own; ``None``
            means the 1000 ImageNet classes.

    The bundle also keeps compiled helpers built for it (see
    ``attention.explainer_for``) in a private cache.
    """

    name: str
    model: keras.Model
    preprocess: Preprocess
    input_size: int
    conv_layers: list[str]
    dense_layers: list[str]
    cam_layer: str
    choice: str = ""
    class_names: list[str] | None = None
    _cache: dict = field(default_factory=dict, repr=False)

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
        key = ("forward", id(self.model))  # a copy of the bundle with another model must not reuse it
        if key not in self._cache:
            spec = tf.TensorSpec([None, self.input_size, self.input_size, 3], tf.float32)
            self._cache[key] = tf.function(lambda pixels: self.model(self.preprocess(pixels), training=False),
                                           input_signature=[spec])
        forward = self._cache[key]
        outputs = [forward(tf.constant(images[start : start + batch_size])).numpy()
                   for start in range(0, len(images), batch_size)]
        return np.concatenate(outputs) if outputs else np.zeros((0, self.model.output_shape[-1]), np.float32)

    def decode(self, probabilities: np.ndarray, top: int = 5) -> list[list[Prediction]]:
        """Top classes per image, with names (the offline ImageNet index, or ``class_names``)."""
        if self.class_names is None:
            return decode_predictions(probabilities, top=top)
        probabilities = np.asarray(probabilities)
        if probabilities.ndim != 2 or probabilities.shape[1] != len(self.class_names):
            raise ValueError(f"expected predictions of shape (batch, {len(self.class_names)}), got {probabilities.shape}")
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
        return [[Prediction(int(i), "", self.class_names[int(i)], float(row[i])) for i in order]
                for row, order in zip(probabilities, ranked)]

    def layer(self, name: str) -> keras.layers.Layer:
        """A layer by name, with the valid names in the error when it is missing."""
        try:
            return self.model.get_layer(name)
        except ValueError:
            raise ValueError(
                f"{self.name} has no layer {name!r}; conv layers: {self.conv_layers}; dense layers: {self.dense_layers}"
            ) from None


def linear_head_model(bundle: ModelBundle, feature_layers: Sequence[str] = ()) -> keras.Model:
    """A model returning the given layers' outputs and the class logits.

    The softmax is replaced by a linear copy of the classifier (tf-keras-vis'
    ``ReplaceToLinear``) so that gradients do not saturate.

    Args:
        bundle: The model to explain.
        feature_layers: Names of layers whose outputs come first.

    Returns:
        A functional model on the bundle's (preprocessed) input.
    """
    classifier = bundle.model.layers[-1]
    head = keras.layers.Dense(classifier.units, activation=None, name="linear_logits")
    logits = head(classifier.input)
    head.set_weights(classifier.get_weights())
    outputs = [bundle.layer(name).output for name in feature_layers]
    return keras.Model(bundle.model.inputs, [*outputs, logits])


def caffe_preprocess(images: tf.Tensor) -> tf.Tensor:
    """VGG16's preprocessing: RGB to BGR, minus the ImageNet channel means."""
    return images[..., ::-1] - tf.constant([103.939, 116.779, 123.68], dtype=images.dtype)


def lite_preprocess(images: tf.Tensor) -> tf.Tensor:
    """EfficientNet-Lite's preprocessing: ``(x - 127) / 128``."""
    return (images - 127.0) / 128.0


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


def bundle_from_model(
    model: keras.Model, preprocess: Preprocess, *, name: str | None = None, cam_layer: str | None = None, choice: str = ""
) -> ModelBundle:
    """Describe any Keras image classifier whose last layer is a softmax Dense.

    Args:
        model: Functional model with one square image input.
        preprocess: Map from RGB pixels in ``[0, 255]`` to the model's input.
        name: Display name; the model's own by default.
        cam_layer: Layer for CAM methods; the last 4-D output by default.
        choice: Note on why this model is used.

    Returns:
        The bundle.
    """
    height, width = model.input_shape[1:3]
    if height != width or height is None:
        raise ValueError(f"expected a square, fixed-size image input; got {model.input_shape}")
    if not isinstance(model.layers[-1], keras.layers.Dense):
        raise ValueError("the model's last layer must be the Dense classifier")
    bundle = ModelBundle(
        name=name or model.name,
        model=model,
        preprocess=preprocess,
        input_size=int(height),
        conv_layers=layer_names(model, CONV_LAYER_TYPES),
        dense_layers=layer_names(model, (keras.layers.Dense,)),
        cam_layer=cam_layer or last_spatial_layer(model),
        choice=choice,
    )
    bundle.layer(bundle.cam_layer)
    return bundle


def _keras_cache_file(filename: str) -> Path:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / filename


def vgg16_weights_status(timeout: float = AUTO_PROBE_TIMEOUT) -> tuple[bool, str]:
    """Whether VGG16's ImageNet weights are cached or can be downloaded.

    Args:
        timeout: Seconds to wait for the download server.

    Returns:
        ``(available, reason)``.
    """
    cached = _keras_cache_file(VGG16_WEIGHTS_FILE)
    if cached.exists():
        return True, f"VGG16 weights are cached at {cached}"
    request = urllib.request.Request(VGG16_WEIGHTS_URL, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True, "VGG16 weights are downloadable"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        return False, f"VGG16 weights are not cached and could not be reached within {timeout:g} s ({reason})"


def vgg16_bundle(weights: str | None = "imagenet") -> ModelBundle:
    """VGG16 as in the course (``keras.applications.VGG16``).

    Args:
        weights: ``"imagenet"`` (downloaded by Keras on first use, 528 MB) or
            ``None`` for random weights (tests, benchmarks).

    Returns:
        The bundle, with ``block5_conv3`` as the CAM layer.
    """
    model = keras.applications.VGG16(weights=weights)
    return bundle_from_model(model, caffe_preprocess, name=VGG16, cam_layer="block5_conv3")


def efficientnet_lite0_bundle() -> ModelBundle:
    """The embedded EfficientNet-Lite0 (offline ImageNet weights), CAM layer ``top_activation``."""
    from report_lib.efficientnet_lite import load_efficientnet_lite0

    return bundle_from_model(load_efficientnet_lite0(), lite_preprocess, name=EFFICIENTNET_LITE0, cam_layer="top_activation")


REGISTRY: dict[str, Callable[[], ModelBundle]] = {
    VGG16: vgg16_bundle,
    EFFICIENTNET_LITE0: efficientnet_lite0_bundle,
}


def resolve_model_name(name: str = AUTO, probe_timeout: float = AUTO_PROBE_TIMEOUT) -> tuple[str, str]:
    """Turn ``auto`` into a concrete model name.

    ``auto`` honours ``$REPORT_MODEL`` first, then picks VGG16 when its weights
    are cached or downloadable, else the embedded EfficientNet-Lite0.

    Args:
        name: A registry name or ``auto``.
        probe_timeout: Seconds to wait when probing the VGG16 download.

    Returns:
        ``(model_name, reason)``.
    """
    if name != AUTO:
        if name not in REGISTRY:
            raise ValueError(f"unknown model {name!r}; choose one of {[AUTO, *REGISTRY]}")
        return name, f"{name} was asked for"
    from_env = os.environ.get(MODEL_ENV)
    if from_env and from_env != AUTO:
        return resolve_model_name(from_env)[0], f"${MODEL_ENV}={from_env}"
    available, reason = vgg16_weights_status(probe_timeout)
    if available:
        return VGG16, f"auto: {reason}"
    return EFFICIENTNET_LITE0, f"auto fell back to the embedded model: {reason}"


#: Preprocessings a model of your own can name: RGB pixels in [0, 255] -> model input.
PREPROCESSING: dict[str, Preprocess] = {
    "caffe": caffe_preprocess,  # VGG16, ResNet50 (Keras applications)
    "lite": lite_preprocess,  # EfficientNet-Lite
    "tf": lambda images: images / 127.5 - 1.0,  # MobileNet, Inception, Xception
    "unit": lambda images: images / 255.0,  # pixels scaled to [0, 1]
    "none": lambda images: images,  # the model preprocesses (or expects [0, 255])
}
MODEL_FILE_SUFFIXES = (".keras", ".h5")


def is_model_file(name: str) -> bool:
    """Whether a model name is a path to a saved Keras model."""
    return str(name).endswith(MODEL_FILE_SUFFIXES)


def load_model_file(path: str | Path, preprocessing: str = "none", class_names: list[str] | None = None) -> ModelBundle:
    """Load your own saved Keras image classifier, safely.

    Keras' safe mode refuses files that would run arbitrary code (Lambda
    layers with pickled functions). The conv and dense layers and the CAM
    layer are found automatically.

    Args:
        path: A ``.keras`` or ``.h5`` file.
        preprocessing: One of ``PREPROCESSING`` (how pixels in [0, 255] become the model's input).
        class_names: Names of its classes; ``class 0``, ``class 1``, ... by default.

    Returns:
        The bundle.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a Keras model, refused by safe mode, not an image
            classifier (square image input, softmax Dense last), or unknown
            preprocessing.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file {path}")
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing {preprocessing!r}; choose one of {list(PREPROCESSING)}")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for bad files
        raise ValueError(f"{path} could not be loaded as a Keras model (safe mode): {error}") from None
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and shape[-1] == 3):
        raise ValueError(f"{path} is not an image classifier: its input has shape {shape}, not (batch, size, size, 3)")
    last = model.layers[-1]
    if not (isinstance(last, keras.layers.Dense) and getattr(last.activation, "__name__", "") == "softmax"):
        raise ValueError(f"{path} is not an image classifier: its last layer must be a softmax Dense, got {last.name}")
    names = list(class_names) if class_names else [f"class {i}" for i in range(last.units)]
    if len(names) != last.units:
        raise ValueError(f"{len(names)} class names given for a model with {last.units} classes")
    bundle = bundle_from_model(model, PREPROCESSING[preprocessing], name=path.stem, choice=f"model file {path}")
    bundle.class_names = names
    return bundle


def load_model(name: str = AUTO, preprocessing: str | None = None, class_names: list[str] | None = None) -> ModelBundle:
    """Load a model by name, with what the methods need.

    Args:
        name: ``vgg16``, ``efficientnet_lite0``, ``auto`` (the default), or
            the path of a saved Keras classifier (``.keras``, ``.h5``).
        preprocessing: For a model file: a key of ``PREPROCESSING``.
        class_names: For a model file: its class names.

    Returns:
        The bundle; ``bundle.choice`` says why this model was used.
    """
    if is_model_file(name):
        return load_model_file(name, preprocessing or "none", class_names)
    resolved, reason = resolve_model_name(name)
    bundle = REGISTRY[resolved]()
    bundle.choice = reason
    return bundle
