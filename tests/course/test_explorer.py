import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest

from report_lib.config import get_profile
from report_lib.course.explorer import (
    class_choices,
    explain_for_display,
    explanation_figure,
    layer_figure,
    parse_class_choice,
)
from report_lib.methods import maps
from report_lib.methods.registry import explain
from report_lib.models.classes import UnknownClassError
from report_lib.models.layers import cam_layer_choices, layers_by_resolution

SETTINGS = dataclasses.replace(get_profile("quick"), occlusion_stride=2, smoothgrad_samples=8)


@pytest.fixture(scope="module")
def named_bundle(tiny_bundle):
    assert tiny_bundle.class_names == ("red square", "blue square")
    return tiny_bundle


def _in_box(heatmap, box):
    top, left, bottom, right = box
    row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return top <= row < bottom and left <= column < right


def test_class_choices_and_parsing(named_bundle):
    assert class_choices(named_bundle) == ["red square (0)", "blue square (1)"]
    assert parse_class_choice("blue square (1)", named_bundle) == 1
    assert parse_class_choice("0", named_bundle) == 0
    assert parse_class_choice("Blue", named_bundle) == 1
    with pytest.raises(ValueError, match="matches 2 classes"):
        parse_class_choice("square", named_bundle)
    with pytest.raises(ValueError, match="no class matches"):
        parse_class_choice("green", named_bundle)
    with pytest.raises(UnknownClassError, match="out of range"):
        parse_class_choice("7", named_bundle)


def test_imagenet_classes_are_searchable(imagenet_shaped_bundle):
    imagenet = imagenet_shaped_bundle
    assert len(class_choices(imagenet)) == 1000
    assert class_choices(imagenet)[285] == "Egyptian cat (285)"
    assert parse_class_choice("toaster", imagenet) == 859
    assert parse_class_choice("egyptian_cat", imagenet) == 285


def test_layer_choices_end_with_the_cam_layer(named_bundle):
    layers = cam_layer_choices(named_bundle)
    assert layers[-1] == named_bundle.cam_layer
    assert len(layers) == len(set(layers)) >= 2


@pytest.mark.parametrize("method", ["gradcam", "gradcam_plus_plus", "scorecam", "occlusion"])
def test_region_methods_peak_on_the_object(named_bundle, tiny_test_set, method):
    images, labels, boxes = tiny_test_set
    for image, label, box in zip(images[:6], labels[:6], boxes[:6]):
        heatmap = explain_for_display(named_bundle, image, int(label), method, SETTINGS, seed=0)
        assert heatmap.shape == image.shape[:2]
        assert np.isfinite(heatmap).all() and heatmap.min() >= 0.0 and heatmap.max() <= 1.0
        assert _in_box(heatmap, box), f"{method}: the peak misses the square {box}"


@pytest.mark.parametrize("method", ["saliency", "smoothgrad"])
def test_gradient_maps_are_the_explainers_with_display_clipping(named_bundle, tiny_test_set, method):
    # On this tiny model pixel gradients do not concentrate on the square (test_attention checks
    # them against exact answers); the explorer only adds the display clipping.
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    options = {"samples": SETTINGS.smoothgrad_samples, "seed": 5} if method == "smoothgrad" else {}
    raw = explain(method, named_bundle, image[None], label, **options)
    expected = maps.clip_percentile(maps.normalize(raw), 99.5)
    np.testing.assert_array_equal(explain_for_display(named_bundle, image, label, method, SETTINGS, seed=5), expected[0])
    assert np.isclose(np.mean(expected == 1.0), 1 - 99.5 / 100, atol=0.004)


def test_the_layer_changes_cam_maps_only(named_bundle, tiny_test_set):
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    first, last = cam_layer_choices(named_bundle)[0], named_bundle.cam_layer
    at_first = explain_for_display(named_bundle, image, label, "gradcam", SETTINGS, layer=first)
    at_last = explain_for_display(named_bundle, image, label, "gradcam", SETTINGS, layer=last)
    assert not np.allclose(at_first, at_last, atol=1e-3)
    with pytest.raises(ValueError, match="does not use a layer"):
        explain_for_display(named_bundle, image, label, "saliency", SETTINGS, layer=first)
    with pytest.raises(ValueError, match="unknown method"):
        explain_for_display(named_bundle, image, label, "lime", SETTINGS)


def test_smoothgrad_maps_are_seeded(named_bundle, tiny_test_set):
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    first = explain_for_display(named_bundle, image, label, "smoothgrad", SETTINGS, seed=3)
    np.testing.assert_array_equal(first, explain_for_display(named_bundle, image, label, "smoothgrad", SETTINGS, seed=3))


def test_static_figure_explains_the_top_class(named_bundle, tiny_test_set):
    image = tiny_test_set[0][0]
    fig, class_id = explanation_figure(named_bundle, image, ["gradcam", "occlusion"], SETTINGS, title="synthetic")
    assert class_id == int(np.argmax(named_bundle.predict(image[None])[0]))
    drawn = [axis for axis in fig.axes if axis.get_label() != "<colorbar>"]
    assert len(drawn) == 4 and len(fig.axes) == 6  # image, two maps, top-5 bars; a colour bar per map
    assert "explaining: " + class_choices(named_bundle)[class_id] in drawn[0].get_title()
    # Maps are scaled to [0, 1]; the occlusion panel keeps the size of the effect in its title.
    largest = explain("occlusion", named_bundle, image[None], class_id, stride=SETTINGS.occlusion_stride).max()
    assert drawn[2].get_title() == f"Occlusion (largest drop {largest:.2f})"
    plt.close(fig)


def test_layers_by_resolution_go_fine_to_coarse(named_bundle):
    layers = layers_by_resolution(named_bundle, count=2)
    sides = [named_bundle.layer(name).output.shape[1] for name in layers]
    assert len(layers) == 2 and sides[0] > sides[1] and layers[-1] == named_bundle.cam_layer


def test_layer_figure_has_one_panel_per_layer(named_bundle, tiny_test_set):
    layers = layers_by_resolution(named_bundle, count=2)
    fig = layer_figure(named_bundle, tiny_test_set[0][0], "gradcam", layers, SETTINGS, class_id=0)
    drawn = [axis for axis in fig.axes if axis.get_label() != "<colorbar>"]
    assert [axis.get_title().split(" (")[0] for axis in drawn[1:3]] == layers
    plt.close(fig)
    with pytest.raises(ValueError, match="does not use a layer"):
        layer_figure(named_bundle, tiny_test_set[0][0], "occlusion", layers, SETTINGS, class_id=0)


