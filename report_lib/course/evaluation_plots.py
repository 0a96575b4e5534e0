"""Figures of section 09: composites with their boxes, mean curves from the
engine's rows, every method x metric as an interval, and the sanity check
with the randomized blocks named on its axis."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from report_lib.evaluation.protocol import HIGHER_IS_BETTER, METRIC_UNITS
from report_lib.evaluation.statistics import bootstrap_interval
from report_lib.evaluation.summary import Summary


def plot_boxes(images: np.ndarray, boxes: Sequence[Sequence[float]], titles: Sequence[str],
               columns: int = 6) -> matplotlib.figure.Figure:
    """Images with one box each drawn in yellow.

    Args:
        images: ``(n, H, W, 3)`` uint8.
        boxes: ``(xmin, ymin, xmax, ymax)`` per image, in its pixels.
        titles: One per image.
        columns: Images per row.

    Returns:
        The figure.
    """
    columns = max(1, min(columns, len(images)))
    rows = int(np.ceil(len(images) / columns))
    # Constrained layout keeps two-line titles clear of the row above.
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.7 * rows), squeeze=False, layout="constrained")
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, (xmin, ymin, xmax, ymax), title in zip(axes.flat, images, boxes, titles):
        axis.imshow(image)
        axis.add_patch(plt.Rectangle((xmin - 0.5, ymin - 0.5), xmax - xmin, ymax - ymin, fill=False,
                                     edgecolor="yellow", linewidth=1.5))
        axis.set_title(title, fontsize=8)
    return fig


def mean_curves(table: pa.Table, metric: str, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Each method's curve (deletion, insertion, ROAD) averaged over images, from the engine's rows."""
    rows = table.filter(pc.equal(table.column("metric"), metric)).select(["method", "curve", "error"])
    curves: dict[str, list] = {}
    for method, curve, error in zip(*rows.to_pydict().values()):
        if not error and curve is not None:
            curves.setdefault(method, []).append(curve)
    return {m: np.mean(curves[m], axis=0) for m in methods if m in curves}


def plot_intervals(summary: Summary, metrics: Sequence[str], titles: Mapping[str, str],
                   labels: Mapping[str, str] | None = None) -> matplotlib.figure.Figure:
    """One panel per metric: each method's mean as a dot with its 95% interval.

    Args:
        summary: From ``evaluation.summary.summarize``.
        metrics: Panels, in order.
        titles: Method id -> title.
        labels: Metric -> panel title (the metric's name by default).

    Returns:
        The figure.
    """
    metrics = [m for m in metrics if m in summary.metrics]
    columns = min(4, len(metrics))
    rows = int(np.ceil(len(metrics) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 0.32 * len(summary.methods) * rows + 1.6 * rows),
                             squeeze=False, sharey=True)
    positions = np.arange(len(summary.methods))[::-1]
    for axis, metric in zip(axes.flat, metrics):
        for y, method in zip(positions, summary.methods):
            interval = summary.intervals.get((method, metric))
            if interval is None:
                continue
            axis.errorbar(interval.estimate, y, xerr=[[interval.estimate - interval.low], [interval.high - interval.estimate]],
                          fmt="o", color="black" if method != "random" else "grey", capsize=3, markersize=4)
        ns = sorted({summary.intervals[(m, metric)].n for m in summary.methods if (m, metric) in summary.intervals})
        arrow = "higher is better" if HIGHER_IS_BETTER[metric] else "lower is better"
        axis.set_title(f"{(labels or {}).get(metric, metric.replace('_', ' '))}\n({arrow}, n={'/'.join(map(str, ns))})",
                       fontsize=9)
        axis.set_xlabel(METRIC_UNITS[metric], fontsize=8)
        axis.grid(axis="x", alpha=0.3)
        axis.set_yticks(positions, [titles.get(m, m) for m in summary.methods], fontsize=8)
    for axis in list(axes.flat)[len(metrics):]:
        axis.axis("off")
    fig.tight_layout()
    return fig


def plot_sanity(results: Mapping[str, Mapping[str, list]], measure: str, titles: Mapping[str, str],
                seed: int = 0) -> matplotlib.figure.Figure:
    """Cascading randomization: similarity to the original map after each
    block is randomized (named on the axis, output first), mean over images
    with a shaded 95% bootstrap interval.

    Args:
        results: ``evaluation.sanity.sanity_check`` output.
        measure: ``"spearman"`` or ``"ssim"``.
        titles: Method id -> title.
        seed: Seeds the bootstrap.

    Returns:
        The figure.
    """
    fig, axis = plt.subplots(figsize=(7.5, 3.6))
    for method, result in results.items():
        groups = result["groups"]
        x = np.arange(len(groups))
        per_image = result[f"{measure}_per_image"]
        intervals = [bootstrap_interval(values, resamples=2000, seed=seed) if len(values) > 1 else None
                     for values in per_image]
        line, = axis.plot(x, result[measure], marker="o", markersize=3, label=titles.get(method, method))
        if all(intervals):
            axis.fill_between(x, [i.low for i in intervals], [i.high for i in intervals], color=line.get_color(),
                              alpha=0.12)
    axis.set_xticks(x, groups, rotation=45, ha="right", fontsize=8)
    axis.set_xlabel("blocks randomized so far (cumulative, from the output down)")
    n = len(next(iter(results.values()))[f"{measure}_per_image"][0])
    axis.set_ylabel(f"{'Spearman' if measure == 'spearman' else 'SSIM'} with the original map")
    axis.set_title(f"cascading randomization: {measure} (mean of {n} images, 95% interval shaded)", fontsize=10)
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, ncols=2)
    fig.tight_layout()
    return fig
