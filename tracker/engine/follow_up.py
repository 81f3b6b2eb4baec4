"""§5 next_follow_up, from the latest observation dated on or before `as_of`.

Reading choices: from a carried (MR not-seen) latest observation, the carried stage decides; an
open urgent alert caps the date at one month even where the stage has none (9a.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from tracker.engine.model import AlertCall
from tracker.engine.sizes import add_months
from tracker.engine.steps import Staged
from tracker.vocabulary import Course, Family, Severity, Stage

# Months after the latest observation (None: no follow-up).
HADD_FOLLOW_UP_MONTHS: dict[Stage, int | None] = {
    Stage.PRECALCIFIC: None,
    Stage.FORMATIVE: 6,  # matches the no-resolution threshold
    Stage.RESTING: 6,
    Stage.RESORPTIVE: 3,  # most resorbing deposits have halved or gone by then [S4]
    Stage.POSTCALCIFIC: 12,  # none if prev(o) was already postcalcific
    Stage.RESOLVED: None,
}
HO_EARLY_FOLLOW_UP_WEEKS = 6  # sees the zoning due at 5-8 weeks [S13][S14]
HO_EARLY_NEVER_SEEN_GIVE_UP_DAYS = 8 * 7  # never seen and t >= 8 weeks: no follow-up
HO_FOLLOW_UP_MONTHS: dict[Stage, int | None] = {
    Stage.HO_INTERMEDIATE: 3,
    Stage.HO_MATURE: None,
    Stage.RESOLVED: None,
}
GENERIC_FOLLOW_UP_MONTHS: dict[Course, dict[Stage, int | None]] = {
    Course.PERSISTS: {
        Stage.STABLE: None,
        Stage.RESOLVED: None,
        Stage.PROGRESSING: 12,
        Stage.REGRESSING: 6,
    },
    Course.VARIABLE: {
        Stage.STABLE: 6,
        Stage.REGRESSING: 6,
        Stage.PROGRESSING: 3,
        Stage.RESOLVED: None,
    },
    Course.PROGRESSES: {
        Stage.STABLE: 3,
        Stage.REGRESSING: 3,
        Stage.PROGRESSING: 3,
        Stage.RESOLVED: None,
    },
}
URGENT_CAP_MONTHS = 1  # an open urgent alert: image again within a month (9a.2)


def _after_months(d: date, months: int | None) -> date | None:
    return None if months is None else add_months(d, months)


def follow_up_hadd(latest: Staged) -> date | None:
    """HADD: 6 months while forming/resting, 3 while resorbing [S4], 12 once post-calcific."""
    if latest.stage is Stage.POSTCALCIFIC and latest.step.prev_stage is Stage.POSTCALCIFIC:
        return None  # a residue already seen twice needs no more imaging
    return _after_months(latest.date, HADD_FOLLOW_UP_MONTHS.get(latest.stage))


def follow_up_ho(latest: Staged) -> date | None:
    """HO: 6 weeks to catch the zoning due at 5-8 weeks [S13][S14]; 3 months when intermediate."""
    if latest.stage is Stage.HO_EARLY:
        seen = latest.finding.visible or latest.step.seen_before
        event = latest.step.model.event_date
        if (
            not seen
            and event is not None
            and (latest.date - event).days >= HO_EARLY_NEVER_SEEN_GIVE_UP_DAYS
        ):
            return None  # nothing mineralised 8 weeks after the event: no HO to follow
        return latest.date + timedelta(weeks=HO_EARLY_FOLLOW_UP_WEEKS)  # 9a.18
    return _after_months(latest.date, HO_FOLLOW_UP_MONTHS.get(latest.stage))


def follow_up_generic(latest: Staged) -> date | None:
    """Generic: by expected course (persists, variable, progresses)."""
    course = latest.step.model.course
    schedule = GENERIC_FOLLOW_UP_MONTHS.get(course, GENERIC_FOLLOW_UP_MONTHS[Course.VARIABLE])
    return _after_months(latest.date, schedule.get(latest.stage))


FOLLOW_UP_OF: dict[Family, Callable[[Staged], date | None]] = {
    Family.HADD: follow_up_hadd,
    Family.HO: follow_up_ho,
    Family.GENERIC: follow_up_generic,
}


def urgent_cap(due: date | None, latest: Staged, alerts: Sequence[AlertCall]) -> date | None:
    """§5, 9a.2: an open urgent alert means imaging within a month, even with no stage date."""
    if not any(a.severity is Severity.URGENT for a in alerts):
        return due
    cap = add_months(latest.date, URGENT_CAP_MONTHS)
    return cap if due is None else min(due, cap)
