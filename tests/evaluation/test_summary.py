"""Statistics of an evaluation's rows, on hand-made tables with known answers."""

import numpy as np
import pyarrow as pa

from report_lib.evaluation.results import SCHEMA
from report_lib.evaluation.summary import leaders, summarize, summary_markdown, summary_rows


def table(values: dict[tuple[str, str], list[float]], errors: int = 0) -> pa.Table:
    rows = []
    for (method, metric), column in values.items():
        rows += [{"image_id": f"img{i}", "label": 0, "target": 0, "method": method, "metric": metric, "value": v,
                  "probability": 0.9, "curve": None, "error": ""} for i, v in enumerate(column)]
    rows += [{"image_id": f"bad{i}", "label": 0, "target": -1, "method": "a", "metric": "insertion",
              "value": float("nan"), "probability": float("nan"), "curve": None, "error": "ImageLoadError: x"}
             for i in range(errors)]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def test_tied_methods_share_the_mean_of_their_ranks():
    # Pointing game: a, b and c all hit every image; d misses them all. Insertion breaks no tie with them.
    hits = [1.0] * 20
    results = table({("a", "pointing_game"): hits, ("b", "pointing_game"): hits, ("c", "pointing_game"): hits,
                     ("d", "pointing_game"): [0.0] * 20,
                     ("a", "insertion"): [0.5] * 20, ("b", "insertion"): [0.5] * 20,
                     ("c", "insertion"): [0.2] * 20, ("d", "insertion"): [0.7] * 20})
    summary = summarize(results, resamples=500)
    assert summary.ranks["pointing_game"] == {"a": 2.0, "b": 2.0, "c": 2.0, "d": 4.0}
    assert summary.ranks["insertion"] == {"a": 2.5, "b": 2.5, "c": 4.0, "d": 1.0}
    assert summary.mean_rank() == {"a": 2.25, "b": 2.25, "d": 2.5, "c": 3.0}
    assert summary.mean_rank(["insertion"])["d"] == 1.0


def test_intervals_state_n_and_comparisons_say_what_is_resolved():
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.1, 40)
    results = table({("a", "insertion"): list(base + 0.05), ("b", "insertion"): list(base),
                     ("c", "insertion"): list(base + rng.normal(0, 0.001, 40)),
                     ("a", "increase_in_confidence"): [100.0] * 10 + [0.0] * 30,
                     ("b", "increase_in_confidence"): [0.0] * 40, ("c", "increase_in_confidence"): [0.0] * 40},
                    errors=3)
    summary = summarize(results, resamples=2000)
    a = summary.intervals[("a", "insertion")]
    assert a.n == 40 and a.low < a.estimate < a.high and abs(a.estimate - (base.mean() + 0.05)) < 1e-12
    # Increase in confidence is a proportion: Wilson's interval, in percent.
    ic = summary.intervals[("a", "increase_in_confidence")]
    assert ic.estimate == 25.0 and 10 < ic.low < 25 < ic.high < 45
    assert summary.intervals[("b", "increase_in_confidence")].high > 0  # 0 of 40 is not certainty
    resolved = {(c.first, c.second): c.better for c in summary.resolved("insertion")}
    assert resolved == {("a", "b"): "a", ("a", "c"): "a"}
    assert [(c.first, c.second) for c in summary.unresolved("insertion")] == [("b", "c")]
    assert summary.failed == 3
    header, rows = summary_rows(summary)
    assert "(n=40)" in header[1] and rows[0][0] == "a"
    assert "3 image(s) failed" in summary_markdown(summary)


def test_leaders_name_the_best_and_who_it_cannot_be_told_from():
    rng = np.random.default_rng(1)
    base = rng.normal(0.5, 0.1, 30)
    results = table({("a", "insertion"): list(base + 0.1), ("b", "insertion"): list(base + 0.1 + rng.normal(0, 1e-3, 30)),
                     ("c", "insertion"): list(base)})
    summary = summarize(results, resamples=2000)
    best, tied, worse = leaders(summary, "insertion")
    assert {best, *tied} == {"a", "b"} and worse == ["c"]
