"""Composed two-object images: the boxes they claim, and class-discriminative
Grad-CAM on them with the embedded model."""

import numpy as np
import pytest

from report_lib.data.composites import COMPOSITES, GREY, box_mask, compose, make_composite, pixel_box


def test_compose_puts_each_picture_in_its_box_and_grey_elsewhere():
    red = np.zeros((10, 20, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((30, 10, 3), np.uint8)
    blue[..., 2] = 255
    image, boxes = compose(None, [(red, (0.0, 0.0, 0.5, 0.5)), (blue, (0.5, 0.25, 1.0, 1.0))], 40)
    assert boxes == [(0, 0, 20, 20), (20, 10, 40, 40)]
    assert (image[0:20, 0:20] == [255, 0, 0]).all()
    assert (image[20:40, 10:40] == [0, 0, 255]).all()
    outside = ~(box_mask(boxes[0], 40) | box_mask(boxes[1], 40))
    assert (image[outside] == GREY).all()


def test_pixel_box_rejects_empty_or_out_of_range_boxes():
    assert pixel_box((0.25, 0.5, 0.75, 1.0), 8) == (2, 4, 6, 8)
    for bad in [(0.5, 0.0, 0.5, 1.0), (0.0, 0.0, 1.2, 1.0), (-0.1, 0.0, 0.5, 0.5)]:
        with pytest.raises(ValueError):
            pixel_box(bad, 8)


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_recipes_hold_their_objects_in_the_boxes_they_claim(name):
    composite = make_composite(name, 64)
    assert composite.image.shape == (64, 64, 3) and composite.image.dtype == np.uint8
    assert len(composite.boxes) == len(COMPOSITES[name]) == len(composite.alone)
    covered = np.zeros((64, 64), bool)
    for box, alone in zip(composite.boxes, composite.alone):
        mask = box_mask(box, 64)
        # Inside its box the object alone equals the composite (boxes do not overlap here) ...
        assert (alone[mask] == composite.image[mask]).all()
        # ... and it is a picture, not grey; outside its box the lone object's image is grey.
        assert alone[mask].std() > 10
        assert (alone[~mask] == GREY).all()
        covered |= mask
    assert (composite.image[~covered] == GREY).all()


def test_mirrored_piece_is_the_same_picture_flipped():
    composite = make_composite("two_cats", 64)
    (t0, l0, b0, r0), (t1, l1, b1, r1) = composite.boxes
    left, right = composite.image[t0:b0, l0:r0], composite.image[t1:b1, l1:r1]
    assert np.abs(left.astype(int) - right[:, ::-1].astype(int)).mean() < 2


def test_gradcam_for_each_class_peaks_in_that_class_box(lite0_bundle):
    from report_lib.evaluation.localisation import pointing_game
    from report_lib.methods.registry import explain

    size = lite0_bundle.input_size
    hits = []
    for name in [n for n in COMPOSITES if n != "two_cats"]:
        composite = make_composite(name, size)
        classes = lite0_bundle.predict(composite.alone).argmax(axis=1)
        if classes[0] == classes[1]:
            continue
        maps = explain("gradcam", lite0_bundle, np.repeat(composite.image[None], len(classes), 0), classes)
        hits.extend(pointing_game(maps, np.stack([box_mask(b, size) for b in composite.boxes])))
    assert len(hits) >= 8
    assert np.mean(hits) >= 0.75, hits
