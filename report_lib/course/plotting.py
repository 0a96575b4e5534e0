"""Figures of the course: top-5 bar charts, attribution maps drawn the way
their method is always drawn, image grids, curves and animations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

from report_lib.methods.registry import MapStyle, get_method
from report_lib.models.classes import Prediction

if TYPE_CHECKING:
    from report_lib.methods.featurevis import Visualization

#: Resolution of saved and shown figures: small tiles and labels stay sharp on a page.
FIGURE_DPI = 110
HEATMAP_CMAP = "jet"
#: Quality of figures kept as JPEG (photographic grids only, see ``encode_figure``).
JPEG_QUALITY = 92
#: A figure is kept as PNG unless that is more than this many times the size
#: of its JPEG: plots, charts and tables compress well as PNG and stay crisp,
#: grids of photographs and dense maps do not.
PNG_SIZE_LIMIT = 2.0


#: Side of a feature-visualization tile, in inches: 1.5 in at 110 dpi is 165 px,
#: at least 160 px as displayed. Figures keep to six tiles a row so the page
#: does not scale them down.
FEATURE_TILE = 1.5
FEATURE_COLUMNS = 6


def _interpolation(image: np.ndarray, cell: float) -> str:
    """Nearest neighbour when a tile is enlarged (small kernels and canvases
    stay sharp blocks instead of blurs), matplotlib's default otherwise."""
    return "nearest" if image.shape[0] < cell * FIGURE_DPI else "antialiased"


def _rendered(fig: matplotlib.figure.Figure) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    return buffer.getvalue()


def encode_figure(fig: matplotlib.figure.Figure) -> tuple[bytes, str]:
    """A figure as PNG (plots, charts, line art) or, when PNG would be more than
    ``PNG_SIZE_LIMIT`` times larger, as JPEG at ``JPEG_QUALITY`` (photographs).

    Args:
        fig: The figure.

    Returns:
        ``(bytes, "png" | "jpeg")``.
    """
    import io

    from PIL import Image

    png = _rendered(fig)
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    jpeg = out.getvalue()
    return (png, "png") if len(png) <= PNG_SIZE_LIMIT * len(jpeg) else (jpeg, "jpeg")


def save_fig(fig: matplotlib.figure.Figure, name: str, output_dir: str | Path) -> Path:
    """Save a figure into the section's output folder, as ``encode_figure`` chooses.

    Args:
        fig: The figure.
        name: File stem, e.g. ``"top5"``.
        output_dir: Destination folder (created if needed).

    Returns:
        Path of the file (``.png`` or ``.jpg``).
    """
    data, kind = encode_figure(fig)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{'png' if kind == 'png' else 'jpg'}"
    path.write_bytes(data)
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


def _bar_chart(axis: plt.Axes, predictions: Sequence[Prediction], highlight: int | None = None) -> None:
    names = [p.label for p in predictions][::-1]
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


def plot_top5_before_after(
    before: np.ndarray,
    after: np.ndarray,
    before_predictions: Sequence[Sequence[Prediction]],
    after_predictions: Sequence[Sequence[Prediction]],
    before_labels: Sequence[str],
    after_labels: Sequence[str],
) -> matplotlib.figure.Figure:
    """Each image and its changed copy side by side, each with its top-5 classes.

    Args:
        before: ``(n, H, W, 3)`` the original images.
        after: ``(n, H, W, 3)`` the changed images (occluded, patched, ...).
        before_predictions: Top classes of the originals.
        after_predictions: Top classes of the changed images.
        before_labels: Title per original.
        after_labels: Title per changed copy.

    Returns:
        The figure (one row per image).
    """
    def interleave(first: Sequence, second: Sequence) -> list:
        return [item for pair in zip(first, second) for item in pair]

    return plot_top5(np.stack(interleave(before, after)), interleave(before_predictions, after_predictions),
                     interleave(before_labels, after_labels))


