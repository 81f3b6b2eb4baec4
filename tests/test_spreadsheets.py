"""The one cell escape of every CSV the product writes (OWASP CSV injection): text from people
that a spreadsheet would run gets an apostrophe; numbers the product computed stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from tracker import spreadsheets
from tracker.cohort import Curve, CurveRow, curves_csv


@pytest.mark.parametrize("text", ["=1+2", "+41 22", "-12.5", "@SUM(A1)", "\t=cmd", "\r=cmd"])
def test_text_that_starts_a_formula_is_escaped_and_read_back(text: str) -> None:
    assert spreadsheets.cell(text) == "'" + text
    assert spreadsheets.unescaped(spreadsheets.cell(text)) == text


def test_numbers_stay_numbers_and_plain_text_is_untouched() -> None:
    out = io.StringIO()
    spreadsheets.writer(out).writerow([-12.5, -3, 0.0, "hadd", "'quoted", None, True])
    assert out.getvalue() == "-12.5,-3,0.0,hadd,'quoted,,True\r\n"
    assert spreadsheets.unescaped("'quoted") == "'quoted"  # not an escape: left as typed


def test_the_cohort_table_escapes_its_text_and_keeps_its_numbers() -> None:
    curve = Curve(group="=HYPERLINK(\"http://x\")", label="x", n=2, events=1,
                  estimable=False, median_days=None,
                  median_ci=(None, None),
                  rows=[CurveRow(days=30, at_risk=2, events=1, censored=0, survival=0.5,
                                 ci_lower=-0.0, ci_upper=0.9)])
    [header, row] = list(csv.reader(io.StringIO(curves_csv([curve]))))
    assert header[0] == "group"
    assert row == ["'=HYPERLINK(\"http://x\")", "30", "2", "1", "0", "0.5", "-0.0", "0.9"]
