"""§4 alerts: walk the observations up to as_of, clear, then fire; plus §5's urgent cap."""

from __future__ import annotations

import pytest

from tracker.vocabulary import Entity, Feature, Modality

from .builders import DWHN, FIHC, MIHC, D, alert, alert_kinds, assess, not_seen, stages, us, xr

HADD, GOUT, HO = Entity.HADD, Entity.GOUT, Entity.HO


# hadd.no_resolution --------------------------------------------------------------------------


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


def test_observations_after_as_of_are_ignored_stages_included() -> None:
    """§0 (revision 2): a report for a past date is what the engine would have said then."""
    findings = (xr("2024-01-10", 12), xr("2024-07-15", 12), xr("2024-09-15", 8, MIHC))
    a = assess(HADD, *findings, as_of="2024-08-01")
    assert stages(a) == ["formative", "resting"]
    assert alert_kinds(a) == ["no_resolution"]
    assert a.next_follow_up == D("2025-01-15")


# hadd.unexpected_regrowth / hadd.resorptive_bone_involvement --------------------------------


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


# any.rapid_progression ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "fires"),
    [
        ("2024-01-31", "2024-04-30", True),  # add_months(01-31, 3) = 04-30, inclusive
        ("2024-01-31", "2024-05-01", False),
    ],
)
def test_rapid_progression_window_is_three_months(first: str, second: str, fires: bool) -> None:
    a = assess(GOUT, xr(first, 10, MIHC), xr(second, 20, MIHC), as_of=second)
    assert ("rapid_progression" in alert_kinds(a)) is fires


@pytest.mark.parametrize(
    ("b", "fires"),
    [(15, True), (14.9, False), (3, False)],
)
def test_rapid_progression_needs_half_again_the_size(b: float, fires: bool) -> None:
    a = assess(GOUT, xr("2024-01-10", 10, MIHC), xr("2024-03-10", b, MIHC), as_of="2024-03-10")
    assert ("rapid_progression" in alert_kinds(a)) is fires
    if fires:
        assert alert(a, "rapid_progression").reason == "size +50% (10.0→15.0 mm) within 60 days"


def test_small_deposits_need_two_millimetres_too() -> None:
    a = assess(GOUT, xr("2024-01-10", 3, MIHC), xr("2024-03-10", 4.9, MIHC), as_of="2024-03-10")
    assert "rapid_progression" not in alert_kinds(a)  # +63 % but 1.9 mm


@pytest.mark.parametrize(("b", "fires"), [(20, True), (19.9, False)])
def test_rapid_progression_across_modalities_needs_doubling(b: float, fires: bool) -> None:
    a = assess(GOUT, xr("2024-01-10", 10, MIHC), us("2024-03-10", b, MIHC), as_of="2024-03-10")
    assert ("rapid_progression" in alert_kinds(a)) is fires


def test_spreading_hadd_deposit_is_not_rapid_growth_but_new_lysis_still_is() -> None:
    """9a.14: a comet tail or bursal migration spreads the deposit; lysis is another matter."""
    spreading = assess(
        HADD,
        xr("2024-01-10", 10),
        xr("2024-02-10", 16, MIHC, Feature.COMET_TAIL),
        as_of="2024-02-10",
    )
    assert "rapid_progression" not in alert_kinds(spreading)
    lysis = assess(
        HADD,
        xr("2024-01-10", 10),
        xr("2024-02-10", 16, MIHC, Feature.INTRABURSAL_MIGRATION, Feature.BONE_LYSIS),
        as_of="2024-02-10",
    )
    assert alert(lysis, "rapid_progression").reason == "new bone lysis within 31 days"
    not_spreading = assess(HADD, xr("2024-01-10", 10), xr("2024-02-10", 16), as_of="2024-02-10")
    assert alert(not_spreading, "rapid_progression").reason == (
        "size +60% (10.0→16.0 mm) within 31 days"
    )


