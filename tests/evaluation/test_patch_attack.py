"""The adversarial patch's measurement: the train/test split by photograph,
success counting and the pointing game against the patch."""

import json

import numpy as np
import pytest

from report_lib.config import data_file
from report_lib.data.samples import SAMPLES
from report_lib.evaluation.patch_attack import AttackTrials, PatchPointing, attack_trials, load_patch_photos


def test_patch_train_and_test_photographs_are_disjoint_known_and_labelled():
    photos = load_patch_photos(data_file("patch_photos.json"), known_images=set(SAMPLES))
    assert photos.train and photos.test
    assert not set(photos.train) & set(photos.test)
    assert set(photos.test) <= set(photos.accepted)


def test_overlapping_split_is_refused(tmp_path):
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["chelsea", "coffee"], "test": ["coffee"], "accepted": {"coffee": ["espresso"]}}))
    with pytest.raises(ValueError, match="both in training and test"):
        load_patch_photos(path)


def test_rates_count_all_trials_and_only_the_correct_ones():
    trials = AttackTrials(0.1, np.array([0, 0, 1, 1]), np.array([True, True, False, False]),
                          np.array([True, False, True, True]))
    everything, correct = trials.rate(), trials.rate(only_correct=True)
    assert (everything.estimate, everything.n) == (0.75, 4)
    assert (correct.estimate, correct.n) == (0.5, 2)
    assert correct.low < 0.5 < correct.high
    assert AttackTrials(0.1, np.array([0]), np.array([False]), np.array([True])).rate(only_correct=True) is None


def test_attack_trials_on_the_tiny_model(tiny_bundle, tiny_test_set):
    images = tiny_test_set[0][:3]
    # A pure red patch over most of the image turns the squares model to its red class.
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    red_class = tiny_bundle.find_class("red")
    trials = attack_trials(tiny_bundle, images, np.ones(3, bool), red, red_class, 0.6, placements_per_photo=2, seed=1)
    assert len(trials.success) == 6 and (trials.photo == [0, 0, 1, 1, 2, 2]).all()
    assert trials.rate().n == 6


def test_pointing_rates():
    pointing = PatchPointing(0.1, np.array([True, True, False]), {"gradcam": np.array([True, False, True])})
    assert pointing.rate("gradcam").estimate == pytest.approx(2 / 3)
    assert pointing.rate("gradcam", only_successful=True).estimate == 0.5
