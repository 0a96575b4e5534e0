import numpy as np
import tensorflow as tf

from report_lib.models.training import centre_pixels, scale_pixels


def test_centre_pixels_maps_the_pixel_range_onto_minus_one_to_one():
    pixels = tf.constant([0.0, 127.5, 255.0])
    np.testing.assert_allclose(centre_pixels(pixels).numpy(), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(scale_pixels(pixels).numpy(), [0.0, 0.5, 1.0])


def test_on_centred_pixels_a_negative_sum_filter_still_fires_somewhere():
    # The reason section 08 centres its inputs: a filter whose weights sum below
    # zero is negative on every all-positive image, but not on a centred one.
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, 8, 8, 3)).astype(np.float32)
    weights = -np.abs(rng.normal(size=3)).astype(np.float32)  # sums below zero
    for preprocess, fires in ((scale_pixels, False), (centre_pixels, True)):
        response = np.tensordot(preprocess(tf.constant(images)).numpy(), weights, axes=([-1], [0]))
        assert bool((response > 0).any()) is fires
