"""When a lesion's assessment can next change with time alone: the daily scan's due date.

Pure, like the engine it calls (standard library and `tracker.engine` only): no database, no
clock. Without new data, the engine's output for a lesion depends on `as_of` only through
comparisons of `as_of` with dates in the facts (observations, event, treatments) or with dates
the rules derive from them by a fixed delay (a follow-up date, a 6-month threshold, a 28-day
confirmation, a 10-week window). So the output is constant between those dates, and the
earliest change is found by evaluating the engine at each candidate after `as_of`, in order,
and returning the first whose output differs. A rule with a new delay needs it added to
`DELAYS_DAYS` or `DELAYS_MONTHS`; the brute-force test (every day re-assessed) catches a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields, is_dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from tracker.engine import LesionAssessment, LesionFacts, add_months, infer

# Every delay a rule counts from a date (clinical-rules.md §2 windows, §4 alerts, §5 follow-up,
# §7a treatment response), in one place. Day delays: 28-day confirmation, 4-12 week HO windows
# and follow-ups. Month delays: urgent cap, resorptive/response follow-up, no-resolution and
# not-maturing thresholds, yearly follow-up and gap, post-surgical maturity, growth allowance.
DELAYS_DAYS: tuple[int, ...] = (0, 28, 6 * 7, 8 * 7, 10 * 7, 12 * 7)
DELAYS_MONTHS: tuple[int, ...] = (1, 3, 6, 12, 18, 36)

# Candidates are evaluated up to this far ahead; past it the lesion is simply looked at again
# (re-assessing early is always safe, late never is). Bounds the work for a lesion whose
# output will not change for years, or ever.
HORIZON_DAYS = 200


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _dates(value: Any) -> Iterator[date]:
    """Every calendar date inside facts or an assessment (dataclasses, tuples, mappings)."""
    if isinstance(value, datetime):
        yield value.date()
    elif isinstance(value, date):
        yield value
    elif isinstance(value, (str, int, float, bool)) or value is None:
        return
    elif is_dataclass(value) and not isinstance(value, type):
        for name in _field_names(type(value)):
            yield from _dates(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _dates(item)
    elif isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _dates(item)


def candidate_dates(anchors: Iterable[date], after: date) -> list[date]:
    """Each anchor plus each delay, and the day after each (`>` and `>=` comparisons both
    flip there), strictly after `after`, in order."""
    points: set[date] = set()
    reach = timedelta(days=max(DELAYS_DAYS) + 31 * max(DELAYS_MONTHS) + 1)
    for anchor in set(anchors):
        if anchor + reach <= after:  # every delay from it has passed
            continue
        for days in DELAYS_DAYS:
            points.add(anchor + timedelta(days=days))
        for months in DELAYS_MONTHS:
            points.add(add_months(anchor, months))
    points |= {d + timedelta(days=1) for d in points}
    return sorted(d for d in points if d > after)


def _comparable(a: LesionAssessment) -> LesionAssessment:
    """The output without the date it was computed for (if the assessment carries it)."""
    if any(f.name == "as_of" for f in fields(a)):
        return replace(a, as_of=None)  # type: ignore[call-arg]
    return a


def recheck_on(
    facts: LesionFacts, as_of: date, current: LesionAssessment | None = None
) -> date | None:
    """The earliest date after `as_of` at which `infer(facts, day)` differs from
    `infer(facts, as_of)` (pass it as `current` to save one call); None if it never does.
    Past `HORIZON_DAYS`, the next candidate is returned unevaluated: a date to look again,
    never later than the first change."""
    now = current if current is not None else infer(facts, as_of)
    base = _comparable(now)
    horizon = as_of + timedelta(days=HORIZON_DAYS)
    for day in candidate_dates([*_dates(facts), *_dates(now)], as_of):
        if day > horizon or _comparable(infer(facts, day)) != base:
            return day
    return None
