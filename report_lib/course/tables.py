"""Small tables for the notebooks, as Markdown."""

from __future__ import annotations

from typing import Sequence

from report_lib.methods.occlusion import OccludedSet, OcclusionBox, hidden_fraction
from report_lib.models.classes import Prediction


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (numbers with two decimals)."""
    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def occlusion_table(occluded: OccludedSet, names: Sequence[str], originals: Sequence[Sequence[Prediction]]) -> str:
    """Markdown table of a hand-made occlusion set: each image's class, its
    probability before and after, and the new top 1.

    Args:
        occluded: The set, applied (``methods.occlusion.apply_set``).
        names: Name of each image.
        originals: Top classes of the unoccluded images.

    Returns:
        The table.
    """
    rows = [[name, first[0].label, float(p_before), float(p_after), float(p_after - p_before), now[0].label]
            for name, first, p_before, p_after, now in zip(names, originals, occluded.before, occluded.after,
                                                            occluded.predictions)]
    return markdown_table(["image", "true class", "p before", "p after", "change", "top-1 after"], rows)


def occlusion_area_table(sets: Sequence[OccludedSet], names: Sequence[str], boxes: Sequence[OcclusionBox]) -> str:
    """Markdown table comparing the parts that hand-made sets hide, by total drop
    and by drop per area hidden (boxes differ greatly in size, so the total
    alone mixes *what* is hidden with *how much*).

    Args:
        sets: Applied sets (``methods.occlusion.apply_set``), on the same images.
        names: Name of each image, in the order of the sets' images.
        boxes: All boxes of the data file (``load_boxes``).

    Returns:
        The table: image, set, what is hidden, area hidden (% of the image), drop
        of the watched class's probability, and drop per 10% of the image hidden.
    """
    rows = []
    for name_index, name in enumerate(names):
        for occluded in sets:
            chosen = [b for b in boxes if b.set == occluded.number and b.image == name]
            if not chosen:
                continue
            area = hidden_fraction(chosen)
            drop = float(occluded.before[name_index] - occluded.after[name_index])
            rows.append([name, occluded.number, "; ".join(b.covers for b in chosen), f"{100 * area:.0f}%", drop,
                         drop / (10 * area) if area else float("nan")])
    return markdown_table(["image", "set", "hides", "area hidden", "drop in p", "drop per 10% of the image hidden"], rows)
