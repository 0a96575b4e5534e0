import numpy as np

from report_lib.data.synthetic import OBJECT_COLOURS, synthetic_objects


def test_masks_boxes_and_colours_agree():
    data = synthetic_objects(20, seed=0, size=40, object_size=6)
    assert data.images.shape == (20, 40, 40, 3) and data.masks.shape == (20, 40, 40)
    for image, label, box, mask in zip(data.images, data.labels, data.boxes, data.masks):
        top, left, bottom, right = box
        assert mask.sum() == 36 and mask[top:bottom, left:right].all()
        np.testing.assert_array_equal(image[mask][0], OBJECT_COLOURS[label])
    assert set(data.labels) == {0, 1}


def test_seeded():
    first, again = synthetic_objects(5, seed=3), synthetic_objects(5, seed=3)
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, synthetic_objects(5, seed=4).images)


def test_the_small_cnn_learns_the_task(tiny_bundle, tiny_test_set):
    images, labels, _ = tiny_test_set
    assert (tiny_bundle.predict(images).argmax(axis=1) == labels).mean() >= 0.9
    assert tiny_bundle.cam_layer == "last_conv"
