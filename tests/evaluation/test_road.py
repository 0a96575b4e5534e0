import time

import keras
import numpy as np
import pytest

from report_lib.evaluation.road import (
    NEIGHBOUR_WEIGHTS,
    noisy_linear_imputation,
    removal_order,
    road_images,
    road_scores,
)


def _ramp(height: int = 12, width: int = 14) -> np.ndarray:
    r, c = np.mgrid[:height, :width].astype(np.float64)
    return np.stack([3 * r + 5 * c + 7, 2 * r - c + 100, 0.5 * r + 40], axis=-1)


def _dense_reference(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """The same equations written one pixel at a time, solved densely."""
    height, width, channels = image.shape
    unknowns = list(zip(*np.nonzero(removed)))
    number = {pixel: i for i, pixel in enumerate(unknowns)}
    a = np.zeros((len(unknowns), len(unknowns)))
    b = np.zeros((len(unknowns), channels))
    for i, (r, c) in enumerate(unknowns):
        for dr, dc, w in NEIGHBOUR_WEIGHTS:
            rr, cc = r + dr, c + dc
            if 0 <= rr < height and 0 <= cc < width:
                a[i, i] += w
                if removed[rr, cc]:
                    a[i, number[(rr, cc)]] -= w
                else:
                    b[i] += w * image[rr, cc]
    out = image.copy()
    for i, pixel in enumerate(unknowns):
        out[pixel] = np.linalg.solve(a, b)[i]
    return out


def test_linear_ramp_is_reconstructed_exactly_inside():
    image = _ramp()
    removed = np.zeros(image.shape[:2], bool)
    removed[4:7, 5:8] = True  # a 3x3 hole
    removed[9, 2] = removed[2, 11] = True  # two single pixels
    filled = noisy_linear_imputation(image, removed, noise=0.0)
    np.testing.assert_allclose(filled, image, atol=1e-4)


def test_constant_image_stays_constant_even_at_the_border():
    image = np.full((10, 10, 3), 117.0)
    removed = np.random.default_rng(0).random((10, 10)) < 0.7
    removed[0, :] = True  # a whole border row
    np.testing.assert_allclose(noisy_linear_imputation(image, removed, noise=0.0), image, atol=1e-4)


def test_matches_a_pixel_by_pixel_reference_with_border_pixels():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, size=(7, 6, 3))
    removed = rng.random((7, 6)) < 0.5
    expected = _dense_reference(image, removed)
    np.testing.assert_allclose(noisy_linear_imputation(image, removed, noise=0.0), expected, atol=1e-3)


def test_kept_pixels_never_change_and_noise_is_seeded():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(16, 16, 3)).astype(np.uint8)
    removed = rng.random((16, 16)) < 0.4
    filled = noisy_linear_imputation(image, removed, seed=5)
    assert filled.dtype == np.float32 and filled.shape == image.shape
    np.testing.assert_array_equal(filled[~removed], image[~removed])
    np.testing.assert_array_equal(filled, noisy_linear_imputation(image, removed, seed=5))
    assert not np.array_equal(filled, noisy_linear_imputation(image, removed, seed=6))


def test_noise_has_the_documented_size():
    image = np.full((40, 40, 3), 100.0)
    removed = np.zeros((40, 40), bool)
    removed[5:35, 5:35] = True
    filled = noisy_linear_imputation(image, removed, noise=0.01, scale=255.0)
    assert filled[removed].std() == pytest.approx(2.55, rel=0.05)
    in_unit_range = noisy_linear_imputation(image / 255.0, removed, noise=0.01, scale=1.0)
    assert in_unit_range[removed].std() == pytest.approx(0.01, rel=0.05)


def test_grayscale_images_and_bad_masks():
    image = np.arange(25.0).reshape(5, 5)
    removed = np.zeros((5, 5), bool)
    removed[2, 2] = True
    assert noisy_linear_imputation(image, removed, noise=0.0)[2, 2] == pytest.approx(12.0)
    np.testing.assert_array_equal(noisy_linear_imputation(image, np.zeros((5, 5), bool)), image)
    with pytest.raises(ValueError, match="every pixel"):
        noisy_linear_imputation(image, np.ones((5, 5), bool))
    with pytest.raises(ValueError, match="does not match"):
        noisy_linear_imputation(image, np.zeros((4, 5), bool))


