"""Stored columns as the JSON the CLI and the API print: one rule for dates, times and nulls."""

from __future__ import annotations

from typing import Any


def iso(value: Any) -> str | None:
    """A date or time in ISO 8601; None stays null."""
    return value.isoformat() if value is not None else None


def json_value(value: Any) -> Any:
    """A stored value as JSON: a date or time in ISO 8601, anything else as it is."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def columns_json(row: Any, *names: str) -> dict[str, Any]:
    """The named columns of a row, in that order: `name` under its own key, `key=column` under
    another; dates and times in ISO 8601."""
    out: dict[str, Any] = {}
    for name in names:
        key, _, column = name.partition("=")
        value = getattr(row, column or key)
        out[key] = json_value(value)
    return out
