import numpy as np
import pytest

from report_lib.methods import maps


def test_normalize_handles_constant_maps():
    scaled = maps.normalize(np.stack([np.full((4, 4), 3.0), np.arange(16.0).reshape(4, 4)]))
    assert np.all(scaled[0] == 0.0)
    assert scaled[1].min() == 0.0 and scaled[1].max() == pytest.approx(1.0)


def test_positive_part_and_percentile_clipping():
    signed = np.array([[[-0.2, 0.0], [0.1, 0.3]]])
    np.testing.assert_allclose(maps.positive_part(signed), [[[0.0, 0.0], [0.1, 0.3]]])
    ramp = np.arange(100.0).reshape(1, 10, 10)
    clipped = maps.clip_percentile(ramp, 50)
    assert clipped.max() == 1.0 and (clipped == 1.0).sum() == 50  # the top half saturates
    assert clipped[0, 0, 1] == pytest.approx(1 / 49.5)
    with pytest.raises(ValueError, match="percentile must be in"):
        maps.clip_percentile(ramp, 0)


def test_comparisons_on_hand_made_maps():
    ramp = np.arange(64.0).reshape(8, 8)
    same = maps.compare(ramp, 10 * ramp + 3)  # another unit, the same ranking and shape
    assert same == pytest.approx({"spearman": 1.0, "ssim": 1.0, "peak_distance": 0.0})
    flipped = maps.compare(ramp, ramp[::-1, ::-1])
    assert flipped["spearman"] == pytest.approx(-1.0)
    assert flipped["peak_distance"] == pytest.approx(np.hypot(7, 7))
    assert maps.spearman(ramp, np.ones_like(ramp)) == 0.0  # a constant map has no ranking
    with pytest.raises(ValueError, match="differ in shape"):
        maps.compare(ramp, ramp[:4])
