"""Attention maps: saliency, SmoothGrad, Grad-CAM, Grad-CAM++ and Score-CAM.

Every method takes RGB images in ``[0, 255]`` and the class to explain, and
returns one *raw* map per image at the input size, in the method's own units
(gradient magnitudes, CAM activations); ``methods.maps`` scales them. The forward
and backward passes are compiled once per explainer (``tf.function``) and run
in bounded batches, unlike tf-keras-vis, which runs eagerly and builds all of
Score-CAM's masked images in host memory at once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from report_lib.models.bundle import LOGITS, ModelBundle

_EPSILON = 1e-7


def _as_class_ids(class_ids: int | Sequence[int] | np.ndarray, count: int) -> tf.Tensor:
    ids = np.atleast_1d(np.asarray(class_ids, dtype=np.int32))
    if ids.size == 1 and count > 1:
        ids = np.repeat(ids, count)
    if ids.shape != (count,):
        raise ValueError(f"expected one class id per image ({count}), got {ids.size}")
    return tf.constant(ids)


def _as_images(images: np.ndarray, size: int) -> tf.Tensor:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise ValueError(f"expected images of shape (n, {size}, {size}, 3), got {images.shape}")
    return tf.constant(images, dtype=tf.float32)


def _pick(logits: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
    return tf.gather(logits, class_ids, axis=1, batch_dims=1)


def _upsample(maps: tf.Tensor, size: int) -> tf.Tensor:
    return tf.image.resize(maps[..., None], (size, size), method="bilinear")[..., 0]


class Explainer:
    """Compiled attention methods for one model and one CAM layer.

    Args:
        bundle: The model to explain (from ``report_lib.models``).
        layer: Layer for the CAM methods; ``bundle.cam_layer`` by default.

    Example:
        >>> explainer = Explainer(bundle)
        >>> maps = explainer.gradcam(images, class_ids=[285, 967])
    """

    def __init__(self, bundle: ModelBundle, layer: str | None = None):
        self.bundle = bundle
        self.layer = layer or bundle.cam_layer
        self.size = bundle.input_size
        self._logits_model = bundle.submodel([LOGITS])
        self._cam_model = bundle.submodel([self.layer, LOGITS])
        preprocess = bundle.preprocess
        spec_images = tf.TensorSpec([None, self.size, self.size, 3], tf.float32)
        spec_ids = tf.TensorSpec([None], tf.int32)

        @tf.function(input_signature=[spec_images, spec_ids])
        def input_gradients(images, class_ids):
            with tf.GradientTape() as tape:
                tape.watch(images)
                scores = _pick(self._logits_model(preprocess(images), training=False), class_ids)
            return tape.gradient(scores, images)

        @tf.function(input_signature=[spec_images, spec_ids])
        def cam_gradients(images, class_ids):
            with tf.GradientTape() as tape:
                features, logits = self._cam_model(preprocess(images), training=False)
                scores = _pick(logits, class_ids)
            return features, tape.gradient(scores, features)

        @tf.function(input_signature=[tf.TensorSpec([None, *self._logits_model.input_shape[1:]], tf.float32), spec_ids])
        def class_probabilities(model_inputs, class_ids):
            logits = self._logits_model(model_inputs, training=False)
            return _pick(tf.nn.softmax(logits), class_ids)

        self._input_gradients = input_gradients
        self._cam_gradients = cam_gradients
        self._class_probabilities = class_probabilities

    # --- gradients with respect to the pixels -------------------------------

    def saliency(self, images: np.ndarray, class_ids: int | Sequence[int]) -> np.ndarray:
        """Vanilla gradient saliency (Simonyan et al. 2013).

        Args:
            images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
            class_ids: One class per image, or one for all.

        Returns:
            ``(n, size, size)`` raw maps: max over colour channels of the
            absolute gradient of the class logit.
        """
        x = _as_images(images, self.size)
        grads = self._input_gradients(x, _as_class_ids(class_ids, len(x)))
        return tf.reduce_max(tf.abs(grads), axis=-1).numpy()

    def smoothgrad(
        self,
        images: np.ndarray,
        class_ids: int | Sequence[int],
        samples: int = 32,
        noise_level: float = 0.2,
        seed: int = 0,
        batch_size: int = 16,
        progress: bool = False,
    ) -> np.ndarray:
        """SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies.

        Args:
            images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
            class_ids: One class per image, or one for all.
            samples: Noisy copies per image.
            noise_level: Noise standard deviation as a fraction of the
                image's value range.
            seed: Seed of the noise; the same seed gives the same maps.
            batch_size: Noisy copies per compiled call (bounds memory).
            progress: Show a progress bar.

        Returns:
            ``(n, size, size)`` raw maps: max over colour channels of the
            absolute averaged gradient.
        """
        if samples < 1:
            raise ValueError("samples must be at least 1")
        x = _as_images(images, self.size).numpy()
        ids = _as_class_ids(class_ids, len(x)).numpy()
        rng = np.random.default_rng(seed)
        maps = []
        for image, class_id in tqdm(list(zip(x, ids)), desc="SmoothGrad", disable=not progress, leave=False):
            sigma = noise_level * float(image.max() - image.min())
            total = np.zeros_like(image)
            for start in range(0, samples, batch_size):
                count = min(batch_size, samples - start)
                noisy = image[None] + rng.normal(0.0, sigma, size=(count, *image.shape)).astype(np.float32)
                grads = self._input_gradients(tf.constant(noisy), tf.fill([count], int(class_id)))
                total += tf.reduce_sum(grads, axis=0).numpy()
            maps.append(np.abs(total / samples).max(axis=-1))
        return np.stack(maps).astype(np.float32)

    # --- class activation maps ----------------------------------------------

    def _cam_inputs(self, images, class_ids):
        x = _as_images(images, self.size)
        features, grads = self._cam_gradients(x, _as_class_ids(class_ids, len(x)))
        return features, grads

    def _finish(self, cams: tf.Tensor, upsample: bool) -> np.ndarray:
        # The ReLU is part of every CAM method's definition: only evidence for the class.
        cams = tf.nn.relu(cams)
        return (_upsample(cams, self.size) if upsample else cams).numpy()

    def gradcam(self, images: np.ndarray, class_ids: int | Sequence[int], upsample: bool = True) -> np.ndarray:
        """Grad-CAM (Selvaraju et al. 2017).

        Each channel of the CAM layer is weighted by the spatial mean of the
        class logit's gradient; the weighted sum, after ReLU, is the map.

        Args:
            images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
            class_ids: One class per image, or one for all.
            upsample: Resize to the input size (else the layer's resolution).

        Returns:
            ``(n, size, size)`` raw maps (the positive part of the weighted
            sum of the layer's channels).
        """
        features, grads = self._cam_inputs(images, class_ids)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        return self._finish(tf.reduce_sum(weights * features, axis=-1), upsample)

    def gradcam_plus_plus(self, images: np.ndarray, class_ids: int | Sequence[int], upsample: bool = True) -> np.ndarray:
        """Grad-CAM++ (Chattopadhay et al. 2018).

        Weights each position's positive gradient by a coefficient built from
        higher-order derivatives (with the exponential of the score, as in the
        paper and tf-keras-vis; the score's factor cancels in the ratio and
        the final normalization, so it is left out to avoid overflow).

        Args and Returns: as :meth:`gradcam`.
        """
        features, grads = self._cam_inputs(images, class_ids)
        second = grads**2
        third = grads**3
        global_sum = tf.reduce_sum(features, axis=(1, 2), keepdims=True)
        denominator = 2.0 * second + third * global_sum
        denominator += tf.cast(second == 0.0, second.dtype)
        alphas = second / denominator
        alpha_total = tf.reduce_sum(alphas, axis=(1, 2), keepdims=True)
        alphas /= alpha_total + tf.cast(alpha_total == 0.0, alpha_total.dtype)
        weights = tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(1, 2), keepdims=True)
        return self._finish(tf.reduce_sum(weights * features, axis=-1), upsample)

    def scorecam(
        self,
        images: np.ndarray,
        class_ids: int | Sequence[int],
        max_channels: int | None = 128,
        batch_size: int = 32,
        upsample: bool = True,
        progress: bool = False,
    ) -> np.ndarray:
        """Score-CAM (Wang et al. 2020), with the Faster-Score-CAM channel limit.

        Each activation map, upsampled and scaled to ``[0, 1]``, masks the
        preprocessed image (so masked-out pixels become the model's zero
        input, the mean colour for VGG16 and mid-grey for EfficientNet-Lite);
        the class probability of the masked image is that channel's weight.
        No gradients are used.

        Args:
            images: ``(n, size, size, 3)`` RGB in ``[0, 255]``.
            class_ids: One class per image, or one for all.
            max_channels: Keep at most this many channels, those with the
                largest spatial standard deviation (Faster Score-CAM);
                ``None`` keeps all.
            batch_size: Masked images per forward pass (bounds memory).
            upsample: Resize to the input size (else the layer's resolution).
            progress: Show a progress bar.

        Returns:
            ``(n, size, size)`` raw maps (the positive part of the weighted
            sum of the layer's channels).
        """
        x = _as_images(images, self.size)
        ids = _as_class_ids(class_ids, len(x))
        features, _ = self._cam_gradients(x, ids)
        model_inputs = self.bundle.preprocess(x)
        channels = features.shape[-1]
        if max_channels is not None and max_channels < 1:
            raise ValueError(f"max_channels must be at least 1 (or None for all), got {max_channels}")
        keep = channels if max_channels is None else min(int(max_channels), channels)
        cams = []
        for index in tqdm(range(len(x)), desc="Score-CAM", disable=not progress, leave=False):
            activation = features[index]
            spread = tf.math.reduce_std(activation, axis=(0, 1))
            chosen = tf.math.top_k(spread, k=keep, sorted=True).indices
            activation = tf.gather(activation, chosen, axis=-1)
            masks = tf.image.resize(activation[None], (self.size, self.size), method="bilinear")[0]
            low = tf.reduce_min(masks, axis=(0, 1), keepdims=True)
            high = tf.reduce_max(masks, axis=(0, 1), keepdims=True)
            masks = tf.transpose((masks - low) / (high - low + _EPSILON), (2, 0, 1))
            weights = []
            for start in range(0, keep, batch_size):
                chunk = masks[start : start + batch_size]
                masked = model_inputs[index][None] * chunk[..., None]
                weights.append(self._class_probabilities(masked, tf.fill([len(chunk)], ids[index])))
            weights = tf.concat(weights, axis=0)
            cams.append(tf.reduce_sum(activation * weights, axis=-1))
        return self._finish(tf.stack(cams), upsample)


def explainer_for(bundle: ModelBundle, layer: str | None = None) -> Explainer:
    """The bundle's explainer for a CAM layer, built (and compiled) once and
    then reused, so that running several methods on one model, as the metrics
    do for every randomized model, traces its functions only once.

    Args:
        bundle: The model.
        layer: CAM layer; ``bundle.cam_layer`` by default.

    Returns:
        The cached explainer.
    """
    layer = layer or bundle.cam_layer
    return bundle.cached(("explainer", layer), lambda: Explainer(bundle, layer))
