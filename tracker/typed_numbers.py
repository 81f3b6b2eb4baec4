"""Numbers as people type them: a decimal comma (`12,5`, as a European keyboard or
spreadsheet writes it) reads as a decimal point. One reader for the web form and the CSV
import. Anything else that does not read as a number is returned as typed, so that the
validation quotes it in its message ("1.234,5" is not a number: a thousands separator is
ambiguous)."""

from __future__ import annotations

import re
from typing import Any


def decimal(text: str) -> str:
    """A decimal comma (`12,5`) reads as a decimal point."""
    return text.replace(",", ".", 1) if text.count(",") == 1 and "." not in text else text


def number(text: str) -> Any:
    """A number when it reads as one, else the text itself (so the message quotes it)."""
    text = decimal(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def diameters(text: str) -> list[Any]:
    """Diameters typed in one field, `6`, `6 x 4` or `6,5 × 4` (mm): each read by `number`,
    for the size check to take (or to quote what is not a number)."""
    return [number(part) for part in re.split(r"[x×*\s]+", text.strip().lower()) if part]
