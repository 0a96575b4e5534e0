import numpy as np
import pytest

from report_lib.models.classes import (UnknownClassError, find_class, imagenet_class_index, imagenet_class_names,
                                       imagenet_wnids, matching_classes)


def test_index_is_keras_index():
    index = imagenet_class_index()
    assert len(index) == 1000
    # Entries of Keras' imagenet_class_index.json, including its quirks.
    assert index[0] == ("n01440764", "tench")
    assert index[2] == ("n01484850", "great_white_shark")
    assert index[22] == ("n01614925", "bald_eagle")
    assert index[285] == ("n02124075", "Egyptian_cat")
    assert index[413] == ("n02749479", "assault_rifle")
    assert index[134][1] == index[517][1] == "crane"
    assert index[638][1] == index[639][1] == "maillot"
    assert index[859] == ("n04442312", "toaster")
    assert index[999] == ("n15075141", "toilet_tissue")
    wnids = [index[i][0] for i in range(1000)]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000


def test_find_class_among_imagenet_names():
    names = imagenet_class_names()
    assert find_class("toaster", names) == 859
    assert find_class("Great White Shark", names) == 2
    assert find_class("egyptian_cat", names) == 285
    with pytest.raises(UnknownClassError, match="'shark' matches 2 classes: great white shark \\(2\\), tiger shark"):
        find_class("shark", names)
    with pytest.raises(UnknownClassError, match="no class matches 'unicorn'"):
        find_class("unicorn", names)
    assert issubclass(UnknownClassError, ValueError)


def test_matching_classes_prefers_exact_names():
    names = ["tabby", "tiger_cat", "Persian_cat", "cat"]
    assert matching_classes("Tiger Cat", names) == [1]
    assert matching_classes("cat", names) == [3]  # an exact name wins over the names containing it
    assert matching_classes("an", names) == [2]
    assert matching_classes("dog", names) == [] and matching_classes("  ", names) == []
    assert imagenet_class_names()[285] == "Egyptian_cat" and len(imagenet_class_names()) == 1000
    assert imagenet_wnids()[285] == "n02124075"


def test_decode_ranks_classes(imagenet_shaped_bundle):
    probabilities = np.full((2, 1000), 1e-4)
    probabilities[0, [285, 281, 1]] = [0.7, 0.2, 0.05]
    probabilities[1, 967] = 0.9
    decoded = imagenet_shaped_bundle.decode(probabilities, top=3)
    assert [p.index for p in decoded[0]] == [285, 281, 1]
    assert decoded[0][0].name == "Egyptian_cat" and decoded[0][0].probability == pytest.approx(0.7)
    assert decoded[0][0].label == "Egyptian cat"
    assert decoded[1][0].wnid == "n07920052"
    assert imagenet_shaped_bundle.class_label(652) == "military uniform"
    with pytest.raises(ValueError, match="0 to 999"):
        imagenet_shaped_bundle.class_label(1000)


def test_decode_rejects_bad_shapes(imagenet_shaped_bundle):
    with pytest.raises(ValueError, match="shape"):
        imagenet_shaped_bundle.decode(np.zeros(1000))
    with pytest.raises(ValueError, match="shape"):
        imagenet_shaped_bundle.decode(np.zeros((1, 10)))