def test_a_full_size_image_imputes_quickly():
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, size=(224, 224, 3))
    removed = rng.random((224, 224)) < 0.9  # the largest usual fraction
    start = time.perf_counter()
    noisy_linear_imputation(image, removed)
    assert time.perf_counter() - start < 10  # ~1 s; a per-pixel Python loop would take far longer


def test_morf_removes_the_top_pixels_and_lerf_the_bottom():
    heatmap = np.arange(64.0).reshape(8, 8)  # the bottom rows are the most relevant
    image = np.random.default_rng(4).uniform(0, 255, size=(8, 8, 3))
    for order, removed_rows in (("morf", slice(6, 8)), ("lerf", slice(0, 2))):
        out = road_images(image, heatmap, fractions=[0.0, 0.25], order=order, seed=1)
        assert out.shape == (2, 8, 8, 3)
        np.testing.assert_allclose(out[0], image, atol=1e-4)  # nothing removed at 0
        changed = np.any(np.abs(out[1] - image) > 1e-3, axis=-1)
        expected = np.zeros((8, 8), bool)
        expected[removed_rows] = True
        np.testing.assert_array_equal(changed, expected)


def test_ties_are_broken_at_random_and_seeded():
    flat = np.zeros((20, 20))
    first = removal_order(flat, "morf", seed=0)[:40]
    assert len(set(first // 20)) > 5  # scattered over many rows, not the first two
    np.testing.assert_array_equal(first, removal_order(flat, "morf", seed=0)[:40])
    with pytest.raises(ValueError, match="order"):
        removal_order(flat, "random")
    with pytest.raises(ValueError, match="fractions"):
        road_images(np.zeros((20, 20, 3)), flat, fractions=[1.0])


# --- a tiny model where the right answer is known ----------------------------

SIZE = 32
SQUARE = (slice(8, 16), slice(8, 16))  # what the model looks at
DISTRACTOR = (slice(20, 28), slice(20, 28))  # just as red, ignored by the model


def _square_model() -> keras.Model:
    """Class 1's probability rises with the mean red inside SQUARE (0..255 inputs)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    red = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 8:16, 8:16, 0], axis=(1, 2)))(inputs)
    logits = keras.layers.Lambda(lambda m: keras.ops.stack([keras.ops.zeros_like(m), 0.1 * (m - 128.0)], axis=-1))(red)
    return keras.Model(inputs, keras.layers.Softmax()(logits))


def _bump(centre: float, sigma: float = 4.0) -> np.ndarray:
    r, c = np.mgrid[:SIZE, :SIZE]
    return np.exp(-((r - centre) ** 2 + (c - centre) ** 2) / (2 * sigma**2))


def test_road_prefers_the_map_of_what_the_model_uses():
    model = _square_model()

    def predict(batch: np.ndarray) -> np.ndarray:
        return keras.ops.convert_to_numpy(model(batch))

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(SIZE, SIZE, 3))
    image[..., 0] = rng.uniform(0, 60, size=(SIZE, SIZE))
    image[SQUARE + (0,)] = 255
    image[DISTRACTOR + (0,)] = 255
    assert predict(image[None])[0, 1] > 0.99
    maps = {"right": _bump(11.5), "wrong": _bump(23.5), "random": rng.random((SIZE, SIZE))}
    fractions = [0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
    images, classes = np.repeat(image[None], 3, axis=0), [1, 1, 1]
    heatmaps = np.stack(list(maps.values()))
    morf_curves = road_scores(predict, images, classes, heatmaps, fractions, order="morf", seed=0)
    lerf_curves = road_scores(predict, images, classes, heatmaps, fractions, order="lerf", seed=0)
    morf = dict(zip(maps, morf_curves.mean(axis=1)))
    lerf = dict(zip(maps, lerf_curves.mean(axis=1)))
    # Removing the square first kills the class at once (10% of the pixels
    # already cover it); the wrong map reaches the square only at 70%.
    assert morf_curves[0].max() < 0.01
    assert morf_curves[1, :4].min() > 0.99 and morf_curves[1, 4:].max() < 0.1
    # Scattered random removal is filled in from the kept neighbours: the
    # imputation leaves the class intact until 90% are gone.
    assert morf_curves[2, :5].min() > 0.99
    # Least relevant first: the right map keeps the square to the end.
    assert lerf_curves[0].min() > 0.99 and lerf["wrong"] < 0.75
    combined = {name: (lerf[name] - morf[name]) / 2 for name in maps}  # ROAD's combined score
    assert combined["right"] > 0.49 and combined["wrong"] < 0.05 and abs(combined["random"]) < 0.05
