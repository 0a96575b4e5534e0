import numpy as np
import pytest

from report_lib.methods.objectives import channel, class_logit, neuron, weight_matrices
from report_lib.models.bundle import LOGITS


def test_objectives_compose_by_sum_and_weight():
    objective = channel("conv2", 3) + 0.5 * channel("conv2", 5) - class_logit(1)
    assert [(t.layer, t.index, t.weight) for t in objective.terms] == [
        ("conv2", 3, 1.0), ("conv2", 5, 0.5), (LOGITS, 1, -1.0)
    ]
    assert objective.layers == ["conv2", LOGITS]
    assert "conv2:3" in objective.label


def test_weight_matrices_one_row_per_objective(tiny_bundle):
    matrices = weight_matrices(tiny_bundle, [channel("conv2", 0), channel("conv2", 0) * 2 + channel("conv1", 7), class_logit(1)])
    conv1, conv2 = ("conv1", "mean"), ("conv2", "mean")
    assert matrices[conv2].shape == (3, 16) and matrices[conv1].shape == (3, 8)
    assert matrices[conv2][1, 0] == 2.0 and matrices[conv1][1, 7] == 1.0
    np.testing.assert_array_equal(matrices[(LOGITS, "mean")], [[0, 0], [0, 0], [0, 1]])


def test_neuron_terms_get_their_own_matrix(tiny_bundle):
    matrices = weight_matrices(tiny_bundle, [neuron("conv1", 2), channel("conv1", 2) - 0.5 * neuron("conv1", 3)])
    assert set(matrices) == {("conv1", "centre"), ("conv1", "mean")}
    np.testing.assert_array_equal(matrices[("conv1", "centre")][:, 2:4], [[1, 0], [0, -0.5]])
    np.testing.assert_array_equal(matrices[("conv1", "mean")][:, 2], [0, 1])
    with pytest.raises(ValueError, match="needs a conv layer"):
        weight_matrices(tiny_bundle, [neuron("predictions", 0)])


def test_bad_layer_lists_the_valid_ones(tiny_bundle):
    with pytest.raises(ValueError, match="no layer 'fc1'; conv layers: \\['conv1', 'conv2', 'last_conv'\\]; dense layers: \\['predictions'\\]"):
        weight_matrices(tiny_bundle, [channel("fc1", 0)])


def test_bad_index_gives_the_valid_range(tiny_bundle):
    with pytest.raises(ValueError, match="'conv1' has 8 channels/units \\(0 to 7\\); got index 8"):
        weight_matrices(tiny_bundle, [channel("conv1", 8)])
    with pytest.raises(ValueError, match="0 to 1"):
        weight_matrices(tiny_bundle, [class_logit(5)])


def test_layers_without_channels_are_refused(tiny_bundle):
    with pytest.raises(ValueError, match="no objectives"):
        weight_matrices(tiny_bundle, [])


def test_units_feeding_class_follow_the_weights():
    import keras

    from report_lib.models.bundle import bundle_from_model
    from report_lib.methods.objectives import units_feeding_class

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    x = keras.layers.Dense(4, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(3, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    bundle = bundle_from_model(keras.Model(inputs, outputs), lambda v: v)
    fc1 = bundle.layer("fc1").get_weights()[0]
    bundle.layer("fc2").set_weights([np.array([[1, 0, 0], [0, 0, 2], [0, 3, 0], [-1, 0, 0]], np.float32), np.zeros(3, np.float32)])
    bundle.layer("predictions").set_weights([np.array([[0.5, 0], [2.0, 0], [-1.0, 1]], np.float32), np.zeros(2, np.float32)])
    # Class 0 reads fc2 units with weights (0.5, 2, -1): unit 1 first, then 0.
    assert units_feeding_class(bundle, "fc2", 0, 2) == [1, 0]
    # Through fc2, fc1 units weigh (0.5, -2, 6, -0.5) on class 0.
    assert units_feeding_class(bundle, "fc1", 0, 4) == [2, 0, 3, 1]
    assert fc1.shape == (72, 4)
    with pytest.raises(ValueError, match="hidden dense layers: \\['fc1', 'fc2'\\]"):
        units_feeding_class(bundle, "predictions", 0, 1)
