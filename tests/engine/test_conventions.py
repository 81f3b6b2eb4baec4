"""§0 conventions: calendar months, exact decimals, hundredths, half-up percentages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.engine import (
    add_months,
    clamp_confidence,
    decimal_mm,
    format_mm,
    months_between,
    percent_half_up,
)

from .builders import D


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2024-01-31", 1, "2024-02-29"),  # leap year, clamped to the month's end
        ("2023-01-31", 1, "2023-02-28"),
        ("2024-03-31", 1, "2024-04-30"),
        ("2024-08-31", 6, "2025-02-28"),
        ("2024-01-10", 12, "2025-01-10"),
        ("2024-11-15", 3, "2025-02-15"),
        ("2024-03-31", -1, "2024-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
    ],
)
def test_add_months_keeps_the_day_number_clamped_to_month_end(
    start: str, n: int, expected: str
) -> None:
    assert add_months(D(start), n) == D(expected)


@pytest.mark.parametrize(
    ("a", "b", "months"),
    [
        ("2024-01-10", "2025-01-20", 12),
        ("2024-01-10", "2025-01-09", 11),  # one day short of a year
        ("2024-01-10", "2024-01-10", 0),
        ("2024-01-31", "2024-02-29", 1),  # clamped month end counts as a whole month
        ("2024-01-31", "2024-02-28", 0),
        ("2024-04-20", "2025-06-10", 13),
    ],
)
def test_months_between_is_the_largest_whole_month_count(a: str, b: str, months: int) -> None:
    assert months_between(D(a), D(b)) == months
    assert add_months(D(a), months) <= D(b) < add_months(D(a), months + 1)


def test_sizes_compare_as_typed_decimals_not_binary_floats() -> None:
    assert decimal_mm(9.7) - decimal_mm(7.7) == Decimal("2.0")
    assert 9.7 - 7.7 < 2  # the float comparison the rules forbid


@pytest.mark.parametrize(
    ("part", "whole", "pct"),
    [("5", "14", 36), ("1", "8", 13), ("1", "200", 1), ("3", "200", 2), ("8", "12", 67)],
)
def test_percentages_round_half_up(part: str, whole: str, pct: int) -> None:
    assert percent_half_up(Decimal(part), Decimal(whole)) == pct


def test_sizes_print_with_one_decimal() -> None:
    assert [format_mm(Decimal(x)) for x in ("12.5", "7", "12.25", "0.1")] == [
        "12.5",
        "7.0",
        "12.3",
        "0.1",
    ]


def test_confidence_is_clamped_to_five_and_ninety_five_hundredths() -> None:
    assert [clamp_confidence(x) for x in (-5, 5, 50, 95, 110)] == [5, 5, 50, 95, 95]
