"""One table from many measures: each method's rank on each, and its mean rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from report_lib.evaluation.statistics import average_ranks


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


def rank_methods(scores: Sequence[MethodScores], exclude: Sequence[str] = ()) -> list[tuple[str, float, dict[str, float]]]:
    """Rank methods on every measure and by their mean rank (1 = best).

    Lower is better for deletion AUC, average drop and SSIM after full
    randomization (a map that survives randomization does not depend on the
    model); higher for the others. Exact ties share the mean of the ranks
    they span (four methods tied for best get 2.5 each), so list order never
    decides. A method not measured on a measure (NaN) ranks last there;
    measures that are NaN for every method are skipped.

    Args:
        scores: One entry per method.
        exclude: Measures ranked but left out of the mean rank (e.g.
            ``("deletion_auc",)`` when grey deletion is not trusted).

    Returns:
        ``[(method, mean rank, {measure: rank}), ...]``, best first (ties in
        the mean rank keep the input order).
    """
    directions = {"deletion_auc": False, "insertion_auc": True, "average_drop": False, "increase_in_confidence": True,
                  "pointing_game": True, "randomized_ssim": False}
    measures = [m for m in directions if not np.isnan([getattr(s, m) for s in scores]).all()]
    matrix = np.array([[getattr(s, m) for m in measures] for s in scores], np.float64).reshape(len(scores), -1)
    ranked = average_ranks(matrix, [directions[m] for m in measures], nan="last") if measures else matrix
    table = []
    for row, score in zip(ranked, scores):
        ranks = {measure: float(rank) for measure, rank in zip(measures, row)}
        counted = [rank for measure, rank in ranks.items() if measure not in exclude]
        table.append((score.method, float(np.mean(counted)) if counted else float("nan"), ranks))
    return sorted(table, key=lambda row: row[1])
