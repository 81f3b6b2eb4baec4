"""`recheck_on` against brute force: re-assessing on any day before it changes nothing, and on
it something changes. Random lesions of every family (the property tests' strategy)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.engine import LesionFacts, add_months, infer
from tracker.engine.alerts.ho import HO_LATE_GROWTH_MONTHS
from tracker.recheck import recheck_on
from tracker.vocabulary import Entity, TreatmentKind

from .builders import lesion, lesions, treated, xr
from .morphs import DWH_

# Past the last date in the facts plus the rules' longest delay (HO growth after surgery, §4),
# and a month's margin, nothing can change any more.
HORIZON_MONTHS = HO_LATE_GROWTH_MONTHS + 1


def _horizon(facts: LesionFacts, as_of: date) -> date:
    last = max([as_of, *(f.date for f in facts.findings), *(t.date for t in facts.treatments),
                *filter(None, [facts.event_date])])
    return add_months(last, HORIZON_MONTHS)


def _as_of(facts: LesionFacts, shift: int) -> date:
    """Near the lesion's history, where the dates that matter are."""
    days = sorted(f.date for f in facts.findings)
    return days[0] + timedelta(days=shift)


@settings(max_examples=25, deadline=None)
@given(lesions(), st.integers(-60, 1500))
def test_nothing_changes_before_recheck_on_and_something_changes_on_it(
    facts: LesionFacts, shift: int
) -> None:
    as_of = _as_of(facts, shift)
    base = infer(facts, as_of)
    due = recheck_on(facts, as_of)
    end = due if due is not None else _horizon(facts, as_of)
    day = as_of + timedelta(days=1)
    while day < end:
        assert infer(facts, day) == base, f"output changed on {day}, recheck_on said {due}"
        day += timedelta(days=1)
    if due is not None:
        assert due > as_of
        assert infer(facts, due) != base


@settings(max_examples=6, deadline=None)  # each example re-assesses every day for years
@given(lesions(), st.integers(0, 900))
def test_following_recheck_on_visits_every_change(facts: LesionFacts, shift: int) -> None:
    """Assess on each recheck date in turn (what the daily scan does) and compare with
    re-assessing on every day: the same sequence of distinct outputs."""
    as_of = _as_of(facts, shift)
    end = _horizon(facts, as_of)
    daily = [infer(facts, as_of)]
    day = as_of + timedelta(days=1)
    while day <= end:
        a = infer(facts, day)
        if a != daily[-1]:
            daily.append(a)
        day += timedelta(days=1)
    followed = [infer(facts, as_of)]
    at: date | None = recheck_on(facts, as_of)
    while at is not None and at <= end:
        a = infer(facts, at)
        if a != followed[-1]:
            followed.append(a)
        at = recheck_on(facts, at)
    assert followed == daily


def test_a_follow_up_date_is_found_the_day_after_it_passes() -> None:
    """HADD formative on 2024-01-10: follow-up 2024-07-10, overdue from 2024-07-11."""
    facts = lesion(Entity.HADD, xr("2024-01-10", 12, DWH_))
    assert infer(facts, date(2024, 2, 1)).next_follow_up == date(2024, 7, 10)
    assert recheck_on(facts, date(2024, 2, 1)) == date(2024, 7, 11)
    # Overdue until new imaging: nothing changes any more.
    assert recheck_on(facts, date(2024, 7, 11)) is None


def test_a_treatment_that_changes_nothing_yet_is_stepped_over() -> None:
    """An NSAID dated after as_of enters the facts but changes no stage, alert or date (three
    months after it is later than the stage's own follow-up, which a treatment never postpones,
    §5): the next change is still the overdue follow-up."""
    facts = lesion(Entity.HADD, xr("2024-01-10", 12, DWH_),
                   treatments=(treated("2024-06-01", TreatmentKind.NSAID),))
    assert infer(facts, date(2024, 6, 1)) == infer(facts, date(2024, 5, 1))
    assert recheck_on(facts, date(2024, 5, 1)) == date(2024, 7, 11)
