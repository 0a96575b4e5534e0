import sys
import threading

import numpy as np
import pytest

from report_lib.data.datasets import load_tf_flowers, texture_crops

SPLITS = {"train": 6, "validation": 2, "test": 2}


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def textures():
    return texture_crops(SPLITS, size=32, seed=0, classes=("brick", "grass", "gravel"))


def test_train_and_test_crops_never_overlap(textures):
    for label in range(3):
        train = textures.boxes["train"][textures.labels["train"] == label]
        for split in ("validation", "test"):
            other = textures.boxes[split][textures.labels[split] == label]
            assert not any(_overlap(a, b) for a in train for b in other)


def test_balanced_seeded_and_grey(textures):
    for split, count in SPLITS.items():
        assert np.bincount(textures.labels[split]).tolist() == [count] * 3
        assert textures.images[split].shape == (3 * count, 32, 32, 3)
    again = texture_crops(SPLITS, size=32, seed=0, classes=("brick", "grass", "gravel"))
    other = texture_crops(SPLITS, size=32, seed=1, classes=("brick", "grass", "gravel"))
    np.testing.assert_array_equal(textures.images["train"], again.images["train"])
    assert not np.array_equal(textures.images["train"], other.images["train"])
    image = textures.images["train"][0].astype(int)
    assert (image[..., 0] == image[..., 1]).all()


def test_flowers_fall_back_without_tensorflow_datasets(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails as if not installed
    assert load_tf_flowers(32, SPLITS, timeout=1) is None
    assert "not installed" in capsys.readouterr().out


def test_flowers_fall_back_when_the_download_stalls(monkeypatch, capsys):
    # A stalled download is abandoned after the timeout. (No real download here:
    # an abandoned thread still trying the network once ran on into the mock
    # test below and broke it.)
    tfds = pytest.importorskip("tensorflow_datasets")
    release = threading.Event()

    def stalled(*args, **kwargs):
        release.wait(30)
        raise RuntimeError("stalled")

    monkeypatch.setattr(tfds, "load", stalled)
    before = set(threading.enumerate())
    try:
        assert load_tf_flowers(32, SPLITS, timeout=0.2) is None
        assert "no answer within 0.2 s" in capsys.readouterr().out
    finally:
        release.set()
        for thread in set(threading.enumerate()) - before:
            thread.join(10)


def test_tf_flowers_loader_on_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=80):
        splits = load_tf_flowers(32, SPLITS, seed=0, timeout=120)
    assert splits is not None and splits.name == "tf_flowers"
    assert splits.class_names == ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
    for split, count in SPLITS.items():
        assert splits.images[split].shape == (5 * count, 32, 32, 3) and splits.images[split].dtype == np.uint8
        assert np.bincount(splits.labels[split], minlength=5).tolist() == [count] * 5


def test_photo_crops_are_colour_one_class_per_photograph_in_disjoint_bands():
    from report_lib.data.datasets import photo_crops
    from report_lib.data.samples import SAMPLES

    splits = photo_crops({"train": 3, "validation": 2, "test": 2}, size=32, seed=0)
    assert splits.class_names == list(SAMPLES)
    assert splits.images["train"].shape == (3 * len(SAMPLES), 32, 32, 3)
    assert np.abs(splits.images["train"].astype(int) - splits.images["train"].mean(axis=-1, keepdims=True)).max() > 20  # not grey
    for label in range(len(SAMPLES)):
        train_right = splits.boxes["train"][splits.labels["train"] == label][:, 3].max()
        test_left = splits.boxes["test"][splits.labels["test"] == label][:, 1].min()
        assert train_right <= test_left
