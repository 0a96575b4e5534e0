"""Statistics of an evaluation's results: per method and metric the mean
with a 95% interval and its n, paired comparisons between methods on the
same images (which differences the data resolve), and ranks with ties
averaged."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Sequence

import numpy as np
import pyarrow as pa

from report_lib.evaluation.protocol import HIGHER_IS_BETTER, METRICS
from report_lib.evaluation.statistics import Interval, PairedDifference, average_ranks, bootstrap_interval, \
    paired_bootstrap, wilson_interval

#: Metrics whose per-image values are a yes/no (scaled: pointing game 0/1,
#: increase in confidence 0/100); their interval is Wilson's, not the bootstrap's.
PROPORTIONS: dict[str, float] = {"pointing_game": 1.0, "increase_in_confidence": 100.0}


@dataclass(frozen=True)
class Comparison:
    """Two methods on one metric, on the images both were measured on.

    Attributes:
        metric: The metric.
        first: One method.
        second: The other.
        paired: Interval of ``mean(first - second)`` and whether it excludes 0.
        better: The method the data favour when resolved, else ``None``.
    """

    metric: str
    first: str
    second: str
    paired: PairedDifference
    better: str | None


@dataclass
class Summary:
    """What an evaluation says, with its uncertainty.

    Attributes:
        methods: Method ids, in the order given.
        metrics: Metric ids present.
        intervals: ``(method, metric)`` -> mean and 95% interval over images.
        failed: Images whose rows carry an error.
        comparisons: Every pair of methods on every metric.
        ranks: Metric -> method -> rank of its mean (1 = best, ties averaged).
    """

    methods: list[str]
    metrics: list[str]
    intervals: dict[tuple[str, str], Interval]
    failed: int = 0
    comparisons: list[Comparison] = field(default_factory=list)
    ranks: dict[str, dict[str, float]] = field(default_factory=dict)

    def mean_rank(self, metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Each method's mean rank over ``metrics`` (all by default), best first."""
        chosen = [m for m in (metrics or self.metrics) if m in self.ranks]
        means = {method: float(np.mean([self.ranks[m][method] for m in chosen])) for method in self.methods}
        return dict(sorted(means.items(), key=lambda item: item[1]))

    def resolved(self, metric: str) -> list[Comparison]:
        """The pairs of methods whose difference on ``metric`` excludes 0."""
        return [c for c in self.comparisons if c.metric == metric and c.paired.resolved]

    def unresolved(self, metric: str) -> list[Comparison]:
        """The pairs the data cannot tell apart on ``metric``."""
        return [c for c in self.comparisons if c.metric == metric and not c.paired.resolved]


def _per_image(table: pa.Table) -> dict[tuple[str, str], dict[str, float]]:
    columns = table.select(["image_id", "method", "metric", "value", "error"]).to_pydict()
    values: dict[tuple[str, str], dict[str, float]] = {}
    for image, method, metric, value, error in zip(*columns.values()):
        if not error and value is not None and np.isfinite(value):
            values.setdefault((method, metric), {})[image] = float(value)
    return values


def summarize(
    table: pa.Table,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
    methods: Sequence[str] | None = None,
) -> Summary:
    """Means with intervals, paired comparisons and ranks from an evaluation's rows.

    Intervals are percentile bootstraps over images (``resamples``, seeded),
    except for the yes/no metrics (pointing game, increase in confidence),
    which get Wilson's interval. Comparisons resample images in pairs.

    Args:
        table: ``results.read_results(folder)``.
        confidence: Nominal coverage.
        resamples: Bootstrap resamples.
        seed: Seeds the bootstrap.
        methods: Methods to include, in this order (all, in order of appearance, by default).

    Returns:
        The summary.
    """
    per_image = _per_image(table)
    present = list(dict.fromkeys(table.column("method").to_pylist()))
    methods = list(methods) if methods is not None else present
    metrics = [m for m in METRICS if any((method, m) in per_image for method in methods)]
    errors = table.select(["image_id", "error"]).to_pydict()
    failed = len({image for image, error in zip(errors["image_id"], errors["error"]) if error})
    summary = Summary(methods, metrics, {}, failed)
    for metric in metrics:
        for method in methods:
            values = np.array(list(per_image.get((method, metric), {}).values()))
            if values.size == 0:
                continue
            if metric in PROPORTIONS:
                scale = PROPORTIONS[metric]
                w = wilson_interval(int(round(values.sum() / scale)), values.size, confidence)
                interval = Interval(w.estimate * scale, w.low * scale, w.high * scale, w.n, confidence)
            else:
                interval = bootstrap_interval(values, np.mean, confidence, resamples, seed)
            summary.intervals[(method, metric)] = interval
        means = [summary.intervals[(m, metric)].estimate if (m, metric) in summary.intervals else np.nan
                 for m in methods]
        ranks = average_ranks(means, HIGHER_IS_BETTER[metric], nan="last")
        summary.ranks[metric] = dict(zip(methods, map(float, ranks)))
        for first, second in combinations(methods, 2):
            a, b = per_image.get((first, metric), {}), per_image.get((second, metric), {})
            common = sorted(set(a) & set(b))
            if len(common) < 2:
                continue
            paired = paired_bootstrap([a[i] for i in common], [b[i] for i in common], confidence, resamples, seed)
            better = None
            if paired.resolved:
                first_higher = paired.difference.estimate > 0
                better = first if first_higher == HIGHER_IS_BETTER[metric] else second
            summary.comparisons.append(Comparison(metric, first, second, paired, better))
    return summary


