"""§5 next_follow_up: stage date, then the latest treatment, then urgent caps (earliest wins)."""

from __future__ import annotations

import pytest

from tracker.vocabulary import Entity, EventKind, Modality, Stage, TreatmentKind

from .builders import D, alert, assess, not_seen, treated, xr
from .morphs import DWHB, FIHC, MIHC

HADD, HO, GOUT = Entity.HADD, Entity.HO, Entity.GOUT


def test_treatment_after_the_latest_film_brings_the_date_forward_to_three_months() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 12),
        treatments=(treated("2024-01-20", TreatmentKind.LAVAGE),),
        as_of="2024-02-01",
    )
    assert a.next_follow_up == D("2024-04-20")  # formative would be 2024-07-10


def test_treatment_never_postpones_the_stages_date() -> None:
    """9a.32: resorptive +3 months (04-10) stays before injection +3 months (06-01)."""
    a = assess(
        HADD,
        xr("2024-01-10", 12, MIHC),
        treatments=(treated("2024-03-01", TreatmentKind.INJECTION),),
        as_of="2024-03-02",
    )
    assert a.next_follow_up == D("2024-04-10")


def test_treatment_before_the_latest_film_changes_nothing_and_a_same_day_one_counts() -> None:
    before = assess(
        HADD,
        xr("2024-01-10", 12),
        treatments=(treated("2024-01-05", TreatmentKind.LAVAGE),),
        as_of="2024-02-01",
    )
    assert before.next_follow_up == D("2024-07-10")
    same_day = assess(
        HADD,
        xr("2024-01-10", 12),
        treatments=(treated("2024-01-10", TreatmentKind.LAVAGE),),
        as_of="2024-02-01",
    )
    assert same_day.next_follow_up == D("2024-04-10")


def test_a_stage_without_a_date_gets_three_months_after_treatment() -> None:
    a = assess(
        HO,
        xr("2024-01-10", 20, DWHB),
        event="2023-06-01",
        treatments=(treated("2024-01-15", TreatmentKind.NSAID),),
        as_of="2024-02-01",
    )
    assert a.stages[0].stage.value == "ho_mature"
    assert a.next_follow_up == D("2024-04-15")


def test_ho_prophylaxis_keeps_the_six_week_film() -> None:
    a = assess(
        HO,
        xr("2024-01-10", 20, FIHC),
        event="2024-01-01",
        event_kind=EventKind.ARTHROPLASTY,
        treatments=(treated("2024-01-12", TreatmentKind.RADIOTHERAPY),),
        as_of="2024-01-20",
    )
    assert a.next_follow_up == D("2024-02-21")  # ho_early +6 weeks, before 04-12


def test_rapid_progression_caps_one_month_then_three_once_re_imaged() -> None:
    fast = (xr("2024-01-10", 10, MIHC), xr("2024-02-10", 16, MIHC))
    a = assess(GOUT, *fast, as_of="2024-02-15")
    assert a.next_follow_up == D("2024-03-10")  # progressing +3 months, capped at +1
    assert alert(a, "rapid_progression").reason == "size +60% (10.0→16.0 mm) within 31 days"
    again = assess(GOUT, *fast, xr("2024-02-20", 16, MIHC), as_of="2024-02-25")
    assert again.next_follow_up == D("2024-05-20")  # stable +6 months, capped at +3
    assert alert(again, "rapid_progression").reason == (
        "size +60% (10.0→16.0 mm) within 31 days; "
        "confirmed on re-imaging: cross-sectional imaging or biopsy advised"
    )


def test_follow_up_from_a_month_end_is_clamped_and_overdue_the_day_after() -> None:
    due = assess(HADD, xr("2024-08-31", 12), as_of="2025-02-28")
    assert due.next_follow_up == D("2025-02-28") and due.alerts == ()
    late = assess(HADD, xr("2024-08-31", 12), as_of="2025-03-01")
    overdue = alert(late, "follow_up_overdue")
    assert overdue.since == D("2025-03-01")
    assert overdue.reason == "follow-up due 2025-02-28 (formative); no imaging since 2024-08-31"


@pytest.mark.parametrize(
    ("negatives", "due"),
    [
        (("2024-06-03",), "2024-09-03"),  # O2b: +3 months
        (("2024-06-03", "2024-06-20"), "2024-09-03"),  # O2r: as its n
        (("2024-06-03", "2024-07-01"), None),  # O2c: confirmed, done
    ],
)
def test_ho_resolution_follow_up(negatives: tuple[str, ...], due: str | None) -> None:
    """§5 (revision 3): an unconfirmed HO resolution is looked at again, as in tendon."""
    films = (xr("2024-02-01", 30, FIHC), *(not_seen(d) for d in negatives))
    a = assess(HO, *films, event="2024-01-10", as_of=negatives[-1])
    assert a.next_follow_up == (None if due is None else D(due))


@pytest.mark.parametrize(
    ("mr_day", "due"),
    [
        ("2024-08-01", "2024-09-03"),  # before n's date: n's date (the MR confirms nothing)
        ("2024-09-03", "2024-12-03"),  # on it: imaging on the due date, 3 months from the MR
        ("2025-01-15", "2025-04-15"),  # long after it: 3 months from the MR
    ],
)
def test_a_carried_mr_after_an_unconfirmed_resolution_never_gives_a_past_date(
    mr_day: str, due: str
) -> None:
    """The date is always after the latest observation, which clears follow_up_overdue (§4)."""
    films = (xr("2024-02-01", 12), not_seen("2024-06-03"), not_seen(mr_day, Modality.MR))
    a = assess(HADD, *films, as_of=mr_day)
    assert a.stages[-1].rule == "H1" and a.stages[-1].stage is Stage.RESOLVED
    assert a.next_follow_up == D(due)
    assert a.alerts == ()
