"""§5 next_follow_up, from the latest observation dated on or before `as_of`.

Order: the stage's date; then the latest treatment (on or after the latest observation) brings it
to `add_months(t, 3)` at the latest [S29]; then each open urgent alert caps it; the earliest wins.
Reading choices:
- From a carried (MR not-seen) latest observation, the carried stage decides; a carried
  `resolved` keeps its resolution, so a carried unconfirmed one keeps `n`'s date (9a.25) while
  that date is still ahead. An MR dated on or after it is imaging after the due date (it clears
  `any.follow_up_overdue`, §4) that confirms nothing: the film is due 3 months after that MR.
- An open urgent alert caps the date even where the stage has none (9a.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from tracker.engine.alerts.any_lesion import RAPID_PROGRESSION_RULE
from tracker.engine.alerts.rule import OpenAlert
from tracker.engine.sizes import add_months
from tracker.engine.steps import Staged
from tracker.vocabulary import Course, Family, Resolution, Severity, Stage

# Months after the latest observation (None: no follow-up); `resolved`: `follow_up_resolved`.
HADD_FOLLOW_UP_MONTHS: dict[Stage, int | None] = {
    Stage.PRECALCIFIC: None,
    Stage.FORMATIVE: 6,  # matches the no-resolution threshold
    Stage.RESTING: 6,
    Stage.RESORPTIVE: 3,  # most resorbing deposits have halved or gone by then [S4]
    Stage.POSTCALCIFIC: 12,  # none if prev(o) was already postcalcific
}
HO_EARLY_FOLLOW_UP_WEEKS = 6  # sees the zoning due at 5-8 weeks [S13][S14]
HO_EARLY_NEVER_SEEN_GIVE_UP_DAYS = 8 * 7  # never seen and t >= 8 weeks: no follow-up
HO_FOLLOW_UP_MONTHS: dict[Stage, int | None] = {
    Stage.HO_INTERMEDIATE: 3,
    Stage.HO_MATURE: None,
}
GENERIC_FOLLOW_UP_MONTHS: dict[Course, dict[Stage, int | None]] = {
    Course.PERSISTS: {
        Stage.STABLE: None,
        Stage.PROGRESSING: 12,
        Stage.REGRESSING: 6,
    },
    Course.VARIABLE: {
        Stage.STABLE: 6,
        Stage.REGRESSING: 6,
        Stage.PROGRESSING: 3,
    },
    Course.PROGRESSES: {
        Stage.STABLE: 3,
        Stage.REGRESSING: 3,
        Stage.PROGRESSING: 3,
    },
}
URGENT_CAP_MONTHS = 1  # an open urgent alert: image again within a month (9a.2)
# A resolution seen on one film (H2b/O2b/G2b) is looked at again: to confirm a single negative
# [S12].
UNCONFIRMED_RESOLUTION_MONTHS = 3
AFTER_TREATMENT_MONTHS = 3  # lavaged deposits were smaller at 3 months [S29]
# any.rapid_progression re-imaged and not cleared: cross-sectional imaging or biopsy [S1].
CONFIRMED_RAPID_CAP_MONTHS = 3
CONFIRMED_ON_REIMAGING = "; confirmed on re-imaging: cross-sectional imaging or biopsy advised"


def _after_months(d: date, months: int | None) -> date | None:
    return None if months is None else add_months(d, months)


def follow_up_resolved(latest: Staged) -> date | None:
    """Unconfirmed (H2b/O2b/G2b, and the rows that carry one): +3 months from that negative,
    or from a later MR dated on or after that date; confirmed or expected: none."""
    resolved = latest.row.resolved
    if resolved is None or resolved.status is not Resolution.UNCONFIRMED:
        return None
    due = add_months(resolved.on, UNCONFIRMED_RESOLUTION_MONTHS)
    if due <= latest.date:
        return add_months(latest.date, UNCONFIRMED_RESOLUTION_MONTHS)
    return due


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


def stage_follow_up(latest: Staged) -> date | None:
    """The date the latest observation's stage asks for."""
    if latest.stage is Stage.RESOLVED:
        return follow_up_resolved(latest)
    return FOLLOW_UP_OF[latest.step.model.family](latest)


def earliest(*dates: date | None) -> date | None:
    known = [d for d in dates if d is not None]
    return min(known) if known else None


def after_treatment(due: date | None, latest: Staged) -> date | None:
    """The latest treatment on or after the latest film: image within 3 months of it [S29].

    A treatment never makes the stage's date later (9a.32).
    """
    dates = [t.date for t in latest.step.model.treatments if t.date >= latest.date]
    if not dates:
        return due
    return earliest(due, add_months(max(dates), AFTER_TREATMENT_MONTHS))


def next_follow_up(latest: Staged, alerts: Sequence[OpenAlert]) -> date | None:
    """§5: stage date, treatment, then urgent caps (9a.2); rapid progression gets its suffix.

    Re-imaged (9a.27): the latest observation is dated after the alert's `since`.
    """
    due = after_treatment(stage_follow_up(latest), latest)
    for a in alerts:
        if a.severity is not Severity.URGENT:
            continue
        months = URGENT_CAP_MONTHS
        if a.rule.rule == RAPID_PROGRESSION_RULE and latest.date > a.since.date:
            months = CONFIRMED_RAPID_CAP_MONTHS
            a.reason += CONFIRMED_ON_REIMAGING
        due = earliest(due, add_months(latest.date, months))
    return due