def format_interval(interval: Interval | None, metric: str) -> str:
    """``"0.412 [0.371, 0.455]"`` (percent metrics with one decimal); ``"-"`` if missing."""
    if interval is None:
        return "-"
    digits = 1 if metric in ("average_drop", "increase_in_confidence") else 3
    return f"{interval.estimate:.{digits}f} [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"


def leaders(summary: Summary, metric: str) -> tuple[str, list[str], list[str]]:
    """The method with the best mean on a metric, the methods the paired
    comparison cannot tell apart from it, and those it resolves as worse.

    Returns:
        ``(best, tied with best, resolved worse)``.
    """
    ranked = sorted((rank, method) for method, rank in summary.ranks[metric].items()
                    if (method, metric) in summary.intervals)
    best = ranked[0][1]
    tied, worse = [], []
    for comparison in summary.comparisons:
        if comparison.metric != metric or best not in (comparison.first, comparison.second):
            continue
        other = comparison.second if comparison.first == best else comparison.first
        (worse if comparison.paired.resolved else tied).append(other)
    order = [method for _, method in ranked]
    return best, sorted(tied, key=order.index), sorted(worse, key=order.index)


def summary_rows(
    summary: Summary, metrics: Sequence[str] | None = None, rank_metrics: Sequence[str] | None = None,
    titles: dict[str, str] | None = None, rank: bool = True,
) -> tuple[list[str], list[list]]:
    """Header and rows of the summary table: per method, each metric's mean
    [95% interval], and the mean rank over ``rank_metrics``; best mean rank first.

    Args:
        summary: From :func:`summarize`.
        metrics: Columns (all by default).
        rank_metrics: Metrics the mean rank averages (all shown by default).
        titles: Method id -> title for the first column.
        rank: Add the mean-rank column (rows are sorted by it either way).

    Returns:
        ``(header, rows)`` for ``course.tables.markdown_table`` or any printer.
    """
    metrics = [m for m in (metrics or summary.metrics) if m in summary.metrics]
    ranked = summary.mean_rank(rank_metrics or metrics)
    arrows = {True: "↑", False: "↓"}
    ns = {m: sorted({summary.intervals[(k, m)].n for k in summary.methods if (k, m) in summary.intervals})
          for m in metrics}
    header = ["method", *[f"{m.replace('_', ' ')} {arrows[HIGHER_IS_BETTER[m]]} (n={'/'.join(map(str, ns[m]))})"
                          for m in metrics], *(["mean rank"] if rank else [])]
    rows = [[(titles or {}).get(method, method),
             *[format_interval(summary.intervals.get((method, m)), m) for m in metrics],
             *([f"{mean:.2f}"] if rank else [])]
            for method, mean in ranked.items()]
    return header, rows


def summary_markdown(summary: Summary, metrics: Sequence[str] | None = None,
                     rank_metrics: Sequence[str] | None = None) -> str:
    """The summary table as Markdown, with a line on what the intervals are."""
    header, rows = summary_rows(summary, metrics, rank_metrics)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    lines.append(f"\nMean [95% interval] over images (bootstrap; Wilson for pointing game and increase in "
                 f"confidence); ranks of the means, ties averaged; {summary.failed} image(s) failed to load.")
    return "\n".join(lines)
