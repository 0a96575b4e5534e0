import math
import time

import numpy as np
import pytest

from report_lib.evaluation.statistics import (
    Interval,
    average_ranks,
    bootstrap_interval,
    paired_bootstrap,
    wilson_interval,
)


# --- ranks -------------------------------------------------------------------

def test_four_methods_tied_for_best_share_rank_2_5():
    # The pointing-game column of section 09: four methods at 1.00.
    scores = [1.00, 1.00, 0.75, 1.00, 1.00, 0.50, 0.50]
    ranks = average_ranks(scores, higher_is_better=True)
    np.testing.assert_array_equal(ranks, [2.5, 2.5, 5, 2.5, 2.5, 6.5, 6.5])
    assert ranks.sum() == sum(range(1, 8))  # ranks always add up to 1 + ... + n


def test_lower_is_better_and_a_hand_made_table():
    # Methods x measures: deletion AUC (lower better), insertion AUC (higher better).
    table = np.array([[0.10, 0.60], [0.20, 0.60], [0.10, 0.40], [0.30, 0.70]])
    ranks = average_ranks(table, higher_is_better=[False, True])
    np.testing.assert_array_equal(ranks, [[1.5, 2.5], [3, 2.5], [1.5, 4], [4, 1]])
    np.testing.assert_array_equal(ranks.mean(axis=1), [2.0, 2.75, 2.75, 2.5])


def test_ranks_match_scipy_rankdata():
    from scipy.stats import rankdata

    values = np.random.default_rng(3).integers(0, 5, size=40).astype(float)  # many ties
    np.testing.assert_array_equal(average_ranks(values, True), rankdata(-values, method="average"))
    np.testing.assert_array_equal(average_ranks(values, False), rankdata(values, method="average"))


def test_nan_ranks_last_or_is_omitted():
    values = [0.5, np.nan, 0.9, np.nan]
    np.testing.assert_array_equal(average_ranks(values, True), [2, 3.5, 1, 3.5])
    np.testing.assert_array_equal(average_ranks(values, True, nan="omit"), [2, np.nan, 1, np.nan])
    with pytest.raises(ValueError, match="nan must be"):
        average_ranks(values, True, nan="first")


# --- bootstrap ---------------------------------------------------------------

def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(0).normal(2.0, 1.0, size=50)
    first = bootstrap_interval(values, seed=7)
    assert first == bootstrap_interval(values, seed=7)
    assert first != bootstrap_interval(values, seed=8)
    assert first.n == 50 and first.confidence == 0.95
    assert first.estimate == pytest.approx(values.mean())
    assert first.low < first.estimate < first.high
    # Close to the normal-theory interval mean +- 1.96 s / sqrt(n).
    half = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert (first.high - first.low) / 2 == pytest.approx(half, rel=0.15)


def test_bootstrap_of_a_constant_and_of_one_value_is_a_point():
    assert bootstrap_interval([0.3] * 5) == Interval(0.3, 0.3, 0.3, 5)
    assert bootstrap_interval([0.7]) == Interval(0.7, 0.7, 0.7, 1)


def test_bootstrap_with_other_statistics():
    values = np.arange(1.0, 22.0)
    median = bootstrap_interval(values, statistic=np.median, resamples=2000)
    assert median.estimate == 11.0 and median.low < 11.0 < median.high
    # A callable without axis= still works (one call per resample).
    trimmed = bootstrap_interval(values, statistic=lambda v: float(np.sort(v)[2:-2].mean()), resamples=500)
    assert trimmed.low < 11.0 < trimmed.high


def test_bootstrap_rejects_nan_and_empty_input():
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_interval([1.0, np.nan])
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0, 2.0], confidence=95)


def test_bootstrap_coverage_on_a_known_normal():
    """The 95% interval covers the true mean in about 95% of repeated samples."""
    rng = np.random.default_rng(2024)
    true_mean, repetitions, n = 5.0, 200, 40
    covered = 0
    for repetition in range(repetitions):
        sample = rng.normal(true_mean, 2.0, size=n)
        interval = bootstrap_interval(sample, resamples=2000, seed=repetition)
        covered += interval.low <= true_mean <= interval.high
    coverage = covered / repetitions
    # The percentile bootstrap under-covers a little at small n (about 0.93 here).
    assert 0.90 <= coverage <= 0.99, coverage


def test_bootstrap_of_many_images_is_fast_and_bounded():
    values = np.random.default_rng(1).random(20_000)
    start = time.perf_counter()
    interval = bootstrap_interval(values, resamples=2000)
    assert time.perf_counter() - start < 10
    assert interval.low < 0.5 < interval.high and interval.high - interval.low < 0.02


def test_paired_bootstrap_resolves_a_consistent_small_difference():
    rng = np.random.default_rng(0)
    image_difficulty = rng.normal(0.0, 1.0, size=60)  # shared by both methods
    first = image_difficulty + 0.10 + rng.normal(0.0, 0.05, size=60)
    second = image_difficulty
    paired = paired_bootstrap(first, second)
    assert paired.resolved and paired.difference.low > 0
    assert paired.difference.estimate == pytest.approx(np.mean(first - second))
    # Unpaired intervals of the two means overlap: only pairing resolves it.
    a, b = bootstrap_interval(first), bootstrap_interval(second)
    assert a.low < b.high


def test_paired_bootstrap_does_not_resolve_noise():
    rng = np.random.default_rng(1)
    first, second = rng.normal(0, 1, 30), rng.normal(0, 1, 30)
    paired = paired_bootstrap(first, second, seed=3)
    assert not paired.resolved and paired.difference.low < 0 < paired.difference.high
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap([1.0, 2.0], [1.0])


# --- Wilson ------------------------------------------------------------------

def _wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return centre - half, centre + half


@pytest.mark.parametrize(
    "k, n, low, high",
    [
        # By hand with z = 1.96: at k = 0 the upper end is z^2 / (n + z^2).
        (0, 10, 0.0, 3.8415 / 13.8415),
        (10, 10, 10 / 13.8415, 1.0),
        # k = n/2: centre 0.5, half = z/(1 + z^2/n) * sqrt(1/(4n) + z^2/(4n^2)).
        (5, 10, 0.5 - 0.263404, 0.5 + 0.263404),
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, Wilson score method.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_known_values(k, n, low, high):
    interval = wilson_interval(k, n)
    assert interval.estimate == k / n and interval.n == n
    assert interval.low == pytest.approx(low, abs=6e-5)
    assert interval.high == pytest.approx(high, abs=6e-5)
    closed_low, closed_high = _wilson_closed_form(k, n)
    assert interval.low == pytest.approx(max(closed_low, 0.0), abs=1e-12)
    assert interval.high == pytest.approx(min(closed_high, 1.0), abs=1e-12)


def test_wilson_interval_narrows_with_confidence_and_checks_input():
    assert wilson_interval(5, 10, confidence=0.8).high < wilson_interval(5, 10).high
    for k, n in [(-1, 10), (11, 10), (0, 0)]:
        with pytest.raises(ValueError, match="successes"):
            wilson_interval(k, n)


@pytest.mark.parametrize("trials", [1, 3, 7, 8, 24, 64, 100, 1000])
def test_wilson_interval_always_contains_its_estimate(trials):
    # At 0 and at n successes rounding once left the low end a hair above 0
    # (a negative error bar, which matplotlib refuses).
    for successes in range(trials + 1):
        interval = wilson_interval(successes, trials)
        assert 0.0 <= interval.low <= interval.estimate <= interval.high <= 1.0
