import json

import numpy as np
import pytest

from report_lib.config import data_file
from report_lib.course.tables import occlusion_table
from report_lib.data.samples import SAMPLES
from report_lib.methods.occlusion import (
    OCCLUDER_VALUE,
    OcclusionBox,
    OcclusionDataError,
    load_boxes,
    occlusion_maps,
    apply_set,
    occluded_copies,
    occlusion_side,
    patch_positions,
    occlude,
    sensitivity_map,
)


def _write(tmp_path, boxes):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"boxes": boxes}))
    return path


def test_the_repository_data_file_is_valid():
    boxes = load_boxes(data_file("occlusions.json"), known_images=set(SAMPLES))
    assert {b.set for b in boxes} == {1, 2}
    assert {b.image for b in boxes if b.set == 1} == {b.image for b in boxes if b.set == 2}
    assert all(b.covers for b in boxes)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"image": "chelsea", "box": [0.1, 0.1, 1.2, 0.5], "covers": "face"}, "entry 1 \\(chelsea: face\\): box .* lies outside the image"),
        ({"image": "chelsea", "box": [0.5, 0.1, 0.5, 0.5], "covers": "nothing"}, "entry 1 \\(chelsea: nothing\\): box .* is empty"),
        ({"image": "unicorn", "box": [0.1, 0.1, 0.5, 0.5], "covers": "horn"}, "entry 1 \\(unicorn: horn\\): unknown image 'unicorn'"),
        ({"image": "chelsea", "box": [0.1, 0.1], "covers": "face"}, "must be \\[top, left, bottom, right\\]"),
    ],
)
def test_bad_entries_are_named(tmp_path, entry, message):
    with pytest.raises(OcclusionDataError, match=message):
        load_boxes(_write(tmp_path, [entry]), known_images=set(SAMPLES))


def test_occlude_greys_only_the_box():
    image = np.zeros((10, 20, 3), np.uint8)
    box = OcclusionBox("x", 0.2, 0.5, 0.6, 1.0, "right half", 1)
    occluded = occlude(image, [box])
    assert (occluded[2:6, 10:20] == OCCLUDER_VALUE).all()
    assert occluded.sum() == 4 * 10 * 3 * int(OCCLUDER_VALUE)
    assert image.sum() == 0  # the original is untouched


def _true_probability(bundle, images, labels):
    return bundle.predict(images)[np.arange(len(labels)), labels]


def test_covering_the_object_hurts_more_than_covering_background(tiny_bundle, tiny_test_set):
    images, labels, boxes = tiny_test_set
    on_object, on_background = images.copy(), images.copy()
    for index, (top, left, bottom, right) in enumerate(boxes):
        on_object[index, top:bottom, left:right] = OCCLUDER_VALUE
        # The same-sized square in the opposite corner region, away from the object.
        row = 0 if top >= 12 else 24
        column = 0 if left >= 12 else 24
        on_background[index, row : row + 8, column : column + 8] = OCCLUDER_VALUE
    drop_object = _true_probability(tiny_bundle, images, labels) - _true_probability(tiny_bundle, on_object, labels)
    drop_background = _true_probability(tiny_bundle, images, labels) - _true_probability(tiny_bundle, on_background, labels)
    assert drop_object.mean() > 0.3
    assert (drop_object > drop_background).mean() >= 0.9


def test_sensitivity_peak_falls_on_the_object(tiny_bundle, tiny_test_set):
    images, labels, boxes = tiny_test_set
    hits = []
    for image, label, (top, left, bottom, right) in zip(images[:16], labels[:16], boxes[:16]):
        heat = sensitivity_map(tiny_bundle, image, int(label), patch=8, stride=2)
        row, column = np.unravel_index(np.argmax(heat), heat.shape)
        hits.append(top - 2 <= row < bottom + 2 and left - 2 <= column < right + 2)
    assert np.mean(hits) >= 0.8


def test_positions_and_copies_of_the_sliding_square():
    assert occlusion_side(224) == 32 and occlusion_side(14) == 4
    assert patch_positions(10, 4, 3) == [(0, 0), (0, 3), (0, 6), (3, 0), (3, 3), (3, 6), (6, 0), (6, 3), (6, 6)]
    image = np.zeros((10, 10, 3), np.uint8)
    copies = occluded_copies(image, [(0, 0), (6, 3)], 4)
    assert copies.shape == (2, 10, 10, 3) and copies.dtype == np.float32
    assert (copies[0, :4, :4] == OCCLUDER_VALUE).all() and copies[0].sum() == 16 * 3 * OCCLUDER_VALUE
    assert (copies[1, 6:10, 3:7] == OCCLUDER_VALUE).all() and copies[1].sum() == 16 * 3 * OCCLUDER_VALUE


def test_batching_gives_the_same_map(tiny_bundle, tiny_test_set):
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    batched = sensitivity_map(tiny_bundle, image, label, patch=8, stride=4, batch_size=64)
    one_at_a_time = sensitivity_map(tiny_bundle, image, label, patch=8, stride=4, batch_size=1)
    np.testing.assert_allclose(batched, one_at_a_time, atol=1e-5)


def test_sensitivity_map_checks_its_arguments(tiny_bundle, tiny_test_set):
    image = tiny_test_set[0][0]
    with pytest.raises(ValueError, match="expected an image of shape \\(32, 32, 3\\)"):
        sensitivity_map(tiny_bundle, image[:16], 0)
    with pytest.raises(ValueError, match="patch must be in \\[1, 32\\]"):
        sensitivity_map(tiny_bundle, image, 0, patch=64)


def test_occlusion_maps_of_a_batch_match_the_single_maps(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    batch = occlusion_maps(tiny_bundle, images[:2], labels[:2], stride=8)
    side = occlusion_side(32)
    for image, label, heatmap in zip(images[:2], labels[:2], batch):
        np.testing.assert_allclose(heatmap, sensitivity_map(tiny_bundle, image, int(label), patch=side, stride=8))


def test_occluding_the_object_lowers_its_probability_more_than_background(tiny_bundle, tiny_test_set):
    bundle = tiny_bundle
    images, labels, squares = tiny_test_set
    images, squares = images[:8], squares[:8]
    names = [f"image{i}" for i in range(len(images))]
    size = images.shape[1]
    boxes = []
    for name, (top, left, bottom, right) in zip(names, squares):
        boxes.append(OcclusionBox(name, top / size, left / size, bottom / size, right / size, "the square", 1))
        # set 2: a box of the same size in the opposite corner, away from the square
        other_top = 0 if top > size // 2 else size - (bottom - top)
        other_left = 0 if left > size // 2 else size - (right - left)
        boxes.append(OcclusionBox(name, other_top / size, other_left / size, (other_top + bottom - top) / size,
                                  (other_left + right - left) / size, "background", 2))
    originals = bundle.decode(bundle.predict(images))
    on_object = apply_set(bundle, images, names, originals, boxes, 1)
    on_background = apply_set(bundle, images, names, originals, boxes, 2)
    assert on_object.images.shape == images.shape and len(on_object.predictions) == len(images)
    np.testing.assert_allclose(on_object.before, [r[0].probability for r in originals])
    assert np.mean(on_object.after - on_object.before) < np.mean(on_background.after - on_background.before) - 0.2
    table = occlusion_table(on_object, names, originals).splitlines()
    assert table[0] == "| image | true class | p before | p after | change | top-1 after |" and len(table) == 2 + len(images)
    with pytest.raises(ValueError, match="no occlusion set 3; the file has sets \\[1, 2\\]"):
        apply_set(bundle, images, names, originals, boxes, 3)