@dataclass(frozen=True)
class Panel:
    """One column of maps in a figure.

    Attributes:
        title: Column title.
        maps: ``(n, h, w)`` maps in ``[0, 1]``, one per image.
        style: How they are drawn (the method's ``MapStyle``).
        scale: ``(low, high)`` raw values that 0 and 1 stand for, when the
            column shares one scale (its colour bar then reads in
            ``style.unit``); ``None`` when each map is scaled to its own range.
    """

    title: str
    maps: np.ndarray
    style: MapStyle = MapStyle()
    scale: tuple[float, float] | None = None


def method_panel(method_id: str, raw: np.ndarray, title: str | None = None, shared_scale: bool = False) -> Panel:
    """A panel of a method's raw maps, scaled and styled the way that method is
    always drawn (``Method.for_display``, ``Method.style``).

    Args:
        method_id: A method id of ``methods.registry``.
        raw: ``(n, h, w)`` raw maps from that method.
        title: Column title; the method's title by default.
        shared_scale: One scale for the whole column, in the method's units
            (e.g. occlusion's probability drop), so that maps compare across
            images; by default each map fills ``[0, 1]`` on its own.

    Returns:
        The panel.
    """
    method = get_method(method_id)
    title = title or method.title
    if not shared_scale:
        return Panel(title, method.for_display(raw), method.style)
    values = np.maximum(raw, 0.0) if method.style.positive_only else np.asarray(raw, np.float32)
    low = 0.0 if method.style.positive_only else float(values.min())
    high = max(float(values.max()), low + 1e-12)
    return Panel(title, np.clip((values - low) / (high - low), 0.0, 1.0), method.style, (low, high))


