"""Figures of the course: top-5 bar charts, heatmaps and overlays, all saved
to the section's output folder at a modest size."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

from report_lib.imagenet import Prediction

#: Resolution of saved figures: enough for the HTML report, small in git.
FIGURE_DPI = 80
HEATMAP_CMAP = "jet"


def save_fig(fig: matplotlib.figure.Figure, name: str, output_dir: str | Path) -> Path:
    """Save a figure as PNG into the section's output folder.

    Args:
        fig: The figure.
        name: File stem, e.g. ``"top5"``.
        output_dir: Destination folder (created if needed).

    Returns:
        Path of the PNG file.
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return path


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, cmap: str = HEATMAP_CMAP) -> np.ndarray:
    """Blend a ``[0, 1]`` heatmap, coloured with ``cmap``, over an RGB image.

    Args:
        image: ``(H, W, 3)`` uint8.
        heatmap: ``(H, W)`` values in ``[0, 1]``.
        alpha: Weight of the heatmap.
        cmap: Matplotlib colormap name.

    Returns:
        ``(H, W, 3)`` float image in ``[0, 1]``.
    """
    if heatmap.shape != image.shape[:2]:
        raise ValueError(f"heatmap {heatmap.shape} does not match image {image.shape[:2]}")
    colours = matplotlib.colormaps[cmap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return (1.0 - alpha) * image.astype(np.float32) / 255.0 + alpha * colours


def clip_maps(maps: np.ndarray, percentile: float) -> np.ndarray:
    """Rescale each map so that its given percentile maps to 1 (values above are clipped).

    Args:
        maps: ``(n, H, W)`` non-negative maps.
        percentile: In ``(0, 100]``.

    Returns:
        Maps in ``[0, 1]``.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    high = np.percentile(maps, percentile, axis=tuple(range(1, maps.ndim)), keepdims=True)
    return np.clip(maps / np.maximum(high, 1e-12), 0.0, 1.0)


def figure_to_jpeg(fig: matplotlib.figure.Figure, quality: int = 85) -> bytes:
    """Encode a figure as JPEG at ``FIGURE_DPI`` (photographic figures are
    several times smaller than as PNG, which keeps notebooks light)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    buffer.seek(0)
    out = io.BytesIO()
    Image.open(buffer).convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _bar_chart(axis: plt.Axes, predictions: Sequence[Prediction], highlight: int | None = None) -> None:
    names = [p.name.replace("_", " ") for p in predictions][::-1]
    values = [p.probability for p in predictions][::-1]
    colours = ["tab:orange" if p.index == highlight else "tab:blue" for p in predictions][::-1]
    axis.barh(names, values, color=colours)
    axis.set_xlim(0, 1)
    axis.set_xlabel("probability")
    for position, value in enumerate(values):
        inside = value > 0.8  # no room to the right: write it on the bar
        axis.text(value - 0.02 if inside else value + 0.02, position, f"{value:.2f}", va="center", fontsize=8,
                  ha="right" if inside else "left", color="white" if inside else "black")
    axis.tick_params(axis="y", labelsize=8)


def plot_top5(
    images: np.ndarray, predictions: Sequence[Sequence[Prediction]], labels: Sequence[str], columns: int = 2
) -> matplotlib.figure.Figure:
    """Each image beside a bar chart of its top-5 classes.

    Args:
        images: ``(n, H, W, 3)`` uint8.
        predictions: Top classes per image (``ModelBundle.decode``).
        labels: Title per image.
        columns: Image/chart pairs per row.

    Returns:
        The figure.
    """
    count = len(images)
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, 2 * columns, figsize=(5.2 * columns, 2.4 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.3] * columns})
    for axis in axes.flat:
        axis.axis("off")
    for index, (image, ranked, label) in enumerate(zip(images, predictions, labels)):
        row, column = divmod(index, columns)
        picture, chart = axes[row, 2 * column], axes[row, 2 * column + 1]
        picture.imshow(image)
        picture.set_title(label, fontsize=9)
        chart.axis("on")
        _bar_chart(chart, ranked)
    fig.tight_layout()
    return fig


def plot_maps(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    labels: Sequence[str],
    as_overlay: bool = True,
    cmap: str = HEATMAP_CMAP,
    clip_percentile: float | None = None,
) -> matplotlib.figure.Figure:
    """A grid with one row per image: the image, then one map per method.

    Args:
        images: ``(n, H, W, 3)`` uint8.
        maps: Method title -> ``(n, h, w)`` maps in ``[0, 1]``.
        labels: Row title per image (e.g. the explained class).
        as_overlay: Blend maps over the image; else show them alone. Maps
            smaller than the image (e.g. a CAM before upsampling) are always
            shown alone, cell by cell.
        cmap: Colormap of the maps.
        clip_percentile: Show values above this percentile of each map at
            full brightness (gradient maps have a few extreme pixels that
            would leave the rest black); ``None`` shows the maps as they are.

    Returns:
        The figure.
    """
    if clip_percentile is not None:
        maps = {title: clip_maps(batch, clip_percentile) for title, batch in maps.items()}
    columns = 1 + len(maps)
    fig, axes = plt.subplots(len(images), columns, figsize=(2.3 * columns, 2.4 * len(images)), squeeze=False)
    for row, (image, label) in enumerate(zip(images, labels)):
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(label, fontsize=9)
        for column, (title, batch) in enumerate(maps.items(), start=1):
            axis = axes[row, column]
            if as_overlay and batch[row].shape == image.shape[:2]:
                axis.imshow(overlay(image, batch[row], cmap=cmap))
            else:
                axis.imshow(batch[row], cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            if row == 0:
                axis.set_title(title, fontsize=10)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    fig.tight_layout()
    return fig
