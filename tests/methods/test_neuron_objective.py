"""The neuron objective on a linear first layer recovers the kernel's sign
pattern; the channel mean of the same layer only sees the mean colour."""

import keras
import numpy as np

from report_lib.methods.featurevis import Recipe, visualize
from report_lib.methods.objectives import channel, neuron
from report_lib.models.bundle import bundle_from_model

PLAIN = Recipe("plain", "pixel", "adam", 8.0, 60, jitter=0, max_rotation=0.0)


def _linear_first_layer() -> tuple:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((9, 9, 3))
    conv = keras.layers.Conv2D(4, 3, activation=None, name="conv")
    x = keras.layers.GlobalAveragePooling2D()(conv(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    bundle = bundle_from_model(model, lambda pixels: pixels / 127.5 - 1.0)
    return bundle, conv.get_weights()[0]


def test_neuron_optimum_matches_the_kernel_sign_pattern():
    bundle, kernel = _linear_first_layer()
    result = visualize(bundle, [neuron("conv", k) for k in range(4)], PLAIN, size=9, seed=0, progress=False)
    # 9 px in, 7 x 7 map out: the centre unit (3, 3) reads pixels 3..5.
    for k in range(4):
        patch = result.images[k, 3:6, 3:6].astype(float)
        np.testing.assert_array_equal(np.where(patch > 127.5, 1.0, -1.0), np.sign(kernel[..., k]))
        assert set(np.unique(patch)) <= {0.0, 255.0}  # driven to the box corners


def test_channel_mean_of_a_linear_layer_only_sees_the_colour_sums():
    bundle, kernel = _linear_first_layer()
    result = visualize(bundle, channel("conv", 0), PLAIN, size=9, seed=0, progress=False)
    inner = result.images[0, 2:7, 2:7].astype(float)  # pixels every unit sees alike
    sums = kernel[..., 0].sum(axis=(0, 1))
    for c in range(3):
        expected = 255.0 if sums[c] > 0 else 0.0
        assert np.all(inner[..., c] == expected)
