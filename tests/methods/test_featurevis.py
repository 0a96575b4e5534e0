import numpy as np
import pytest
import tensorflow as tf

from report_lib.methods.featurevis import (
    RECIPES,
    FourierImage,
    default_canvas,
    evaluate,
    random_transform,
    total_variation,
    visualize,
)
from report_lib.methods.objectives import channel, class_logit

STEPS = {"lucid": 60, "tf-keras-vis": 60}


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_optimized_images_beat_noise_by_far(tiny_bundle, recipe):
    objectives = [class_logit(0), class_logit(1), channel("last_conv", 3)]
    result = visualize(tiny_bundle, objectives, recipe, steps=STEPS[recipe], seed=0, progress=False)
    assert result.images.dtype == np.uint8 and result.images.shape == (3, 32, 32, 3)
    noise = np.random.default_rng(5).uniform(0, 255, (64, 32, 32, 3))
    for objective, score in zip(objectives, result.scores):
        noise_scores = evaluate(tiny_bundle, objective, noise)
        # "Far above": beyond every noise image and 5 standard deviations above their mean.
        assert score > noise_scores.max() and score > noise_scores.mean() + 5 * noise_scores.std(), objective.label
    # The class images are told apart by the classifier itself.
    assert tiny_bundle.predict(result.images[:2]).argmax(axis=1).tolist() == [0, 1]


def test_class_images_show_the_class_colour(tiny_bundle):
    result = visualize(tiny_bundle, [class_logit(0), class_logit(1)], "lucid", steps=60, progress=False)
    red, blue = result.images.astype(float).mean(axis=(1, 2))
    assert red[0] > red[2] and blue[2] > blue[0]


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_same_seed_same_image_other_seed_other_image(tiny_bundle, recipe):
    objectives = [channel("conv2", 1), class_logit(1)]
    first = visualize(tiny_bundle, objectives, recipe, steps=15, seed=3, progress=False)
    again = visualize(tiny_bundle, objectives, recipe, steps=15, seed=3, progress=False)
    other = visualize(tiny_bundle, objectives, recipe, steps=15, seed=4, progress=False)
    np.testing.assert_array_equal(first.images, again.images)
    assert np.abs(first.images.astype(int) - other.images.astype(int)).mean() > 5


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_more_objectives_in_the_batch_do_not_change_an_image(tiny_bundle, recipe):
    alone = visualize(tiny_bundle, channel("conv2", 4), recipe, steps=20, size=24, seed=1, progress=False)
    batched = visualize(tiny_bundle, [channel("conv2", i) for i in (4, 0, 1, 2)], recipe, steps=20, size=24, seed=1, progress=False)
    assert np.abs(alone.images[0].astype(int) - batched.images[0].astype(int)).max() <= 2


def test_composed_objective_is_the_weighted_sum(tiny_bundle):
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    a, b = channel("conv2", 1), channel("last_conv", 2)
    combined = evaluate(tiny_bundle, 2 * a - b, images)
    np.testing.assert_allclose(combined, 2 * evaluate(tiny_bundle, a, images) - evaluate(tiny_bundle, b, images), rtol=1e-5)


def test_snapshots_history_and_canvas(tiny_bundle):
    result = visualize(tiny_bundle, channel("conv1", 0), "tf-keras-vis", steps=6, size=16, snapshot_steps=[1, 6], progress=False)
    assert sorted(result.snapshots) == [1, 6] and result.snapshots[1].shape == (1, 16, 16, 3)
    np.testing.assert_array_equal(result.snapshots[6], result.images)
    assert result.history.shape == (6, 1)


def test_canvas_sizes(tiny_bundle, lite0_bundle):
    assert default_canvas(tiny_bundle, ["predictions"]) == 32
    assert default_canvas(lite0_bundle, ["stem_conv"]) == 48
    assert default_canvas(lite0_bundle, ["block4a_expand_conv"]) == 64
    assert default_canvas(lite0_bundle, ["top_conv"]) == 224
    with pytest.raises(ValueError, match="need the model's input size 32"):
        visualize(tiny_bundle, class_logit(0), steps=1, size=16, progress=False)


def test_bad_arguments(tiny_bundle):
    with pytest.raises(ValueError, match="unknown recipe 'deepdream'"):
        visualize(tiny_bundle, class_logit(0), "deepdream", progress=False)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        visualize(tiny_bundle, class_logit(0), steps=0, progress=False)
    with pytest.raises(ValueError, match="no layer 'block5_conv3'"):
        visualize(tiny_bundle, channel("block5_conv3", 0), steps=1, progress=False)


def test_total_variation_and_its_gradient_match_tensorflow():
    images = tf.Variable(tf.random.uniform((2, 9, 7, 3), 0, 255, seed=1))
    with tf.GradientTape(persistent=True) as tape:
        ours = total_variation(images)
        reference = tf.image.total_variation(images)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(ours, images).numpy(), tape.gradient(reference, images).numpy(), atol=1e-5)


