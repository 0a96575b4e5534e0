import numpy as np
import pytest
import tensorflow as tf

from report_lib.methods.attention import Explainer
from report_lib.methods.maps import normalize


def _peak_in_box(heatmap: np.ndarray, box: np.ndarray, margin: int = 2) -> bool:
    row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    top, left, bottom, right = box
    return top - margin <= row < bottom + margin and left - margin <= column < right + margin


@pytest.fixture(scope="module")
def explainer(tiny_bundle):
    return Explainer(tiny_bundle)


@pytest.mark.parametrize("method", ["gradcam", "gradcam_plus_plus", "scorecam"])
def test_peak_falls_on_the_object(explainer, tiny_test_set, method):
    images, labels, boxes = tiny_test_set
    maps = getattr(explainer, method)(images, labels)
    assert maps.shape == images.shape[:3]
    hits = [_peak_in_box(m, box) for m, box in zip(maps, boxes)]
    # An 8x8 object (+2 px margin) covers 14% of the image: chance is far below this.
    assert np.mean(hits) >= 0.8, f"{method}: peak on the object in only {np.mean(hits):.0%} of images"


def _linear_bundle(mask: np.ndarray):
    """A model whose class-1 logit is the sum of the pixels under ``mask``:
    its input gradient, and so its saliency map, is the mask itself."""
    import keras

    from report_lib.models.bundle import bundle_from_model

    size = mask.shape[0]
    inputs = keras.Input((size, size, 3))
    grey = keras.layers.Conv2D(1, 1, use_bias=False, name="grey")(inputs)
    flat = keras.layers.Flatten()(grey)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(flat)
    model = keras.Model(inputs, outputs)
    model.get_layer("grey").set_weights([np.ones((1, 1, 3, 1), np.float32) / 3])
    kernel = np.stack([np.zeros(size * size), mask.ravel()], axis=1).astype(np.float32)
    model.get_layer("predictions").set_weights([kernel, np.zeros(2, np.float32)])
    return bundle_from_model(model, lambda x: x / 255.0)


def test_saliency_of_a_linear_model_is_its_weight_mask():
    mask = np.zeros((16, 16))
    mask[3:7, 9:14] = 1.0
    mask[10, 2] = 0.5
    explainer = Explainer(_linear_bundle(mask))
    images = np.random.default_rng(0).integers(0, 255, size=(2, 16, 16, 3))
    # Raw maps are in gradient units: d(logit)/d(pixel) = mask / 3 (grey) / 255 (preprocessing).
    np.testing.assert_allclose(explainer.saliency(images, 1)[0], mask / 765, atol=1e-6)
    np.testing.assert_allclose(normalize(explainer.saliency(images, 1))[0], mask, atol=1e-3)
    # The gradient of a linear model is the same at every noisy copy.
    np.testing.assert_allclose(normalize(explainer.smoothgrad(images, 1, samples=4))[1], mask, atol=1e-3)


def test_smoothgrad_is_smoother_than_saliency(explainer, tiny_test_set):
    images, labels, _ = tiny_test_set

    def total_variation(heatmap):
        return np.abs(np.diff(heatmap, axis=0)).mean() + np.abs(np.diff(heatmap, axis=1)).mean()

    plain = explainer.saliency(images, labels)
    smooth = explainer.smoothgrad(images, labels, samples=16, seed=0)
    smoother = [total_variation(b) < total_variation(a) for a, b in zip(plain, smooth)]
    assert np.mean(smoother) >= 0.8


def test_raw_maps_are_non_negative_and_not_scaled(explainer, tiny_test_set):
    images, labels, _ = tiny_test_set
    for method in ("saliency", "smoothgrad", "gradcam", "gradcam_plus_plus", "scorecam"):
        maps = getattr(explainer, method)(images[:4], labels[:4])
        assert maps.shape == (4, 32, 32) and maps.min() >= 0.0
    # Grad-CAM keeps its units: the maxima differ from image to image.
    assert np.ptp(explainer.gradcam(images[:4], labels[:4]).max(axis=(1, 2))) > 1e-3


def test_smoothgrad_is_seeded(explainer, tiny_test_set):
    images, labels, _ = tiny_test_set
    first = explainer.smoothgrad(images[:3], labels[:3], samples=5, seed=7)
    again = explainer.smoothgrad(images[:3], labels[:3], samples=5, seed=7)
    other = explainer.smoothgrad(images[:3], labels[:3], samples=5, seed=8)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3 * first.max()  # raw gradient units


def test_smoothgrad_batches_do_not_change_the_result(explainer, tiny_test_set):
    images, labels, _ = tiny_test_set
    one_batch = explainer.smoothgrad(images[:2], labels[:2], samples=6, seed=3, batch_size=6)
    small_batches = explainer.smoothgrad(images[:2], labels[:2], samples=6, seed=3, batch_size=4)
    np.testing.assert_allclose(one_batch, small_batches, atol=1e-5)


