import dataclasses

import numpy as np
import pytest

from report_lib.config import get_profile
from report_lib.methods.registry import (ATTRIBUTION_METHODS, METHODS, bound, explain, get_method, method_options,
                                         method_title)

PROFILE = dataclasses.replace(get_profile("quick"), occlusion_stride=8, smoothgrad_samples=2)


def test_every_method_has_one_calling_convention(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    assert list(METHODS) == ["saliency", "smoothgrad", "gradcam", "gradcam_plus_plus", "scorecam", "occlusion", "random"]
    assert ATTRIBUTION_METHODS == tuple(METHODS)[:-1]
    for method in METHODS:
        raw = explain(method, tiny_bundle, images[:2], labels[:2], **method_options(method, PROFILE, seed=0))
        assert raw.shape == (2, 32, 32), method
        shown = get_method(method).for_display(raw)
        assert shown.min() >= 0.0 and shown.max() <= 1.0 + 1e-6, method


def test_profile_sets_the_options_each_method_takes():
    assert method_options("smoothgrad", PROFILE, seed=3) == {"samples": 2, "seed": 3}
    assert method_options("scorecam", PROFILE) == {"max_channels": PROFILE.scorecam_max_channels}
    assert method_options("occlusion", PROFILE) == {"stride": 8}
    assert method_options("gradcam", PROFILE) == {}
    assert [method_title(m) for m in METHODS] == ["saliency", "SmoothGrad", "Grad-CAM", "Grad-CAM++", "Score-CAM",
                                                  "occlusion", "random"]
    assert [m for m in METHODS if get_method(m).uses_layer] == ["gradcam", "gradcam_plus_plus", "scorecam"]


def test_occlusion_is_raw_probability_drop_and_drawn_positive_only(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    raw = explain("occlusion", tiny_bundle, images[:1], labels[:1], stride=8)
    probability = tiny_bundle.predict(images[:1])[0, labels[0]]
    assert raw.max() <= probability + 1e-6  # a drop cannot exceed the probability it falls from
    signed = np.array([[[-0.5, 0.0], [0.1, 0.2]]], np.float32)
    np.testing.assert_allclose(get_method("occlusion").for_display(signed), [[[0.0, 0.0], [0.5, 1.0]]], atol=1e-5)


def test_bad_method_or_layer_gets_a_clear_error(tiny_bundle, tiny_test_set):
    images = tiny_test_set[0][:1]
    with pytest.raises(ValueError, match="unknown method 'deconvnet'; choose one of \\['saliency'"):
        explain("deconvnet", tiny_bundle, images, 0)
    with pytest.raises(ValueError, match="saliency does not use a layer"):
        explain("saliency", tiny_bundle, images, 0, layer="conv2")


def test_bound_method_and_layer_choice(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    at_conv2 = bound("gradcam", layer="conv2")(tiny_bundle, images[:2], labels[:2])
    np.testing.assert_allclose(at_conv2, explain("gradcam", tiny_bundle, images[:2], labels[:2], layer="conv2"))
    assert not np.allclose(at_conv2, explain("gradcam", tiny_bundle, images[:2], labels[:2]))
