import numpy as np
import pytest

from report_lib.evaluation.faithfulness import (
    average_drop_increase,
    blur,
    curve_auc,
    curve_images,
    deletion_insertion,
    keep_top_fraction,
)
from report_lib.evaluation.localisation import pointing_game
from report_lib.evaluation.ranking import MethodScores, rank_methods
from report_lib.evaluation.sanity import cascading_randomization, sanity_check
from report_lib.methods.registry import bound, random_map
from report_lib.models.layers import layer_groups
from report_lib.models.surgery import randomized_copy


def test_auc_of_simple_curves():
    assert curve_auc([0.7] * 9) == pytest.approx(0.7)
    assert curve_auc([0.0, 1.0]) == pytest.approx(0.5)
    assert curve_auc(np.linspace(1, 0, 11)) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        curve_auc([1.0])


def _perfect_map(box, size=32):
    heat = np.zeros((size, size), np.float32)
    top, left, bottom, right = box
    heat[top:bottom, left:right] = 1.0
    return heat + 1e-3 * random_map((size, size), seed=1)  # ties broken at random


def test_perfect_map_beats_random_map(tiny_bundle, tiny_test_set):
    images, labels, boxes = tiny_test_set
    better_deletion, better_insertion = [], []
    for image, label, box in zip(images[:12], labels[:12], boxes[:12]):
        perfect, noise = _perfect_map(box), random_map((32, 32), seed=0)
        curve = lambda heat, mode: curve_auc(deletion_insertion(tiny_bundle, image, int(label), heat, mode, steps=16))
        better_deletion.append(curve(perfect, "deletion") < curve(noise, "deletion"))
        better_insertion.append(curve(perfect, "insertion") > curve(noise, "insertion"))
    assert np.mean(better_deletion) >= 0.9 and np.mean(better_insertion) >= 0.75


def test_deletion_curve_ends(tiny_bundle, tiny_test_set):
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    curve = deletion_insertion(tiny_bundle, image, label, random_map((32, 32)), "deletion", steps=4)
    assert curve.shape == (5,)
    assert curve[0] == pytest.approx(tiny_bundle.predict(image[None])[0, label], abs=1e-5)
    grey = np.full_like(image, 127)
    assert curve[-1] == pytest.approx(tiny_bundle.predict(grey[None])[0, label], abs=1e-5)
    with pytest.raises(ValueError, match="mode must be"):
        deletion_insertion(tiny_bundle, image, label, random_map((32, 32)), "shuffle")


def test_curve_images_change_pixels_in_the_map_order():
    image = np.random.default_rng(0).integers(0, 255, (8, 8, 3)).astype(np.uint8)
    heatmap = np.arange(64, dtype=np.float32).reshape(8, 8)  # the last row ranks highest
    deletion = curve_images(image, heatmap, "deletion", steps=8)
    assert deletion.shape == (9, 8, 8, 3) and deletion.dtype == np.float32
    np.testing.assert_array_equal(deletion[0], image)
    assert (deletion[1, 7] == 127).all() and (deletion[1, :7] == image[:7]).all()  # one row per step, best first
    assert (deletion[-1] == 127).all()
    insertion = curve_images(image, heatmap, "insertion", steps=8)
    np.testing.assert_allclose(insertion[0], blur(image))
    np.testing.assert_array_equal(insertion[1, 7], image[7])
    np.testing.assert_array_equal(insertion[-1], image)
    with pytest.raises(ValueError, match="does not match"):
        curve_images(image, heatmap[:4], "deletion")


def test_pointing_game():
    masks = np.zeros((2, 8, 8), bool)
    masks[:, 2:4, 2:4] = True
    heat = np.zeros((2, 8, 8))
    heat[0, 3, 3] = 1  # on the object
    heat[1, 5, 5] = 1  # two pixels off
    assert pointing_game(heat, masks).tolist() == [True, False]
    assert pointing_game(heat, masks, tolerance=2).tolist() == [True, True]


def test_perfect_map_scores_a_pointing_hit(tiny_test_set):
    images, labels, boxes = tiny_test_set
    from report_lib.data.synthetic import synthetic_objects

    data = synthetic_objects(10, seed=2)
    maps = np.stack([_perfect_map(box) for box in data.boxes])
    assert pointing_game(maps, data.masks).all()


def test_keep_top_fraction_and_average_drop(tiny_bundle, tiny_test_set):
    images, labels, boxes = tiny_test_set
    kept = keep_top_fraction(images[0], random_map((32, 32)), 0.5)
    assert (kept == 127).mean() == pytest.approx(0.5, abs=0.02)
    perfect = np.stack([_perfect_map(b) for b in boxes[:16]])
    opposite = 1.0 - perfect
    drop_good, _ = average_drop_increase(tiny_bundle, images[:16], labels[:16], perfect)
    drop_bad, _ = average_drop_increase(tiny_bundle, images[:16], labels[:16], opposite)
    assert drop_good < drop_bad


