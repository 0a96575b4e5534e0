"""Composites: the box is exactly where the pasted pixels are."""

import numpy as np
import pytest
from PIL import Image

from report_lib.data.pasted_objects import compose, paste, sample_composites, write_composites


def test_the_box_covers_exactly_the_pasted_pixels():
    rng = np.random.default_rng(0)
    background = np.zeros((300, 400, 3), np.uint8)
    obj = np.full((90, 120, 3), 255, np.uint8)
    for _ in range(5):
        image, (xmin, ymin, xmax, ymax) = compose(background, obj, 0.4, rng, size=200)
        changed = image.any(axis=2)
        rows, cols = np.nonzero(changed)
        assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (ymin, ymax, xmin, xmax)
        assert changed[ymin:ymax, xmin:xmax].all() and xmax - xmin == ymax - ymin == 80
        assert min(xmin, ymin) >= 20 and max(xmax, ymax) <= 180  # 10% margin


def test_paste_refuses_an_object_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        paste(np.zeros((10, 10, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), 8, 0)


def test_sample_composites_paste_every_photograph_before_repeating(tmp_path):
    names = ["chelsea", "coffee", "rocket"]
    composites = sample_composites(names, 5, seed=1, size=128)
    assert sorted(c.object_name for c in composites[:3]) == names
    assert all(c.object_name != c.background_name for c in composites)
    assert len({c.name for c in composites}) == 5
    again = sample_composites(names, 5, seed=1, size=128)
    assert all(np.array_equal(a.image, b.image) and a.box == b.box for a, b in zip(composites, again))
    table = write_composites(tmp_path, composites[:2], ["967", "285"], photos=["coffee"])
    lines = table.read_text().splitlines()
    assert lines[0] == "path,label,box" and lines[1].startswith(f"{composites[0].name}.png,967,")
    assert lines[3] == "coffee.png,," and (tmp_path / "coffee.png").exists()
    saved = np.asarray(Image.open(tmp_path / f"{composites[0].name}.png"))
    assert np.array_equal(saved, composites[0].image)
