"""One table from many measures: each method's rank on each, and its mean rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class MethodScores:
    """One method's scores on the measures of this module (NaN when not measured)."""

    method: str
    deletion_auc: float = float("nan")
    insertion_auc: float = float("nan")
    average_drop: float = float("nan")
    increase_in_confidence: float = float("nan")
    pointing_game: float = float("nan")
    randomized_ssim: float = float("nan")


def rank_methods(scores: Sequence[MethodScores]) -> list[tuple[str, float, dict[str, int]]]:
    """Rank methods on every measure and by their mean rank (1 = best).

    Lower is better for deletion AUC, average drop and SSIM after full
    randomization (a map that survives randomization does not depend on the
    model); higher for the others. Measures that are NaN for every method are
    skipped.

    Returns:
        ``[(method, mean rank, {measure: rank}), ...]``, best first.
    """
    directions = {"deletion_auc": 1, "insertion_auc": -1, "average_drop": 1, "increase_in_confidence": -1,
                  "pointing_game": -1, "randomized_ssim": 1}
    ranks: dict[str, dict[str, int]] = {s.method: {} for s in scores}
    for measure, direction in directions.items():
        values = np.array([getattr(s, measure) for s in scores], np.float64)
        if np.isnan(values).all():
            continue
        order = np.argsort(np.where(np.isnan(values), np.inf, direction * values), kind="stable")
        for rank, index in enumerate(order, start=1):
            ranks[scores[index].method][measure] = rank
    table = [(method, float(np.mean(list(r.values()))), r) for method, r in ranks.items()]
    return sorted(table, key=lambda row: row[1])