def test_random_transform_is_seeded_and_keeps_shape():
    images = tf.random.uniform((2, 20, 20, 3), 0, 255, seed=2)
    first = random_transform(images, RECIPES["lucid"], tf.random.Generator.from_seed(9))
    again = random_transform(images, RECIPES["lucid"], tf.random.Generator.from_seed(9))
    assert first.shape == images.shape
    np.testing.assert_array_equal(first.numpy(), again.numpy())


def test_fourier_image_is_valid_rgb():
    image = FourierImage(2, 17, np.random.default_rng(0))()
    assert image.shape == (2, 17, 17, 3)
    assert float(tf.reduce_min(image)) >= 0 and float(tf.reduce_max(image)) <= 255


def test_strip_steps_and_channel_draws():
    from report_lib.methods.featurevis import animation_steps, draw_channels, strip_steps

    frames = animation_steps(200, 30)
    assert frames[0] == 1 and frames[-1] == 200 and 20 <= len(frames) <= 30
    assert frames[1] - frames[0] < frames[-1] - frames[-2]  # dense early, sparse late

    assert strip_steps(200) == [1, 50, 100, 150, 200]
    assert strip_steps(3) == [1, 2, 3]
    drawn = draw_channels(512, 16, seed=0)
    assert drawn == draw_channels(512, 16, seed=0) != draw_channels(512, 16, seed=1)
    assert len(set(drawn)) == 16 and drawn == sorted(drawn) and max(drawn) < 512
    assert draw_channels(8, 16, seed=0) == list(range(8))


def test_recipes_side_by_side(tiny_bundle):
    import matplotlib

    matplotlib.use("Agg")
    from report_lib.methods.featurevis import visualize_recipes
    from report_lib.course.plotting import plot_recipe_comparison

    results = visualize_recipes(tiny_bundle, [channel("conv1", 0), channel("conv1", 1)], {"lucid": 3, "tf-keras-vis": 3}, size=16)
    assert list(results) == ["lucid", "tf-keras-vis"]
    assert all(r.images.shape == (2, 16, 16, 3) for r in results.values())
    fig = plot_recipe_comparison(results)
    assert sum(1 for axis in fig.axes if axis.images) == 4


def test_runs_repeat_exactly_across_processes():
    """The same seed gives the same images in two fresh interpreters (batch 9,
    30 steps). The children get TensorFlow's default intra-op threads, not the
    single thread ``make test`` gives its workers, so a sum whose order
    depended on thread timing could show. (On the 2-core machine, 100 steps
    with TF_NUM_INTEROP_THREADS=0 also gave equal images twice in a row.)"""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib, report_lib\n"
        "from report_lib.models.registry import efficientnet_lite0_bundle\n"
        "from report_lib.methods.featurevis import visualize\n"
        "from report_lib.methods.objectives import class_logit\n"
        "v = visualize(efficientnet_lite0_bundle(), [class_logit(c) for c in (2, 2, 2, 22, 22, 22, 413, 413, 413)],"
        " 'tf-keras-vis', steps=30, seed=0, progress=False)\n"
        "print(hashlib.md5(v.images.tobytes()).hexdigest())\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS")}
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env=env).stdout.strip() for _ in range(2)}
    assert len(digests) == 1, digests


@pytest.mark.parametrize("recipe", ["lucid", "tf-keras-vis"])
def test_compiled_step_is_reused_and_reset_between_calls(tiny_bundle, recipe):
    import dataclasses

    bundle = dataclasses.replace(tiny_bundle)  # an empty cache
    objectives = [channel("conv2", 1), channel("conv2", 4)]
    first = visualize(bundle, objectives, recipe, steps=5, seed=0, progress=False)
    other = visualize(bundle, objectives, recipe, steps=5, seed=1, progress=False)
    again = visualize(bundle, objectives, recipe, steps=5, seed=0, progress=False)
    engines = [key for key in bundle._cache if key[0] == "featurevis-engine"]
    assert len(engines) == 1  # one traced step for the three calls
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.history, again.history)
    assert not np.array_equal(first.images, other.images)
    fresh = visualize(dataclasses.replace(tiny_bundle), objectives, recipe, steps=5, seed=0, progress=False)
    np.testing.assert_array_equal(first.images, fresh.images)


def test_model_tuning_applies_to_named_recipes_only(tiny_bundle):
    import dataclasses

    from report_lib.methods.featurevis import MODEL_TUNING, RECIPES, recipe_for, without_transforms

    lite_named = dataclasses.replace(tiny_bundle, name="efficientnet_lite0")
    tuned = recipe_for(lite_named, "tf-keras-vis")
    tuning = MODEL_TUNING[("efficientnet_lite0", "tf-keras-vis")]
    assert (tuned.learning_rate, tuned.tv_weight) == (tuning["learning_rate"], tuning["tv_weight"])
    assert tuned.learning_rate != RECIPES["tf-keras-vis"].learning_rate and tuned.penalize_input
    assert recipe_for(tiny_bundle, "tf-keras-vis") == RECIPES["tf-keras-vis"]
    assert recipe_for(lite_named, RECIPES["tf-keras-vis"]) == RECIPES["tf-keras-vis"]  # objects are used as given
    plain = without_transforms("lucid")
    assert (plain.jitter, plain.max_rotation, plain.scales) == (0, 0.0, (1.0,))


