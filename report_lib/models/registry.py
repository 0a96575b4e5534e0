"""Model registry: one call gives a Keras ImageNet classifier, as a
:class:`ModelBundle`, with the reason it was chosen."""

from __future__ import annotations

import dataclasses
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Sequence

import keras

from report_lib.config import MODEL_ENV
from report_lib.models.bundle import PREPROCESSING, ModelBundle, bundle_from_model, caffe_preprocess, lite_preprocess
from report_lib.models.classes import imagenet_class_names, imagenet_wnids

AUTO = "auto"
VGG16 = "vgg16"
#: VGG16's architecture with random weights: tests and benchmarks only, never chosen by ``auto``.
VGG16_RANDOM = "vgg16_random"
EFFICIENTNET_LITE0 = "efficientnet_lite0"

VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
VGG16_WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{VGG16_WEIGHTS_FILE}"
#: Seconds ``auto`` waits to learn whether the VGG16 weights can be downloaded.
AUTO_PROBE_TIMEOUT = 5.0
MODEL_FILE_SUFFIXES = (".keras", ".h5")


def _imagenet_bundle(model: keras.Model, preprocess, name: str, cam_layer: str) -> ModelBundle:
    return bundle_from_model(model, preprocess, name=name, cam_layer=cam_layer,
                             class_names=imagenet_class_names(), wnids=imagenet_wnids())


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
    return _imagenet_bundle(model, caffe_preprocess, VGG16 if weights else VGG16_RANDOM, "block5_conv3")


def efficientnet_lite0_bundle() -> ModelBundle:
    """The embedded EfficientNet-Lite0 (offline ImageNet weights), CAM layer ``top_activation``."""
    from report_lib.models.efficientnet_lite import load_efficientnet_lite0

    return _imagenet_bundle(load_efficientnet_lite0(), lite_preprocess, EFFICIENTNET_LITE0, "top_activation")


REGISTRY: dict[str, Callable[[], ModelBundle]] = {
    VGG16: vgg16_bundle,
    EFFICIENTNET_LITE0: efficientnet_lite0_bundle,
    VGG16_RANDOM: lambda: vgg16_bundle(weights=None),
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
        reason = f"{name} was asked for"
        if name == VGG16_RANDOM:
            reason += " (RANDOM WEIGHTS: for testing the VGG16 code path; predictions mean nothing)"
        return name, reason
    from_env = os.environ.get(MODEL_ENV)
    if from_env and from_env != AUTO:
        resolved, reason = resolve_model_name(from_env)
        return resolved, f"${MODEL_ENV}={from_env}" + (reason[reason.index(" ("):] if " (" in reason else "")
    available, reason = vgg16_weights_status(probe_timeout)
    if available:
        return VGG16, f"auto: {reason}"
    return EFFICIENTNET_LITE0, f"auto fell back to the embedded model: {reason}"


def is_model_file(name: str) -> bool:
    """Whether a model name is a path to a saved Keras model."""
    return str(name).endswith(MODEL_FILE_SUFFIXES)


def load_model_file(path: str | Path, preprocessing: str = "none", class_names: Sequence[str] | None = None) -> ModelBundle:
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
    return bundle_from_model(model, PREPROCESSING[preprocessing], name=path.stem, class_names=class_names,
                             choice=f"model file {path}")


def load_model(name: str = AUTO, preprocessing: str | None = None, class_names: Sequence[str] | None = None) -> ModelBundle:
    """Load a model by name, with what the methods need.

    Args:
        name: ``vgg16``, ``efficientnet_lite0``, ``auto`` (the default),
            ``vgg16_random`` (tests), or the path of a saved Keras
            classifier (``.keras``, ``.h5``).
        preprocessing: For a model file: a key of ``PREPROCESSING``.
        class_names: For a model file: its class names.

    Returns:
        The bundle; ``bundle.choice`` says why this model was used.
    """
    if is_model_file(name):
        return load_model_file(name, preprocessing or "none", class_names)
    resolved, reason = resolve_model_name(name)
    return dataclasses.replace(REGISTRY[resolved](), choice=reason)
