"""Statistics for tables of explanation scores: ranks with ties averaged,
percentile-bootstrap intervals over images, paired comparisons between
methods on the same images, and the Wilson interval for a proportion."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Sequence

import numpy as np

# Bootstrap resamples are drawn in blocks of at most this many indices, so
# memory stays bounded (~32 MB of int64) whatever the number of images.
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval.

    Attributes:
        estimate: The statistic on the full sample.
        low: Lower end of the interval.
        high: Upper end of the interval.
        n: Number of observations (images, or trials for a proportion).
        confidence: Nominal coverage, e.g. 0.95.
    """

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def excludes(self, value: float) -> bool:
        """True if ``value`` lies outside the interval."""
        return not self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.n})"


@dataclass(frozen=True)
class PairedDifference:
    """The mean difference between two methods scored on the same images.

    Attributes:
        difference: Interval of ``mean(first - second)``.
        resolved: True if the interval excludes 0, i.e. the data tell the two
            methods apart at this confidence.
    """

    difference: Interval
    resolved: bool


def average_ranks(
    values: Sequence[float] | np.ndarray,
    higher_is_better: bool | Sequence[bool],
    nan: str = "last",
) -> np.ndarray:
    """Rank methods with 1 = best, ties getting the mean of the ranks they span.

    Same as ``scipy.stats.rankdata(method="average")`` on the signed values:
    four methods tied for best get rank 2.5 each, not 1, 2, 3 and 4 in list
    order.

    Args:
        values: ``(methods,)`` scores, or ``(methods, measures)`` to rank every
            column separately.
        higher_is_better: Direction, one for all columns or one per column.
        nan: ``"last"``: a NaN score ranks after every number, NaNs tying among
            themselves (a method that could not be measured counts as worst).
            ``"omit"``: NaN scores get rank NaN and the others are ranked
            ``1..k`` among themselves.

    Returns:
        float64 ranks, the same shape as ``values``.
    """
    if nan not in ("last", "omit"):
        raise ValueError(f"nan must be 'last' or 'omit', got {nan!r}")
    array = np.asarray(values, np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(f"values must be 1-D or 2-D; got shape {array.shape}")
    columns = array.reshape(array.shape[0], -1)
    directions = np.broadcast_to(np.asarray(higher_is_better, bool), columns.shape[1:])
    ranks = np.empty_like(columns)
    for column, higher in enumerate(directions):  # one pass per measure, not per method
        ranks[:, column] = _rank_column(columns[:, column], bool(higher), nan)
    return ranks.reshape(array.shape)


def _rank_column(column: np.ndarray, higher_is_better: bool, nan: str) -> np.ndarray:
    missing = np.isnan(column)
    present = column[~missing]
    key = -present if higher_is_better else present
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    # Each run of equal keys shares the mean of the positions it covers.
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], sorted_key.size]
    run_rank = (starts + 1 + ends) / 2.0  # mean of starts+1 .. ends
    ranks_sorted = np.repeat(run_rank, ends - starts)
    ranks = np.empty(column.size)
    present_ranks = np.empty(present.size)
    present_ranks[order] = ranks_sorted
    ranks[~missing] = present_ranks
    if nan == "last":
        ranks[missing] = present.size + (missing.sum() + 1) / 2.0
    else:
        ranks[missing] = np.nan
    return ranks


def _check_sample(values: Sequence[float] | np.ndarray, name: str = "values") -> np.ndarray:
    array = np.asarray(values, np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity: drop failed images before the bootstrap")
    return array


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _bootstrap_distribution(
    values: np.ndarray, statistic: Callable[..., float], resamples: int, seed: int
) -> np.ndarray:
    """``resamples`` values of the statistic on resamples (with replacement) of ``values``."""
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    n = values.size
    block = max(1, _BLOCK_ELEMENTS // n)
    results = np.empty(resamples)
    for start in range(0, resamples, block):
        count = min(block, resamples - start)
        samples = values[rng.integers(0, n, size=(count, n))]
        results[start : start + count] = _apply(statistic, samples)
    return results


def _apply(statistic: Callable[..., float], samples: np.ndarray) -> np.ndarray:
    # numpy reductions (np.mean, np.median, ...) take axis= and run on the
    # whole block at once; any other callable falls back to one call per row.
    try:
        result = np.asarray(statistic(samples, axis=1), np.float64)
        if result.shape == (samples.shape[0],):
            return result
    except TypeError:
        pass
    return np.array([statistic(row) for row in samples], np.float64)


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[..., float] = np.mean,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a statistic over images.

    Images are resampled with replacement ``resamples`` times; the interval is
    the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
    statistic over the resamples.

    Args:
        values: One score per image (finite; drop failed images first).
        statistic: Reduction; numpy functions taking ``axis=`` are vectorised.
        confidence: Nominal coverage.
        resamples: Number of bootstrap resamples.
        seed: Seeds the resampling.

    Returns:
        ``Interval(statistic(values), low, high, n)``.
    """
    _check_confidence(confidence)
    array = _check_sample(values)
    distribution = _bootstrap_distribution(array, statistic, resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(distribution, [tail, 1.0 - tail])
    return Interval(float(statistic(array)), float(low), float(high), array.size, confidence)


def paired_bootstrap(
    first: Sequence[float] | np.ndarray,
    second: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> PairedDifference:
    """Compare two methods scored on the same images.

    Resamples images (pairs), not the two columns separately: the variation
    between images, which both methods share, cancels out of the difference.

    Args:
        first: Scores of the first method, one per image.
        second: Scores of the second method on the same images, same order.
        confidence: Nominal coverage.
        resamples: Number of bootstrap resamples.
        seed: Seeds the resampling.

    Returns:
        The interval of ``mean(first - second)`` and whether it excludes 0.
    """
    a, b = _check_sample(first, "first"), _check_sample(second, "second")
    if a.shape != b.shape:
        raise ValueError(f"first and second must score the same images; got {a.size} and {b.size} values")
    interval = bootstrap_interval(a - b, np.mean, confidence, resamples, seed)
    return PairedDifference(interval, interval.excludes(0.0))


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion (Wilson 1927).

    Unlike the normal approximation it stays inside [0, 1] and is not empty
    at 0 or ``trials`` successes, so it suits small counts (e.g. how many of
    20 photographs a patch fools).

    Args:
        successes: Number of successes, ``0 <= successes <= trials``.
        trials: Number of trials, > 0.
        confidence: Nominal coverage.

    Returns:
        ``Interval(successes / trials, low, high, trials)``.
    """
    _check_confidence(confidence)
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0; got {successes} of {trials}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / trials + z2n / (4.0 * trials))
    # Clipped: at 0 or n successes rounding can leave an end a hair outside [0, 1]
    # or on the wrong side of the estimate (a negative error bar for matplotlib).
    low, high = min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))
    return Interval(p, float(low), float(high), trials, confidence)
