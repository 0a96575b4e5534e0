from report_lib.course.tables import markdown_table


def test_markdown_table_formats_numbers():
    assert markdown_table(["a", "b"], [["x", 0.123], ["y", 3]]) == "| a | b |\n|---|---|\n| x | 0.12 |\n| y | 3 |"
