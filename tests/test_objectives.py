import numpy as np
import pytest

from report_lib.objectives import LOGITS, channel, class_logit, dense_unit, weight_matrices


def test_objectives_compose_by_sum_and_weight():
    objective = channel("conv2", 3) + 0.5 * channel("conv2", 5) - class_logit(1)
    assert [(t.layer, t.index, t.weight) for t in objective.terms] == [
        ("conv2", 3, 1.0), ("conv2", 5, 0.5), (LOGITS, 1, -1.0)
    ]
    assert objective.layers == ["conv2", LOGITS]
    assert "conv2:3" in objective.label


def test_weight_matrices_one_row_per_objective(tiny_bundle):
    matrices = weight_matrices(tiny_bundle, [channel("conv2", 0), channel("conv2", 0) * 2 + channel("conv1", 7), class_logit(1)])
    assert matrices["conv2"].shape == (3, 16) and matrices["conv1"].shape == (3, 8)
    assert matrices["conv2"][1, 0] == 2.0 and matrices["conv1"][1, 7] == 1.0
    np.testing.assert_array_equal(matrices[LOGITS], [[0, 0], [0, 0], [0, 1]])


def test_bad_layer_lists_the_valid_ones(tiny_bundle):
    with pytest.raises(ValueError, match="no layer 'fc1'; conv layers: \\['conv1', 'conv2', 'last_conv'\\]; dense layers: \\['predictions'\\]"):
        weight_matrices(tiny_bundle, [dense_unit("fc1", 0)])


def test_bad_index_gives_the_valid_range(tiny_bundle):
    with pytest.raises(ValueError, match="'conv1' has 8 channels/units \\(0 to 7\\); got index 8"):
        weight_matrices(tiny_bundle, [channel("conv1", 8)])
    with pytest.raises(ValueError, match="0 to 1"):
        weight_matrices(tiny_bundle, [class_logit(5)])


def test_layers_without_channels_are_refused(tiny_bundle):
    with pytest.raises(ValueError, match="no objectives"):
        weight_matrices(tiny_bundle, [])
