import numpy as np
import pytest

from report_lib.methods.dataset_examples import layer_activations, strongest_channels, top_activating_patches


def test_patches_come_from_the_strongest_images_and_positions(tiny_bundle, tiny_test_set):
    images, labels, boxes = tiny_test_set
    activations = layer_activations(tiny_bundle, "last_conv", images)
    assert activations.shape == (len(images), 16, 16, 16)
    channels = strongest_channels(activations, 3)
    examples = top_activating_patches(tiny_bundle, "last_conv", channels, images, top_k=4, patch_size=12, activations=activations)
    assert examples.patches.shape == (3, 4, 12, 12, 3)
    # Activations are sorted, one patch per image at most.
    assert np.all(np.diff(examples.activations, axis=1) <= 0)
    assert all(len(set(row)) == 4 for row in examples.image_indices)
    np.testing.assert_allclose(
        examples.activations[:, 0], [activations[..., c].max() for c in channels], rtol=1e-6
    )


def test_the_class_channels_find_the_coloured_objects(tiny_bundle, tiny_test_set):
    images, labels, boxes = tiny_test_set
    activations = layer_activations(tiny_bundle, "last_conv", images)
    # The channel whose response best separates the classes should pick patches
    # centred on coloured squares, not on the grey noise around them.
    examples = top_activating_patches(tiny_bundle, "last_conv", strongest_channels(activations, 2), images, top_k=4, patch_size=8, activations=activations)
    saturation = examples.patches.astype(float).max(axis=-1) - examples.patches.astype(float).min(axis=-1)
    assert (saturation.mean(axis=(2, 3)) > 60).mean() >= 0.75


def test_bad_channel_and_too_few_images(tiny_bundle, tiny_test_set):
    images = tiny_test_set[0]
    with pytest.raises(ValueError, match="has 16 channels \\(0 to 15\\); got \\[16\\]"):
        top_activating_patches(tiny_bundle, "last_conv", [16], images)
    with pytest.raises(ValueError, match="at least top_k=4 images"):
        top_activating_patches(tiny_bundle, "last_conv", [0], images[:2])
    with pytest.raises(ValueError, match="no spatial output"):
        layer_activations(tiny_bundle, "predictions", images)


def test_examples_never_repeat_a_source_photograph(tiny_bundle):
    from report_lib.data.synthetic import synthetic_objects

    images = synthetic_objects(24, seed=5).images
    # Three crops of each of eight "photographs": crops of one photograph respond alike.
    sources = np.repeat(np.arange(8), 3)
    examples = top_activating_patches(tiny_bundle, "conv2", [0, 3, 5], images, top_k=4, sources=sources)
    for row in examples.image_indices:
        assert len(set(sources[row])) == 4
    with pytest.raises(ValueError, match="at least top_k=9 images from different sources, got 8"):
        top_activating_patches(tiny_bundle, "conv2", [0], images, top_k=9, sources=sources)
