"""Every CSV file the product writes goes through `writer()`, whose rows pass each cell
through `cell()`: the one defence against CSV injection (OWASP "CSV Injection").

A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` as a formula, and tab or
carriage return can hide one; text that comes from people (a patient id, a note, a rejected
row's cells) is written with a leading apostrophe, which spreadsheets show as text. Numbers the
product computes (days, survival, % change, a line number) are written as numbers, so that
-12.5 stays a number in the sheet: escaping is decided by the value's type, never by its text.
The CSV import reads such an apostrophe back off (`unescaped`), so a rejects file, corrected,
imports as it was written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def cell(value: Any) -> Any:
    """A number (not a bool) as it is; anything else as text, escaped if it starts a formula."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    return ESCAPE + text if text.startswith(FORMULA_STARTS) else text


def unescaped(text: str) -> str:
    """What `cell` was given: the apostrophe it put before a formula character removed."""
    return text[1:] if text.startswith(ESCAPE) and text[1:2] and \
        text[1:].startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer whose every cell goes through `cell`."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextIO) -> SafeWriter:
    """The CSV writer of every file the product writes (CRLF, as RFC 4180 and Excel use)."""
    return SafeWriter(out)