def test_scorecam_batches_do_not_change_the_result(explainer, tiny_test_set):
    images, labels, _ = tiny_test_set
    np.testing.assert_allclose(
        explainer.scorecam(images[:3], labels[:3], max_channels=None, batch_size=16),
        explainer.scorecam(images[:3], labels[:3], max_channels=None, batch_size=3),
        atol=1e-5,
    )


def test_one_class_id_is_broadcast(explainer, tiny_test_set):
    images, _, _ = tiny_test_set
    np.testing.assert_allclose(explainer.gradcam(images[:3], 1), explainer.gradcam(images[:3], [1, 1, 1]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e, x: e.gradcam(x[:, :16], [0, 0]), "expected images of shape"),
        (lambda e, x: e.gradcam(x, [0, 1, 0]), "one class id per image"),
        (lambda e, x: e.scorecam(x, [0, 0], max_channels=0), "max_channels must be at least 1"),
        (lambda e, x: e.smoothgrad(x, [0, 0], samples=0), "samples must be at least 1"),
    ],
)
def test_bad_arguments_get_clear_errors(explainer, tiny_test_set, call, message):
    with pytest.raises(ValueError, match=message):
        call(explainer, tiny_test_set[0][:2])


def test_unknown_layer_lists_the_valid_ones(tiny_bundle):
    with pytest.raises(ValueError, match="conv layers: \\['conv1', 'conv2', 'last_conv'\\]"):
        Explainer(tiny_bundle, layer="block5_conv3")


# --- agreement with tf-keras-vis, the library the course used ---------------


@pytest.fixture(scope="module")
def reference(tiny_bundle, tiny_test_set):
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    images, labels, _ = tiny_test_set
    inputs = tiny_bundle.preprocess(tf.constant(images[:6], tf.float32)).numpy()
    return tiny_bundle.model, ReplaceToLinear(), CategoricalScore(list(labels[:6])), inputs, images[:6], labels[:6]


def test_gradcam_matches_tf_keras_vis(explainer, reference):
    from tf_keras_vis.gradcam import Gradcam

    model, modifier, score, inputs, images, labels = reference
    expected = Gradcam(model, model_modifier=modifier, clone=True)(score, inputs, penultimate_layer="last_conv", expand_cam=False)
    np.testing.assert_allclose(normalize(explainer.gradcam(images, labels, upsample=False)), expected, atol=1e-4)


def test_gradcam_plus_plus_matches_tf_keras_vis(explainer, reference):
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    model, modifier, score, inputs, images, labels = reference
    expected = GradcamPlusPlus(model, model_modifier=modifier, clone=True)(
        score, inputs, penultimate_layer="last_conv", expand_cam=False
    )
    np.testing.assert_allclose(normalize(explainer.gradcam_plus_plus(images, labels, upsample=False)), expected, atol=1e-4)


def test_scorecam_matches_tf_keras_vis(explainer, reference):
    from tf_keras_vis.scorecam import Scorecam

    model, modifier, score, inputs, images, labels = reference
    expected = Scorecam(model, model_modifier=modifier, clone=True)(
        score, inputs, penultimate_layer="last_conv", expand_cam=False
    )
    ours = explainer.scorecam(images, labels, max_channels=None, upsample=False)
    # tf-keras-vis upsamples the masks with scipy's zoom, we with tf.image.resize:
    # the two interpolations differ slightly at the borders.
    correlations = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(ours, np.asarray(expected))]
    assert min(correlations) > 0.98


def test_saliency_matches_tf_keras_vis(explainer, reference, tiny_bundle):
    from tf_keras_vis.saliency import Saliency

    model, modifier, score, inputs, images, labels = reference
    expected = Saliency(model, model_modifier=modifier, clone=True)(score, inputs)
    # tf-keras-vis differentiates with respect to the preprocessed input; we with
    # respect to pixels. Preprocessing here is x / 255, a constant factor that the
    # normalization removes.
    np.testing.assert_allclose(normalize(explainer.saliency(images, labels)), expected, rtol=1e-3, atol=1e-4)


def test_explainer_for_builds_once_per_model_and_layer(tiny_bundle):
    from report_lib.methods.attention import explainer_for

    first = explainer_for(tiny_bundle)
    assert explainer_for(tiny_bundle) is first and first.layer == "last_conv"
    other = explainer_for(tiny_bundle, "conv2")
    assert other is not first and other.layer == "conv2"


def test_a_copy_with_another_model_gets_its_own_explainer(tiny_bundle):
    import dataclasses

    import keras

    from report_lib.methods.attention import explainer_for

    other = dataclasses.replace(tiny_bundle, model=keras.models.clone_model(tiny_bundle.model))
    assert explainer_for(other) is not explainer_for(tiny_bundle)
    assert explainer_for(other).bundle.model is other.model
