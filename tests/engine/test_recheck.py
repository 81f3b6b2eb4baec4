"""`recheck_on` against brute force: re-assessing on any day before it changes nothing, and on
it something changes. Random lesions of every family (the property tests' strategy)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.test_properties import lesions
from tracker.engine import Finding, LesionFacts, Treatment, add_months, infer
from tracker.engine.alerts.ho import HO_LATE_GROWTH_MONTHS
from tracker.recheck import recheck_on
from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    Margin,
    Modality,
    Region,
    TreatmentKind,
)

# Past the last date in the facts plus the rules' longest delay (HO growth after surgery, §4),
# and a month's margin, nothing can change any more.
HORIZON_MONTHS = HO_LATE_GROWTH_MONTHS + 1


def _horizon(lesion: LesionFacts, as_of: date) -> date:
    last = max([as_of, *(f.date for f in lesion.findings), *(t.date for t in lesion.treatments),
                *filter(None, [lesion.event_date])])
    return add_months(last, HORIZON_MONTHS)


def _as_of(lesion: LesionFacts, shift: int) -> date:
    """Near the lesion's history, where the dates that matter are."""
    days = sorted(f.date for f in lesion.findings)
    return days[0] + timedelta(days=shift)


@settings(max_examples=25, deadline=None)
@given(lesions(), st.integers(-60, 1500))
def test_nothing_changes_before_recheck_on_and_something_changes_on_it(
    lesion: LesionFacts, shift: int
) -> None:
    as_of = _as_of(lesion, shift)
    base = infer(lesion, as_of)
    due = recheck_on(lesion, as_of)
    end = due if due is not None else _horizon(lesion, as_of)
    day = as_of + timedelta(days=1)
    while day < end:
        assert infer(lesion, day) == base, f"output changed on {day}, recheck_on said {due}"
        day += timedelta(days=1)
    if due is not None:
        assert due > as_of
        assert infer(lesion, due) != base


@settings(max_examples=10, deadline=None)
@given(lesions(), st.integers(0, 900))
def test_following_recheck_on_visits_every_change(lesion: LesionFacts, shift: int) -> None:
    """Assess on each recheck date in turn (what the daily scan does) and compare with
    re-assessing on every day: the same sequence of distinct outputs."""
    as_of = _as_of(lesion, shift)
    end = _horizon(lesion, as_of)
    daily = [infer(lesion, as_of)]
    day = as_of + timedelta(days=1)
    while day <= end:
        a = infer(lesion, day)
        if a != daily[-1]:
            daily.append(a)
        day += timedelta(days=1)
    followed = [infer(lesion, as_of)]
    at: date | None = recheck_on(lesion, as_of)
    while at is not None and at <= end:
        a = infer(lesion, at)
        if a != followed[-1]:
            followed.append(a)
        at = recheck_on(lesion, at)
    assert followed == daily


def test_a_follow_up_date_is_found_the_day_after_it_passes() -> None:
    """HADD formative on 2024-01-10: follow-up 2024-07-10, overdue from 2024-07-11."""
    lesion = LesionFacts(
        Compartment.TENDON, Region.SHOULDER, Entity.HADD, None,
        (Finding(date(2024, 1, 10), Modality.XR, size_mm=(12.0,), density=Density.DENSE,
                 margin=Margin.WELL_DEFINED),),
    )
    assert infer(lesion, date(2024, 2, 1)).next_follow_up == date(2024, 7, 10)
    assert recheck_on(lesion, date(2024, 2, 1)) == date(2024, 7, 11)
    # Overdue until new imaging: nothing changes any more.
    assert recheck_on(lesion, date(2024, 7, 11)) is None


def test_a_treatment_that_changes_nothing_yet_is_stepped_over() -> None:
    """An NSAID dated after as_of enters the facts but changes no stage, alert or date (three
    months after it is later than the stage's own follow-up, which a treatment never postpones,
    §5): the next change is still the overdue follow-up."""
    film = Finding(date(2024, 1, 10), Modality.XR, size_mm=(12.0,), density=Density.DENSE,
                   margin=Margin.WELL_DEFINED)
    lesion = LesionFacts(Compartment.TENDON, Region.SHOULDER, Entity.HADD, None, (film,),
                         treatments=(Treatment(date(2024, 6, 1), TreatmentKind.NSAID),))
    assert infer(lesion, date(2024, 6, 1)) == infer(lesion, date(2024, 5, 1))
    assert recheck_on(lesion, date(2024, 5, 1)) == date(2024, 7, 11)
