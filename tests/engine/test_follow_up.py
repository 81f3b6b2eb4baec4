"""§5 next_follow_up: stage date, then the latest treatment, then urgent caps (earliest wins)."""

from __future__ import annotations

from tracker.vocabulary import Entity, EventKind, TreatmentKind

from .builders import DWHB, FIHC, MIHC, D, alert, assess, treated, xr

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