def test_randomization_changes_exactly_the_named_layers(tiny_bundle):
    randomized = randomized_copy(tiny_bundle, ["predictions", "last_conv"], seed=0)
    for layer in (layer for layer in tiny_bundle.model.layers if layer.weights):
        before, after = layer.get_weights(), randomized.model.get_layer(layer.name).get_weights()
        changed = any(not np.array_equal(b, a) for b, a in zip(before, after))
        assert changed == (layer.name in ("predictions", "last_conv")), layer.name
    # The original is untouched and the copy keeps the metadata.
    assert randomized.cam_layer == tiny_bundle.cam_layer and randomized.model is not tiny_bundle.model
    with pytest.raises(ValueError, match="no layers named"):
        randomized_copy(tiny_bundle, ["fc9"])


def test_layer_groups_and_cascade(tiny_bundle, lite0_bundle):
    assert [name for name, _ in layer_groups(tiny_bundle.model)] == ["predictions", "last", "conv2", "conv1"]
    lite_groups = [name for name, _ in layer_groups(lite0_bundle.model)]
    assert lite_groups[:3] == ["predictions", "top", "block7"] and lite_groups[-1] == "stem"
    steps = list(cascading_randomization(tiny_bundle, layer_groups(tiny_bundle.model)[:2]))
    assert [name for name, _ in steps] == ["predictions", "last"]
    last = steps[-1][1]
    assert not np.array_equal(last.model.get_layer("predictions").get_weights()[0],
                              tiny_bundle.model.get_layer("predictions").get_weights()[0])
    np.testing.assert_array_equal(last.model.get_layer("conv1").get_weights()[0],
                                  tiny_bundle.model.get_layer("conv1").get_weights()[0])


def test_sanity_check_separates_model_dependent_maps(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    explainers = {
        "gradcam": bound("gradcam"),
        "edge detector": lambda b, x, c: np.abs(np.diff(x.astype(float).mean(-1), axis=1, append=0)) / 255,
    }
    results = sanity_check(tiny_bundle, images[:4], labels[:4], explainers, progress=False)
    assert results["edge detector"]["ssim"] == pytest.approx([1.0] * 4)
    assert results["gradcam"]["ssim"][-1] < 0.9


def test_ranking():
    scores = [MethodScores("a", deletion_auc=0.1, insertion_auc=0.9), MethodScores("b", deletion_auc=0.3, insertion_auc=0.5)]
    ranking = rank_methods(scores)
    assert ranking[0][0] == "a" and ranking[0][2] == {"deletion_auc": 1, "insertion_auc": 1}


def test_ranking_averages_ties_instead_of_using_list_order():
    # The case of section 09's old table: four methods tied at pointing game 1.00.
    scores = [MethodScores("a", pointing_game=1.0, insertion_auc=0.4), MethodScores("b", pointing_game=1.0, insertion_auc=0.3),
              MethodScores("c", pointing_game=1.0, insertion_auc=0.2), MethodScores("d", pointing_game=1.0, insertion_auc=0.1),
              MethodScores("e", pointing_game=0.0, insertion_auc=0.5)]
    ranking = {method: (mean, ranks) for method, mean, ranks in rank_methods(scores)}
    assert [ranking[m][1]["pointing_game"] for m in "abcde"] == [2.5, 2.5, 2.5, 2.5, 5.0]
    assert [ranking[m][1]["insertion_auc"] for m in "abcde"] == [2.0, 3.0, 4.0, 5.0, 1.0]
    assert ranking["a"][0] == (2.5 + 2.0) / 2 and ranking["e"][0] == (5.0 + 1.0) / 2
    # Listed in another order, the ranks do not change.
    assert {m: r for m, _, r in rank_methods(scores[::-1])} == {m: v[1] for m, v in ranking.items()}
    # A measure can be ranked but left out of the mean rank.
    excluded = {method: mean for method, mean, _ in rank_methods(scores, exclude=("insertion_auc",))}
    assert excluded["a"] == excluded["d"] == 2.5 and excluded["e"] == 5.0


def test_ranking_puts_an_unmeasured_method_last():
    scores = [MethodScores("a", deletion_auc=0.1), MethodScores("b"), MethodScores("c", deletion_auc=0.2)]
    assert {m: r["deletion_auc"] for m, _, r in rank_methods(scores)} == {"a": 1.0, "c": 2.0, "b": 3.0}


def test_box_share_counts_positive_mass_on_the_object():
    from report_lib.evaluation.localisation import box_share

    heat = np.zeros((2, 4, 4))
    heat[0, 0, 0], heat[0, 3, 3] = 3.0, 1.0
    heat[1] = -1.0  # nothing positive
    mask = np.zeros((2, 4, 4), bool)
    mask[:, :2, :2] = True
    np.testing.assert_allclose(box_share(heat, mask), [0.75, 0.0])