def test_new_lysis_on_an_invisible_observation_fires_and_keeps_it_open() -> None:
    """9a.15: features are allowed when the calcification is no longer seen."""
    first = assess(
        GOUT,
        xr("2024-01-10", 10, MIHC),
        not_seen("2024-03-10", Modality.XR, Feature.BONE_LYSIS),
        as_of="2024-03-10",
    )
    assert stages(first) == ["stable", "resolved"]
    assert alert(first, "rapid_progression").reason == "new bone lysis within 60 days"
    assert first.stages[1].evidence == (
        "not seen once; unconfirmed",
        "bone_lysis",
        "new bone lysis",
    )

    kept = assess(
        GOUT,
        xr("2024-01-10", 10, MIHC),
        xr("2024-03-10", 16, MIHC),
        not_seen("2024-04-10", Modality.XR, Feature.BONE_LYSIS),
        as_of="2024-04-10",
    )
    assert alert(kept, "rapid_progression").since == D("2024-03-10")
    assert alert(kept, "rapid_progression").reason == (  # refreshed; re-imaged after since
        "new bone lysis within 31 days; "
        "confirmed on re-imaging: cross-sectional imaging or biopsy advised"
    )


def test_rapid_progression_clears_when_the_size_settles() -> None:
    findings = (xr("2024-01-10", 10, MIHC), xr("2024-03-10", 16, MIHC), xr("2024-05-10", 16, MIHC))
    assert assess(GOUT, *findings, as_of="2024-05-10").alerts == ()
    still = (*findings[:2], xr("2024-09-10", 20, MIHC))  # growing, but not fast
    assert alert_kinds(assess(GOUT, *still, as_of="2024-09-10")) == ["rapid_progression"]


# ordering, urgent cap, overdue ------------------------------------------------------------------


def test_alerts_sort_by_severity_then_since_then_rule() -> None:
    a = assess(
        HO,
        xr("2024-01-01", 30, FIHC, Feature.CENTRAL_MINERALIZATION),
        xr("2024-07-01", 30, FIHC),
        as_of="2024-09-01",
    )
    assert [(x.rule, x.since) for x in a.alerts] == [
        ("ho.atypical", D("2024-01-01")),
        ("ho.not_maturing", D("2024-07-01")),
        ("any.follow_up_overdue", D("2024-08-02")),  # early +6 weeks = 08-12, capped 08-01
    ]
    same_day = assess(
        HO,
        xr("2024-01-01", 30, FIHC),
        xr("2024-02-01", 50, FIHC, Feature.CENTRAL_MINERALIZATION),
        as_of="2024-02-01",
    )
    assert [x.rule for x in same_day.alerts] == ["any.rapid_progression", "ho.atypical"]


def test_follow_up_overdue_starts_the_day_after_the_due_date() -> None:
    on_due = assess(HADD, xr("2024-01-10", 12), as_of="2024-07-10")
    assert on_due.alerts == ()
    after = assess(HADD, xr("2024-01-10", 12), as_of="2024-07-11")
    overdue = alert(after, "follow_up_overdue")
    assert (overdue.since, overdue.severity.value) == (D("2024-07-11"), "info")
    assert overdue.reason == "follow-up due 2024-07-10 (formative); no imaging since 2024-01-10"


def test_no_observation_by_as_of_gives_nothing_to_follow() -> None:
    """9a.24: the lesion is still assessed, with no stages, alerts nor date."""
    a = assess(HADD, xr("2024-01-10", 12), as_of="2023-12-31")
    assert stages(a) == []
    assert a.transitions == ()
    assert a.alerts == ()
    assert a.next_follow_up is None


def test_dense_deposit_unchanged_is_not_alerted() -> None:
    a = assess(HADD, xr("2024-01-10", 12, DWHN), xr("2024-04-10", 12, DWHN), as_of="2024-04-10")
    assert a.alerts == ()


def test_carried_mr_observation_neither_clears_nor_fires_even_with_new_lysis() -> None:
    """§4: carried stages (H1, O1, G1) neither trigger nor clear; 9a.15 is for non-MR not-seen."""
    kept = assess(
        GOUT,
        xr("2024-01-10", 10, MIHC),
        xr("2024-03-10", 16, MIHC),
        not_seen("2024-04-10", Modality.MR),
        as_of="2024-04-10",
    )
    assert stages(kept) == ["stable", "progressing", "progressing"]
    assert alert(kept, "rapid_progression").since == D("2024-03-10")

    lysis = assess(
        HADD,
        xr("2024-01-10", 10),
        not_seen("2024-03-10", Modality.MR, Feature.BONE_LYSIS),
        as_of="2024-03-10",
    )
    assert stages(lysis) == ["formative", "formative"]
    assert "rapid_progression" not in alert_kinds(lysis)
