"""The time-to-resolution rule on visit sequences a radiologist would recognise, by hand and
through the engine (timeline -> infer -> record, no database)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tracker.prognosis.engine_records import records_of_timeline
from tracker.prognosis.outcome import Outcome, Visit, resolution_outcome
from tracker.timeline.reader import validate_timeline

DAY0 = date(2024, 1, 1)


def seen(day: int, modality: str = "XR", stage: str = "formative") -> Visit:
    return Visit(DAY0 + timedelta(days=day), True, modality, stage, size_mm=12.0)


def gone(day: int, modality: str = "XR", stage: str = "resolved") -> Visit:
    return Visit(DAY0 + timedelta(days=day), False, modality, stage)


def test_a_confirmed_resolution_is_dated_at_the_first_negative_film() -> None:
    outcome = resolution_outcome([seen(0), seen(90), gone(180), gone(240)])
    assert outcome == Outcome(DAY0, days=180, event=True, last_seen_days=90, confirmed=True,
                              reimaged=1)


def test_a_negative_contradicted_by_the_next_film_is_no_resolution() -> None:
    """H4b: not seen once, then seen again no larger: a missed projection."""
    outcome = resolution_outcome([seen(0), gone(90), seen(150, stage="resting")])
    assert outcome == Outcome(DAY0, days=150, event=False, last_seen_days=150, reimaged=1,
                              contradicted=1)
    later = resolution_outcome([seen(0), gone(90), seen(150), gone(300), gone(360)])
    assert (later.days, later.event, later.last_seen_days, later.confirmed) == (
        300, True, 150, True)


def test_an_unconfirmed_negative_that_nothing_contradicts_counts() -> None:
    outcome = resolution_outcome([seen(0), seen(100), gone(200)])
    assert (outcome.days, outcome.event, outcome.last_seen_days, outcome.confirmed) == (
        200, True, 100, False)
    # a second negative < 28 days later confirms nothing, an MR negative never does
    for second in (gone(227), gone(300, modality="MR")):
        outcome = resolution_outcome([seen(0), seen(100), gone(200), second])
        assert (outcome.days, outcome.event, outcome.confirmed) == (200, True, False)
    confirmed = resolution_outcome([seen(0), gone(200), gone(228, modality="US")])
    assert confirmed.confirmed


def test_censored_at_the_last_film_that_showed_the_deposit() -> None:
    """MR is insensitive to calcification: a final MR negative says nothing."""
    outcome = resolution_outcome([seen(0), seen(120), gone(200, "MR", stage="resting")])
    assert outcome == Outcome(DAY0, days=120, event=False, last_seen_days=120)


def test_baseline_is_the_first_visible_film_and_never_seen_has_none() -> None:
    assert resolution_outcome([gone(0, stage="precalcific")]) is None
    outcome = resolution_outcome([gone(0, stage="precalcific"), seen(30), gone(130), gone(200)])
    assert (outcome.baseline, outcome.days, outcome.last_seen_days) == (
        DAY0 + timedelta(days=30), 100, 0)


def test_follow_up_ends_at_the_first_invasive_treatment() -> None:
    lavage = DAY0 + timedelta(days=150)
    outcome = resolution_outcome([seen(0), seen(100), seen(200), gone(300), gone(360)],
                                 censor_at=lavage)
    assert outcome == Outcome(DAY0, days=150, event=False, last_seen_days=150,
                              censored_by_treatment=True)
    # a film on the treatment's date comes before it (rules §7a)
    same_day = resolution_outcome([seen(0), gone(150), seen(200)], censor_at=lavage)
    assert (same_day.days, same_day.event, same_day.confirmed) == (150, True, False)
    before = resolution_outcome([seen(0), seen(100)], censor_at=DAY0 - timedelta(days=5))
    assert (before.days, before.censored_by_treatment) == (0, True)
    after_the_data = resolution_outcome([seen(0), seen(100)], censor_at=lavage)
    assert (after_the_data.days, after_the_data.censored_by_treatment) == (100, False)


def _timeline(observations: list[dict[str, Any]], **lesion: Any) -> Any:
    return validate_timeline({"format": "lesion-timeline/1", "patients": [{
        "id": "P1", "birth_year": 1970, "lesions": [{
            "id": "L1", "entity": "hadd", "observations": observations,
            "site": {"compartment": "tendon", "region": "shoulder", "laterality": "right"},
            **lesion}]}]}, today=date(2026, 1, 1))


DWHN = {"density": "dense", "margin": "well_defined", "texture": "homogeneous",
        "pattern": "nodular"}


def test_worked_examples_through_the_engine() -> None:
    """Rules §8 examples 11 (absence confirmed) and 22 (missed projection) as records."""
    confirmed = _timeline([
        {"date": "2024-01-08", "modality": "XR", "size_mm": [11], "pain": 6, **DWHN},
        {"date": "2024-04-08", "modality": "XR", "size_mm": [11.5], **DWHN},
        {"date": "2024-07-08", "modality": "XR", "visible": False},
        {"date": "2024-10-14", "modality": "XR", "visible": False}])
    (record,), skipped = records_of_timeline(confirmed, date(2025, 1, 1))
    assert skipped == 0
    assert (record.outcome.days, record.outcome.event, record.outcome.last_seen_days,
            record.outcome.confirmed) == (182, True, 91, True)
    assert (record.baseline.gartner, record.baseline.size_mm, record.baseline.pain,
            record.baseline.age_years, record.baseline.family) == ("I", 11.0, 6, 54, "hadd")

    missed = _timeline([
        {"date": "2024-01-08", "modality": "XR", "size_mm": [12], **DWHN},
        {"date": "2024-04-08", "modality": "XR", "size_mm": [12.5], **DWHN},
        {"date": "2024-07-08", "modality": "XR", "visible": False},
        {"date": "2024-08-19", "modality": "XR", "size_mm": [11.5], **DWHN}])
    (record,), _ = records_of_timeline(missed, date(2025, 1, 1))
    assert (record.outcome.days, record.outcome.event, record.outcome.contradicted) == (
        224, False, 1)


def test_a_lavage_ends_natural_history_and_as_of_hides_later_films() -> None:
    timeline = _timeline([
        {"date": "2024-01-08", "modality": "XR", "size_mm": [14], **DWHN},
        {"date": "2024-05-08", "modality": "XR", "size_mm": [14], **DWHN},
        {"date": "2024-09-08", "modality": "XR", "visible": False},
        {"date": "2024-11-08", "modality": "XR", "visible": False}],
        treatments=[{"date": "2024-06-01", "kind": "lavage"}])
    (record,), _ = records_of_timeline(timeline, date(2025, 1, 1))
    assert (record.outcome.days, record.outcome.event, record.outcome.censored_by_treatment) \
        == (145, False, True)
    (early,), _ = records_of_timeline(timeline, date(2024, 5, 31))
    assert (early.outcome.days, early.outcome.censored_by_treatment) == (121, False)
