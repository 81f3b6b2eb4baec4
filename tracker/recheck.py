"""When a lesion's assessment can next change with time alone: the daily scan's due date.

Pure, like the engine it calls (standard library and `tracker.engine` only): no database, no
clock. The engine says from which date its output may change (`changes_after`: the next
observation or treatment dated later, or the day after the follow-up date); a date where it may
but does not (a treatment that changes nothing yet) is stepped over. Usually one or two engine
calls per lesion.
"""

from __future__ import annotations

from datetime import date

from tracker.engine import LesionAssessment, LesionFacts, changes_after, infer


def recheck_on(
    facts: LesionFacts, as_of: date, current: LesionAssessment | None = None
) -> date | None:
    """The earliest date after `as_of` at which `infer(facts, day)` differs from
    `infer(facts, as_of)` (pass it as `current` to save one call); None if it never does."""
    now = current if current is not None else infer(facts, as_of)
    day = changes_after(facts, as_of, now)
    while day is not None:
        seen = infer(facts, day)
        if seen != now:
            return day
        day = changes_after(facts, day, seen)
    return None
