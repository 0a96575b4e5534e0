from report_lib.course.tables import markdown_table


def test_markdown_table_formats_numbers():
    assert markdown_table(["a", "b"], [["x", 0.123], ["y", 3]]) == "| a | b |\n|---|---|\n| x | 0.12 |\n| y | 3 |"


def test_occlusion_area_table_reports_area_and_drop_per_area():
    import numpy as np

    from report_lib.course.tables import occlusion_area_table
    from report_lib.methods.occlusion import OccludedSet, OcclusionBox, hidden_fraction

    boxes = [OcclusionBox("a", 0.0, 0.0, 0.5, 0.5, "corner", 1), OcclusionBox("a", 0.0, 0.0, 0.5, 1.0, "top half", 2),
             OcclusionBox("a", 0.5, 0.0, 1.0, 0.5, "and a corner", 2)]
    assert hidden_fraction(boxes[:1]) == 0.25
    assert hidden_fraction(boxes + boxes[:1]) == 0.75  # overlaps counted once
    sets = [OccludedSet(1, np.zeros((1, 2, 2, 3)), [[]], np.array([0.9]), np.array([0.4])),
            OccludedSet(2, np.zeros((1, 2, 2, 3)), [[]], np.array([0.9]), np.array([0.6]))]
    table = occlusion_area_table(sets, ["a"], boxes)
    assert "| a | 1 | corner | 25% | 0.50 | 0.20 |" in table
    assert "| a | 2 | top half; and a corner | 75% | 0.30 | 0.04 |" in table
