"""Figures of section 09: readable layout and labelled axes, checked on the drawn figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pyarrow as pa

from report_lib.course.evaluation_plots import plot_boxes, plot_intervals
from report_lib.evaluation.protocol import METRIC_UNITS, METRICS
from report_lib.evaluation.results import SCHEMA
from report_lib.evaluation.summary import summarize


def test_every_metric_has_a_unit():
    assert set(METRIC_UNITS) == set(METRICS)


def test_two_line_titles_of_the_second_row_stay_below_the_first_row():
    images = np.zeros((8, 64, 64, 3), np.uint8)
    boxes = [(8, 8, 40, 40)] * 8
    fig = plot_boxes(images, boxes, [f"object {i} on background\ntarget: class {i}" for i in range(8)], columns=6)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    first_row_bottom = min(axis.get_window_extent(renderer).y0 for axis in fig.axes[:6])
    second_row_title_top = max(axis.title.get_window_extent(renderer).y1 for axis in fig.axes[6:8])
    assert second_row_title_top <= first_row_bottom


def test_interval_panels_name_the_unit_of_their_axis():
    rows = [{"image_id": f"img{i}", "label": 0, "target": 0, "method": method, "metric": metric,
             "value": float(value), "probability": 0.9, "curve": None, "error": ""}
            for metric, values in (("average_drop", (10, 30, 50, 20)), ("insertion", (0.2, 0.3, 0.1, 0.4)))
            for method in ("a", "b") for i, value in enumerate(values)]
    summary = summarize(pa.Table.from_pylist(rows, schema=SCHEMA), resamples=200)
    fig = plot_intervals(summary, ["insertion", "average_drop"], {"a": "A", "b": "B"})
    labels = [axis.get_xlabel() for axis in fig.axes[:2]]
    assert labels == [METRIC_UNITS["insertion"], METRIC_UNITS["average_drop"]]
    assert "%" in labels[1]
