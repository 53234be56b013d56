"""fwcourse.util.tables: the one Markdown table renderer of the experiments' pages."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.util.tables import cell, markdown_table


def test_cells_format_numbers_text_and_missing_values():
    assert cell(None) == "–" and cell(None, missing="-") == "-"
    assert cell("n/a") == "n/a" and cell("n/a", ".3f") == "n/a"  # text passes through any spec
    assert cell(123.456) == "123.5" and cell(0.000123456) == "0.0001235"
    assert cell(12345.6) == "12,346" and cell(np.float64(-2500.0)) == "-2,500"
    assert cell(7) == "7" and cell(12345) == "12345"  # integers as they are
    assert cell(0.1234, ".1%") == "12.3%" and cell(12345, ",") == "12,345"
    assert cell(2.5, lambda v: f"{v:.2f}%") == "2.50%"


def test_table_has_header_separator_and_one_line_per_row():
    lines = markdown_table(["model", "params", "loss"], [["lstm", 1234, 2.0], ["trigram", None, 1.5]],
                           formats=[None, ",", ".3f"], align=[None, "right", "right"])
    assert lines == ["| model | params | loss |", "|---|---:|---:|",
                     "| lstm | 1,234 | 2.000 |", "| trigram | – | 1.500 |"]
    assert markdown_table(["a"], []) == ["| a |", "|---|"]
    assert markdown_table(["a", "b"], [[1, 2]], align=["left", "center"])[1] == "|:---|:---:|"


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=[[1]]), "row 0 has 1 values for 2 columns"),
    (dict(rows=[], formats=[None]), "one entry per column"),
    (dict(rows=[], align=["up", None]), "align entry must be one of"),
])
def test_mistakes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        markdown_table(["a", "b"], **kwargs)
