"""§4 hadd alerts: hadd.no_resolution, hadd.unexpected_regrowth,
hadd.resorptive_bone_involvement, hadd.no_treatment_response."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracker.vocabulary import Entity, Feature, Modality, TreatmentKind

from .builders import D, alert, alert_kinds, assess, not_seen, seen, stages, treated, xr
from .morphs import DWHN, MIHC

HADD = Entity.HADD
F = Feature

LAVAGE = (treated("2024-01-22", TreatmentKind.LAVAGE),)
BASELINE = xr("2024-01-15", 16, DWHN)


@pytest.mark.parametrize(
    ("start", "second", "fires"),
    [
        ("2024-01-31", "2024-07-31", True),  # exactly 6 months
        ("2024-01-31", "2024-07-30", False),  # one day before
        ("2024-08-31", "2025-02-28", True),  # add_months clamps 08-31 + 6 to 02-28
        ("2024-08-31", "2025-02-27", False),
    ],
)
def test_no_resolution_after_six_months_of_formative_or_resting(
    start: str, second: str, fires: bool
) -> None:
    a = assess(HADD, xr(start, 12), xr(second, 12), as_of=second)
    assert ("no_resolution" in alert_kinds(a)) is fires
    if fires:
        assert alert(a, "no_resolution").since == D(second)


def test_no_resolution_is_counted_between_observations_not_up_to_as_of() -> None:
    """Missing imaging is follow_up_overdue, not persistence: persistence must be seen."""
    a = assess(HADD, xr("2024-01-10", 12), as_of="2025-06-01")
    assert alert_kinds(a) == ["follow_up_overdue"]
    assert alert(a, "follow_up_overdue").since == D("2024-07-11")


def test_no_resolution_clears_when_resorption_starts() -> None:
    findings = (xr("2024-01-10", 12), xr("2024-07-15", 12), xr("2024-09-15", 8, MIHC))
    assert alert_kinds(assess(HADD, *findings[:2], as_of="2024-08-01")) == ["no_resolution"]
    assert assess(HADD, *findings, as_of="2024-09-15").alerts == ()


def test_carried_mr_neither_triggers_nor_breaks_the_run() -> None:
    findings = (
        xr("2024-01-10", 12),
        not_seen("2024-08-01", Modality.MR),
        xr("2024-09-01", 12),
    )
    assert assess(HADD, *findings[:2], as_of="2024-08-01").alerts == ()
    a = assess(HADD, *findings, as_of="2024-09-01")
    warn = alert(a, "no_resolution")
    assert warn.since == D("2024-09-01")
    assert warn.reason == (
        "calcific deposit 12.0 mm without resorption for 7 months (2024-01-10 → 2024-09-01)"
    )


@pytest.mark.parametrize(
    ("pain", "severity"), [(0, "info"), (2, "info"), (3, "warning"), (None, "warning")]
)
def test_hadd_no_resolution_is_info_when_painless(pain: int | None, severity: str) -> None:
    a = assess(
        HADD,
        seen("2024-01-10", 12, DWHN, pain=5),
        seen("2024-07-10", 12, DWHN, pain=pain),
        as_of="2024-07-11",
    )
    assert alert(a, "no_resolution").severity.value == severity


def test_unexpected_regrowth_clears_when_the_deposit_resorbs_again() -> None:
    findings = (
        xr("2024-01-10", 12),
        xr("2024-04-10", 7, MIHC),
        xr("2024-08-20", 11),
        xr("2024-11-20", 6, MIHC),
    )
    assert alert_kinds(assess(HADD, *findings[:3], as_of="2024-09-01")) == ["unexpected_regrowth"]
    assert assess(HADD, *findings, as_of="2024-11-20").alerts == ()


def test_bone_involvement_clears_once_a_film_shows_no_extension() -> None:
    findings = (
        xr("2024-01-10", 12, MIHC, Feature.INTRAOSSEOUS_EXTENSION),
        xr("2024-05-10", 11, MIHC),
    )
    assert alert_kinds(assess(HADD, *findings[:1], as_of="2024-01-10")) == [
        "resorptive_bone_involvement"
    ]
    later = assess(HADD, *findings, as_of="2024-05-10")
    assert stages(later) == ["resorptive", "resorptive"]
    assert later.alerts == ()


def test_hadd_resorptive_bone_involvement_is_warning_only_with_lysis() -> None:
    first = xr("2024-01-10", 10, DWHN)
    into_bone = assess(
        HADD, first, xr("2024-02-10", 10, MIHC, F.INTRAOSSEOUS_EXTENSION), as_of="2024-02-11"
    )
    assert alert(into_bone, "resorptive_bone_involvement").severity.value == "info"
    lysed = assess(
        HADD,
        first,
        xr("2024-02-10", 10, MIHC, F.INTRAOSSEOUS_EXTENSION, F.BONE_LYSIS),
        as_of="2024-02-11",
    )
    assert alert(lysed, "resorptive_bone_involvement").severity.value == "warning"
    assert "rapid_progression" not in alert_kinds(lysed)  # lysis in continuity: not counted


@pytest.mark.parametrize(
    ("film", "fires"),
    [("2024-04-21", False), ("2024-04-22", True), ("2024-07-22", True), ("2024-07-23", False)],
)
def test_no_treatment_response_judges_the_first_film_3_to_6_months_after(
    film: str, fires: bool
) -> None:
    """Lavage on 01-22: the window is add_months(t, 3) to add_months(t, 6), both included."""
    a = assess(HADD, BASELINE, xr(film, 13), treatments=LAVAGE, as_of=D(film) + timedelta(1))
    assert ("no_treatment_response" in alert_kinds(a)) is fires


def test_no_treatment_response_reason_names_the_kind_and_both_sizes() -> None:
    a = assess(HADD, BASELINE, xr("2024-04-22", 13), treatments=LAVAGE, as_of="2024-04-23")
    nr = alert(a, "no_treatment_response")
    assert (nr.since, nr.severity.value, nr.rule) == (
        D("2024-04-22"),
        "warning",
        "hadd.no_treatment_response",
    )
    assert nr.reason == (
        "deposit 13.0 mm 3 months after lavage (16.0 mm before): less than 30% smaller"
    )


def test_no_treatment_response_judges_one_film_per_treatment() -> None:
    a = assess(
        HADD,
        BASELINE,
        xr("2024-04-22", 11),  # 11 <= 0.7 x 16: a partial response
        xr("2024-05-22", 15),
        treatments=LAVAGE,
        as_of="2024-05-23",
    )
    assert "no_treatment_response" not in alert_kinds(a)


def test_no_treatment_response_not_after_an_nsaid_and_closed_by_a_later_treatment() -> None:
    nsaid = (treated("2024-01-22", TreatmentKind.NSAID),)
    a = assess(HADD, BASELINE, xr("2024-04-22", 13), treatments=nsaid, as_of="2024-04-23")
    assert "no_treatment_response" not in alert_kinds(a)
    again = (*LAVAGE, treated("2024-05-06", TreatmentKind.ESWT))
    open_ = assess(HADD, BASELINE, xr("2024-04-22", 13), treatments=again, as_of="2024-05-05")
    assert "no_treatment_response" in alert_kinds(open_)
    closed = assess(HADD, BASELINE, xr("2024-04-22", 13), treatments=again, as_of="2024-05-06")
    assert "no_treatment_response" not in alert_kinds(closed)


def test_no_treatment_response_clears_on_a_partial_response() -> None:
    a = assess(
        HADD,
        BASELINE,
        xr("2024-04-22", 13),
        xr("2024-06-22", 10, MIHC),
        treatments=LAVAGE,
        as_of="2024-06-23",
    )
    assert "no_treatment_response" not in alert_kinds(a)


def test_no_treatment_response_stays_open_on_a_later_film_without_response() -> None:
    films = (BASELINE, xr("2024-04-22", 13), xr("2024-06-03", 13))
    untreated = assess(HADD, *films, treatments=LAVAGE, as_of="2024-06-04")
    assert alert(untreated, "no_treatment_response").since == D("2024-04-22")
    again = (*LAVAGE, treated("2024-05-06", TreatmentKind.ESWT))
    retreated = assess(HADD, *films, treatments=again, as_of="2024-06-04")
    assert "no_treatment_response" not in alert_kinds(retreated)