def test_redirected_relu_passes_the_raising_gradient_only_where_the_unit_is_off_everywhere():
    from report_lib.methods.featurevis import redirected_relu

    x = tf.constant([[-2.0, -1.0, -0.5], [-1.0, 0.5, 2.0]])  # image 0: off everywhere; image 1: on at two units
    upstream = tf.constant([[-1.0, 1.0, -1.0], [-1.0, -1.0, -1.0]])  # loss gradients: negative = raise x
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = redirected_relu(x)
        loss = tf.reduce_sum(y * upstream)
    np.testing.assert_array_equal(y.numpy(), tf.nn.relu(x).numpy())  # forward is the plain ReLU
    gradient = tape.gradient(loss, x).numpy()
    # Image 0: the plain gradient would be all zero; the units pushed upwards get it, the one pushed down does not.
    np.testing.assert_array_equal(gradient[0], [-1.0, 0.0, -1.0])
    # Image 1 fires somewhere: the plain ReLU gradient, zero where x <= 0.
    np.testing.assert_array_equal(gradient[1], [0.0, -1.0, -1.0])


def _dead_channel_bundle():
    """conv -> ReLU6: channel 1 sums the red channel of a 3 x 3 patch minus 6,
    so it is off on grey (9 x 0.5 - 6 < 0) and on for strong red."""
    import keras

    from report_lib.models.bundle import bundle_from_model
    from report_lib.models.training import scale_pixels

    inputs = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(2, 3, name="conv")
    x = keras.layers.ReLU(max_value=6.0, name="act")(conv(inputs))
    outputs = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[:, :, 0, 1] = 1.0
    kernel[:, :, 1, 0] = 1.0
    conv.set_weights([kernel, np.array([0.0, -6.0], np.float32)])
    return bundle_from_model(model, scale_pixels, name="dead-channel", class_names=["a", "b"])


def test_a_channel_off_on_the_starting_image_is_still_optimized(monkeypatch):
    import report_lib.methods.featurevis as featurevis

    result = visualize(_dead_channel_bundle(), [channel("act", 1)], "lucid", steps=40, size=16, seed=0)
    assert result.scores[0] > 0.0
    red, others = result.images[0][..., 0].astype(float), result.images[0][..., 1:].astype(float)
    assert red.mean() > others.mean() + 5  # it moved towards red, the only way to turn the channel on
    # With the plain ReLU the same optimization never starts: the objective stays exactly 0.
    monkeypatch.setattr(featurevis, "redirected_relu", tf.nn.relu)
    plain = visualize(_dead_channel_bundle(), [channel("act", 1)], "lucid", steps=40, size=16, seed=0)
    assert plain.scores[0] == 0.0


def test_flat_images_are_told_from_faint_patterns():
    from report_lib.methods.featurevis import is_flat

    rng = np.random.default_rng(0)
    grey = np.full((8, 8, 3), 128.0)
    faint = grey + rng.normal(0, 5, grey.shape)  # as faint as the faintest tile that shows a pattern
    barely = grey + rng.normal(0, 0.5, grey.shape)
    assert is_flat(np.stack([grey, barely, faint])).tolist() == [True, True, False]


def test_each_objective_is_drawn_by_the_first_recipe_whose_image_is_not_flat(tiny_bundle):
    from dataclasses import replace

    from report_lib.methods.featurevis import get_recipe, is_flat, visualize_first_that_draws

    # Lucid's recipe with a zero step size never leaves its near-grey start: every image is flat.
    frozen = replace(get_recipe("lucid"), name="lucid, frozen", learning_rate=0.0)
    objectives = [channel("conv2", c) for c in range(4)]
    steps = {"lucid, frozen": 3, "lucid": 30, "tf-keras-vis": 20}
    assert is_flat(visualize(tiny_bundle, objectives, frozen, steps=3, seed=0, progress=False).images).all()
    lucid = visualize(tiny_bundle, objectives, "lucid", steps=30, seed=0, progress=False)
    drawn = ~is_flat(lucid.images)
    assert 0 < drawn.sum() < len(objectives)  # the last branch, too, is exercised
    images, drawn_by = visualize_first_that_draws(tiny_bundle, objectives, [frozen, "lucid", "tf-keras-vis"], steps)
    assert drawn_by == ["lucid" if d else "tf-keras-vis" for d in drawn]
    np.testing.assert_array_equal(images[drawn], lucid.images[drawn])
    retried = visualize(tiny_bundle, [o for o, d in zip(objectives, drawn) if not d], "tf-keras-vis", steps=20,
                        seed=0, progress=False)
    np.testing.assert_array_equal(images[~drawn], retried.images)
    with pytest.raises(ValueError, match="at least one recipe"):
        visualize_first_that_draws(tiny_bundle, objectives, [], steps)