def _colour_bar(fig: matplotlib.figure.Figure, axes: Sequence[plt.Axes], panel: Panel) -> None:
    """A horizontal colour bar under a column: in the method's unit on a shared
    scale, else from the least to the most important pixel of each map."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    low, high = panel.scale or (0.0, 1.0)
    bar = fig.colorbar(ScalarMappable(Normalize(low, high), panel.style.cmap), ax=list(axes), orientation="horizontal",
                       fraction=0.04, pad=0.02, aspect=18)
    bar.set_label(panel.style.unit if panel.scale else f"{panel.style.unit}\n(each map scaled to its own range)",
                  fontsize=7)
    bar.ax.tick_params(labelsize=7)
    if panel.scale is None:
        bar.set_ticks([0, 1], labels=["low", "high"])


def _draw_map(axis: plt.Axes, image: np.ndarray, heatmap: np.ndarray, style: MapStyle) -> None:
    # A map smaller than the image (a CAM before upsampling) is shown alone, cell by cell.
    if style.overlay and heatmap.shape == image.shape[:2]:
        axis.imshow(overlay(image, heatmap, cmap=style.cmap))
    else:
        axis.imshow(heatmap, cmap=style.cmap, vmin=0, vmax=1, interpolation="nearest")


def plot_maps(images: np.ndarray, panels: Sequence[Panel], labels: Sequence[str]) -> matplotlib.figure.Figure:
    """A grid with one row per image: the image, then one map per panel, with a
    colour bar under each column of maps.

    Args:
        images: ``(n, H, W, 3)`` uint8.
        panels: One column each (``method_panel``).
        labels: Row title per image (e.g. the explained class).

    Returns:
        The figure.
    """
    columns = 1 + len(panels)
    fig, axes = plt.subplots(len(images), columns, figsize=(2.5 * columns, 2.5 * len(images) + 0.6), squeeze=False,
                             layout="constrained")
    for row, (image, label) in enumerate(zip(images, labels)):
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(label, fontsize=9)
        for column, panel in enumerate(panels, start=1):
            _draw_map(axes[row, column], image, panel.maps[row], panel.style)
            if row == 0:
                axes[row, column].set_title(panel.title, fontsize=10)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    for column, panel in enumerate(panels, start=1):
        _colour_bar(fig, axes[:, column], panel)
    return fig


def plot_maps_with_boxes(
    images: np.ndarray, panels: Sequence[Panel], labels: Sequence[str],
    boxes: Sequence[Sequence[tuple[int, int, int, int]]], colours: Sequence[str] = ("white", "cyan"),
) -> matplotlib.figure.Figure:
    """``plot_maps`` with known object boxes outlined on every picture of a row.

    Args:
        images: ``(n, H, W, 3)`` uint8.
        panels: One column each (``method_panel``).
        labels: Row title per image.
        boxes: Per image, its boxes in pixels (top, left, bottom, right; bottom and right exclusive).
        colours: Outline colour of the first, second, ... box of each row.

    Returns:
        The figure.
    """
    from matplotlib.patches import Rectangle

    fig = plot_maps(images, panels, labels)
    columns = 1 + len(panels)
    grid = fig.axes[: len(images) * columns]  # plt.subplots makes them row by row, before the colour bars
    for row, row_boxes in enumerate(boxes):
        for axis in grid[row * columns : (row + 1) * columns]:
            # A coarse map is drawn at its own size: scale the boxes to it.
            shown = axis.images[0].get_array().shape[0]
            scale = shown / images[row].shape[0]
            for index, (top, left, bottom, right) in enumerate(row_boxes):
                axis.add_patch(Rectangle((left * scale - 0.5, top * scale - 0.5), (right - left) * scale,
                                         (bottom - top) * scale, fill=False, linestyle="--", linewidth=1.2,
                                         edgecolor=colours[index % len(colours)]))
    return fig


def plot_explanation(
    image: np.ndarray,
    panels: Sequence[Panel],
    predictions: Sequence[Prediction],
    explained: int,
    title: str = "",
    panels_per_row: int = 4,
) -> matplotlib.figure.Figure:
    """One image, its maps for one class side by side, and its top-5 classes.

    Args:
        image: ``(H, W, 3)`` uint8.
        panels: One map each (the first map of each panel is drawn).
        predictions: The image's top classes (``ModelBundle.decode``).
        explained: Class id of the maps; its bar is highlighted.
        title: Title of the image panel.
        panels_per_row: Image and map panels per row, before wrapping.

    Returns:
        The figure.
    """
    cells = [None, *panels]
    per_row = min(panels_per_row, len(cells))
    rows = int(np.ceil(len(cells) / per_row))
    fig = plt.figure(figsize=(2.6 * per_row + 3.4, 3.0 * rows), layout="constrained")
    grid = fig.add_gridspec(rows, per_row + 1, width_ratios=[1] * per_row + [1.5])
    for index, panel in enumerate(cells):
        axis = fig.add_subplot(grid[divmod(index, per_row)])
        if panel is None:
            axis.imshow(image)
            axis.set_title(title, fontsize=9)
        else:
            _draw_map(axis, image, panel.maps[0], panel.style)
            axis.set_title(panel.title, fontsize=9)
            _colour_bar(fig, [axis], panel)
        axis.set_xticks([])
        axis.set_yticks([])
    bars = fig.add_subplot(grid[0, per_row])
    _bar_chart(bars, predictions, highlight=explained)
    bars.set_title("top-5 (orange: explained)", fontsize=9)
    return fig


def plot_image_grid(
    images: np.ndarray, titles: Sequence[str] | None = None, columns: int = 8, cell: float = 1.25,
    title: str | None = None,
) -> matplotlib.figure.Figure:
    """Images in a grid, optionally titled (e.g. the filters of a layer).

    Args:
        images: ``(n, H, W, 3)`` uint8.
        titles: One short title per image.
        columns: Images per row.
        cell: Size of each image, in inches.
        title: Title of the whole figure.

    Returns:
        The figure.
    """
    count = len(images)
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(cell * columns, cell * rows + (0.4 if title else 0)), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, image in enumerate(images):
        axis = axes.flat[index]
        axis.imshow(image, interpolation=_interpolation(image, cell))
        if titles is not None:
            axis.set_title(titles[index], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_examples(
    visualizations: np.ndarray, patches: np.ndarray, row_titles: Sequence[str], cell: float = FEATURE_TILE,
    title: str | None = None, example_titles: Sequence[Sequence[str]] | None = None,
) -> matplotlib.figure.Figure:
    """Each filter's feature visualization beside the real patches that excite it most.

    Args:
        visualizations: ``(channels, H, W, 3)`` uint8.
        patches: ``(channels, top_k, p, p, 3)`` uint8.
        row_titles: One short label per channel.
        cell: Size of each image, in inches.
        title: Title of the whole figure (e.g. the layer).
        example_titles: Per channel, a caption under each patch (its source photograph).

    Returns:
        The figure.
    """
    rows, top_k = patches.shape[:2]
    # Room for titles and captions around each tile, so the tiles themselves keep ``cell`` inches.
    fig, axes = plt.subplots(rows, top_k + 1, figsize=((cell + 0.2) * (top_k + 1), (cell + 0.45) * rows + 0.4), squeeze=False)
    for row in range(rows):
        axes[row, 0].imshow(visualizations[row], interpolation=_interpolation(visualizations[row], cell))
        axes[row, 0].set_ylabel(row_titles[row], fontsize=8)
        for column in range(top_k):
            axes[row, column + 1].imshow(patches[row, column], interpolation=_interpolation(patches[row, column], cell))
            if example_titles is not None:
                axes[row, column + 1].set_xlabel(example_titles[row][column], fontsize=7)
    axes[0, 0].set_title("optimized", fontsize=8)
    for column in range(top_k):
        axes[0, column + 1].set_title(f"example {column + 1}", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_snapshots(
    snapshots: Mapping[int, np.ndarray], row_titles: Sequence[str], cell: float = FEATURE_TILE, title: str | None = None,
    step_label: str = "step",
) -> matplotlib.figure.Figure:
    """A strip per image: its state after each recorded step.

    Args:
        snapshots: Step -> ``(n, H, W, 3)`` uint8 images.
        row_titles: One label per image.
        cell: Size of each image, in inches.
        title: Title of the whole figure.
        step_label: What a column is ("step", "epoch").

    Returns:
        The figure.
    """
    steps = sorted(snapshots)
    rows = len(row_titles)
    fig, axes = plt.subplots(rows, len(steps), figsize=((cell + 0.15) * len(steps) + 0.3, (cell + 0.3) * rows + 0.3), squeeze=False)
    for column, step in enumerate(steps):
        for row in range(rows):
            axes[row, column].imshow(snapshots[step][row], interpolation=_interpolation(snapshots[step][row], cell))
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[0, column].set_title(f"{step_label} {step}", fontsize=9)
    for row, label in enumerate(row_titles):
        axes[row, 0].set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def animation_gif(frames: Sequence[np.ndarray], frame_ms: int = 80, last_frame_ms: int = 1500) -> bytes:
    """Encode frames as a looping GIF that pauses on the last frame.

    Args:
        frames: ``(H, W, 3)`` uint8 images, all of one size.
        frame_ms: Duration of each frame.
        last_frame_ms: Duration of the final frame.

    Returns:
        The GIF file's bytes.
    """
    import io

    from PIL import Image

    if not frames:
        raise ValueError("an animation needs at least one frame")
    pictures = [Image.fromarray(np.asarray(frame, np.uint8)) for frame in frames]
    durations = [frame_ms] * (len(pictures) - 1) + [last_frame_ms]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0, optimize=True)
    return buffer.getvalue()


def caption_frame(frame: np.ndarray, text: str, height: int = 28) -> np.ndarray:
    """A frame with a white band above it carrying ``text`` (e.g. the epoch of an animation frame).

    Args:
        frame: ``(H, W, 3)`` uint8.
        text: One line, drawn in black.
        height: Height of the band in pixels; the font is sized to it.

    Returns:
        ``(H + height, W, 3)`` uint8.
    """
    from PIL import Image, ImageDraw, ImageFont

    band = Image.new("RGB", (frame.shape[1], height), "white")
    try:  # a scalable font where Pillow has FreeType, else its small bitmap font
        font = ImageFont.load_default(size=int(height * 0.7))
    except TypeError:
        font = ImageFont.load_default()
    ImageDraw.Draw(band).text((4, height // 2), text, fill="black", font=font, anchor="lm")
    return np.concatenate([np.asarray(band), np.asarray(frame, np.uint8)], axis=0)


def side_by_side(images: np.ndarray, gap: int = 4) -> np.ndarray:
    """Concatenate ``(n, H, W, 3)`` images horizontally with white gaps, as one frame."""
    white = np.full((images.shape[1], gap, 3), 255, np.uint8)
    parts = []
    for index, image in enumerate(images):
        if index:
            parts.append(white)
        parts.append(image)
    return np.concatenate(parts, axis=1)


def plot_recipe_comparison(
    results: Mapping[str, Visualization], columns: int = FEATURE_COLUMNS, cell: float = FEATURE_TILE,
    titles: Sequence[str] | None = None, captions: Mapping[str, Sequence[str]] | None = None,
) -> matplotlib.figure.Figure:
    """The same objectives optimized by each recipe, one panel per recipe, one above the other.

    Args:
        results: Recipe name -> ``featurevis.Visualization``.
        columns: Images per row within a panel (six at 1.5 in keep tiles at
            165 px without the page scaling the figure down).
        cell: Size of each image, in inches.
        titles: One title per image (the objectives' labels by default).
        captions: Recipe name -> one line under each image (e.g. its target probability).

    Returns:
        The figure.
    """
    panels = list(results.items())
    count = len(panels[0][1].images)
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    extra = 0.25 if captions else 0.0
    fig = plt.figure(figsize=((cell + 0.12) * columns, ((cell + 0.3 + extra) * rows + 0.35) * len(panels)), layout="constrained")
    subfigures = np.atleast_1d(fig.subfigures(len(panels), 1, hspace=0.02))
    for subfigure, (name, result) in zip(subfigures, panels):
        axes = subfigure.subplots(rows, columns, squeeze=False)
        labels = titles or result.labels
        for index, axis in enumerate(axes.flat):
            axis.set_xticks([])
            axis.set_yticks([])
            if index >= count:
                axis.axis("off")
                continue
            image = result.images[index]
            axis.imshow(image, interpolation=_interpolation(image, cell))
            axis.set_title(labels[index], fontsize=8)
            if captions and name in captions:
                axis.set_xlabel(captions[name][index], fontsize=8)
        size = result.images.shape[1]
        subfigure.suptitle(f"{name} recipe ({size} x {size} px canvas)", fontsize=10)
    return fig


def plot_curves(
    x: Sequence[float], series: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
    title: str | None = None, ylim: tuple[float, float] | None = None, size: tuple[float, float] = (5.5, 3.2),
    log_y: bool = False,
) -> matplotlib.figure.Figure:
    """Line plot of several named series over a shared x axis.

    Args:
        x: X values.
        series: Name -> y values.
        xlabel: X axis label.
        ylabel: Y axis label.
        title: Figure title.
        ylim: Y axis limits.
        size: Figure size, inches.
        log_y: A logarithmic y axis, for series that span several orders of magnitude.

    Returns:
        The figure.
    """
    fig, axis = plt.subplots(figsize=size)
    for name, values in series.items():
        axis.plot(x, values, marker="o" if len(x) <= 20 else None, label=name)
    if log_y:
        axis.set_yscale("log")
    return _finish_axes(fig, axis, xlabel, ylabel, title, ylim)


def _finish_axes(
    fig: matplotlib.figure.Figure, axis: plt.Axes, xlabel: str, ylabel: str, title: str | None,
    ylim: tuple[float, float] | None,
) -> matplotlib.figure.Figure:
    # The one look of the line plots: labels, limits, a light grid and a small legend.
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if ylim:
        axis.set_ylim(*ylim)
    if title:
        axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rates(
    x: Sequence[float], series: Mapping[str, Sequence[object | None]], xlabel: str, ylabel: str,
    title: str | None = None, size: tuple[float, float] = (5.5, 3.4),
) -> matplotlib.figure.Figure:
    """Proportions with their confidence intervals as error bars, over a shared x axis.

    Args:
        x: X values.
        series: Name -> one ``evaluation.statistics.Interval`` (``estimate``, ``low``, ``high``) per x, or
            ``None`` where nothing was counted (not drawn).
        xlabel: X axis label.
        ylabel: Y axis label.
        title: Figure title.
        size: Figure size, inches.

    Returns:
        The figure (y from 0 to 1).
    """
    fig, axis = plt.subplots(figsize=size)
    spread = 0.01 * (max(x) - min(x) or 1.0)  # nudge series apart so their bars do not hide each other
    for index, (name, intervals) in enumerate(series.items()):
        shown = [(value, interval) for value, interval in zip(x, intervals) if interval is not None]
        if not shown:
            continue
        xs = np.array([value for value, _ in shown]) + (index - (len(series) - 1) / 2) * spread
        estimates = np.array([interval.estimate for _, interval in shown])
        errors = np.array([[interval.estimate - interval.low for _, interval in shown],
                           [interval.high - interval.estimate for _, interval in shown]])
        axis.errorbar(xs, estimates, yerr=errors, marker="o", capsize=3, label=name)
    return _finish_axes(fig, axis, xlabel, ylabel, title, (-0.02, 1.02))


def tile(images: np.ndarray, columns: int, scale: int = 1, gap: int = 1) -> np.ndarray:
    """Tile ``(n, h, w, 3)`` images into one image, ``columns`` per row, each
    enlarged ``scale`` times (nearest neighbour), on a white background."""
    count, height, width = images.shape[:3]
    enlarged = images.repeat(scale, axis=1).repeat(scale, axis=2)
    rows = int(np.ceil(count / columns))
    cell_h, cell_w = height * scale + gap, width * scale + gap
    canvas = np.full((rows * cell_h - gap, columns * cell_w - gap, 3), 255, np.uint8)
    for index, image in enumerate(enlarged):
        row, column = divmod(index, columns)
        canvas[row * cell_h : row * cell_h + height * scale, column * cell_w : column * cell_w + width * scale] = image
    return canvas


def plot_training(histories: Mapping[str, tuple[Sequence[int], Mapping[str, Sequence[float]]]]) -> matplotlib.figure.Figure:
    """Training and validation accuracy and loss of several runs, in one figure.

    Args:
        histories: Run name -> (epoch numbers, Keras ``History.history``).

    Returns:
        The figure (accuracy left, loss right).
    """
    fig, (accuracy, loss) = plt.subplots(1, 2, figsize=(10, 3.6))
    for colour, (name, (epochs, history)) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], histories.items()):
        accuracy.plot(epochs, history["accuracy"], color=colour, label=f"{name}: train")
        accuracy.plot(epochs, history["val_accuracy"], color=colour, linestyle="--", label=f"{name}: validation")
        loss.plot(epochs, history["loss"], color=colour, label=f"{name}: train")
        loss.plot(epochs, history["val_loss"], color=colour, linestyle="--", label=f"{name}: validation")
    for axis, label in ((accuracy, "accuracy"), (loss, "loss")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    accuracy.set_ylim(0, 1.02)
    accuracy.legend(fontsize=7)
    fig.tight_layout()
    return fig
