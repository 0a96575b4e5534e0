"""Small tables for the notebooks, as Markdown."""

from __future__ import annotations

from typing import Sequence

from report_lib.methods.occlusion import OccludedSet
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
