import numpy as np
import pytest
import tensorflow as tf

from report_lib.methods.adversarial_patch import (
    apply_patch,
    circle_mask,
    noise_patch,
    patch_radius,
    patched_images,
    random_placements,
    PatchRecipe,
    success_rate,
    train_patch,
)


def test_placements_keep_the_patch_inside_and_are_seeded():
    placements = random_placements(500, 224, (0.02, 0.3), max_rotation=45, seed=3)
    radius = patch_radius(placements.areas, 224)
    assert np.all(placements.centres - radius[:, None] >= -1e-4)
    assert np.all(placements.centres + radius[:, None] <= 224 + 1e-4)
    assert placements.areas.min() >= 0.02 and placements.areas.max() <= 0.3
    assert np.abs(placements.angles).max() <= np.radians(45) + 1e-6
    again = random_placements(500, 224, (0.02, 0.3), max_rotation=45, seed=3)
    np.testing.assert_array_equal(placements.centres, again.centres)
    assert not np.array_equal(placements.centres, random_placements(500, 224, (0.02, 0.3), seed=4).centres)
    with pytest.raises(ValueError, match="patch areas"):
        random_placements(1, 224, 0.9)


def test_pasted_patch_covers_the_asked_area_and_nothing_else():
    images = np.zeros((3, 64, 64, 3), np.float32)
    patch = np.full((32, 32, 3), 255, np.uint8)
    placements = random_placements(3, 64, 0.2, seed=1)
    out = patched_images(images, patch, placements)
    covered = (out[..., 0] > 127).mean(axis=(1, 2))
    np.testing.assert_allclose(covered, 0.2, atol=0.03)
    # Nothing outside the circle around the centre changes.
    rows, columns = np.mgrid[:64, :64]
    for image, centre, area in zip(out, placements.centres, placements.areas):
        outside = (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 > (patch_radius(area, 64) + 1.5) ** 2
        assert image[outside].max() == 0


def test_apply_patch_is_differentiable_with_respect_to_the_patch():
    patch = tf.Variable(tf.fill([16, 16, 3], 100.0))
    images = tf.zeros([2, 32, 32, 3])
    placements = random_placements(2, 32, 0.1, seed=0)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(apply_patch(images, patch, placements.areas, placements.angles, placements.centres))
    gradient = tape.gradient(total, patch).numpy().sum(axis=-1)
    inside = circle_mask(16)[..., 0] > 0
    assert gradient[inside].min() >= 0 and gradient[inside].mean() > 0
    # The corners beyond the circle reach the image only through the
    # anti-aliased edge: almost no gradient.
    rows, columns = np.mgrid[:16, :16]
    far = (rows - 7.5) ** 2 + (columns - 7.5) ** 2 > (8 + 1.5) ** 2
    assert far.any() and gradient[far].max() < 0.05 * gradient[inside].mean()


def test_training_beats_a_noise_patch(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    red = images[labels == 0]  # the patch must make red-square images look like class 1
    recipe = PatchRecipe(steps=40, batch_size=8, patch_pixels=12, areas=(0.1, 0.2), learning_rate=0.1)
    trained = train_patch(tiny_bundle, red, class_id=1, recipe=recipe, seed=0, progress=False)
    assert trained.class_id == 1
    assert trained.patch.shape == (12, 12, 3)
    assert trained.target_probability[-5:].mean() > trained.target_probability[:5].mean()
    placements = random_placements(len(red), 32, 0.15, seed=9)
    p_trained = tiny_bundle.predict(patched_images(red, trained.patch, placements))[:, 1]
    p_noise = tiny_bundle.predict(patched_images(red, noise_patch(12), placements))[:, 1]
    assert p_trained.mean() > p_noise.mean() + 0.2
    assert success_rate(tiny_bundle, red, trained.patch, 1, 0.15, seed=9) > success_rate(tiny_bundle, red, noise_patch(12), 1, 0.15, seed=9)


def test_training_is_seeded(tiny_bundle, tiny_test_set):
    images = tiny_test_set[0][:8]
    recipe = PatchRecipe(steps=3, batch_size=4, patch_pixels=8)
    first = train_patch(tiny_bundle, images, 1, recipe, seed=5, progress=False)
    again = train_patch(tiny_bundle, images, 1, recipe, seed=5, progress=False)
    np.testing.assert_array_equal(first.patch, again.patch)
    with pytest.raises(ValueError, match="cannot exceed the image size"):
        train_patch(tiny_bundle, images, 1, PatchRecipe(steps=1, patch_pixels=64), progress=False)


def test_placement_masks_cover_the_pasted_patch():
    from report_lib.methods.adversarial_patch import patched_images, placement_masks, random_placements

    size = 48
    placements = random_placements(6, size, (0.05, 0.2), seed=3)
    white = np.full((32, 32, 3), 255, np.uint8)
    patched = patched_images(np.zeros((6, size, size, 3), np.uint8), white, placements)
    masks = placement_masks(placements, size)
    painted = patched[..., 0] > 127
    # The mask and the pasted disc agree except for a one-pixel rim of bilinear blending.
    assert (painted & ~masks).sum() <= 0.15 * masks.sum()
    assert (masks & ~painted).sum() <= 0.15 * masks.sum()
    np.testing.assert_allclose(masks.mean(axis=(1, 2)), placements.areas, atol=0.02)


def test_masked_for_display_blanks_the_untrained_corners():
    from report_lib.methods.adversarial_patch import masked_for_display

    shown = masked_for_display(np.zeros((20, 20, 3), np.uint8))
    assert (shown[0, 0] == 255).all() and (shown[10, 10] == 0).all()


def test_snapshots_are_kept_every_n_steps(tiny_bundle):
    from report_lib.methods.adversarial_patch import PatchRecipe, train_patch

    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    trained = train_patch(tiny_bundle, images, 1, PatchRecipe(steps=4, batch_size=2, patch_pixels=8), seed=0,
                          progress=False, snapshot_every=2)
    assert sorted(trained.snapshots) == [2, 4]
    assert (trained.snapshots[4] == trained.patch).all()
