"""§4 alerts: walk the observations up to as_of, clear, then fire; plus §5's urgent cap."""

from __future__ import annotations

from functools import partial

import pytest

from tracker.engine import Finding, LesionAssessment
from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    EventKind,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Texture,
    TreatmentKind,
)

from .builders import (
    DWHB,
    DWHN,
    FIHC,
    MIHC,
    D,
    Morph,
    alert,
    alert_kinds,
    assess,
    ct,
    not_seen,
    seen,
    stages,
    treated,
    us,
    xr,
)

MWHS = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.SHELL)
DWHL = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.LINEAR)

HADD, GOUT, HO = Entity.HADD, Entity.GOUT, Entity.HO
F = Feature


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
    assert first.next_follow_up == D("2024-04-10")  # urgent cap, although resolved has no date

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

    # A gout tophus on XR; a month later MR does not show the calcium but notes bone lysis.
    lysis = assess(
        GOUT,
        xr("2023-01-01", 10, MIHC),
        not_seen("2023-02-01", Modality.MR, Feature.BONE_LYSIS),
        as_of="2023-02-02",
    )
    assert stages(lysis) == ["stable", "stable"]
    assert lysis.stages[1].evidence[0].endswith("stage carried")
    assert lysis.alerts == ()
    assert lysis.next_follow_up == D("2023-08-01")  # variable, stable: +6 months from the MR


# revision 2: hadd.no_resolution severity by pain ------------------------------------------------


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


# hadd.resorptive_bone_involvement: warning with bone_lysis ------------------------------------


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


def test_hadd_intraosseous_exemption_cancels_the_lysis_part_only() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 10, DWHN),
        xr("2024-02-10", 16, MIHC, F.INTRAOSSEOUS_EXTENSION, F.BONE_LYSIS),
        as_of="2024-02-11",
    )
    assert alert(a, "rapid_progression").reason == "size +60% (10.0→16.0 mm) within 31 days"


# any.rapid_progression: HO 10-week exemption, 28-day clearing ---------------------------------


def test_ho_growth_in_the_first_ten_weeks_is_not_rapid_progression() -> None:
    early = assess(HO, xr("2024-01-01", 10, FIHC), xr("2024-03-10", 20, FIHC), as_of="2024-03-11")
    assert "rapid_progression" not in alert_kinds(early)  # 69 days after the first film
    on_day_70 = assess(
        HO, xr("2024-01-01", 10, FIHC), xr("2024-03-11", 20, FIHC), as_of="2024-03-12"
    )
    assert alert(on_day_70, "rapid_progression").reason == (
        "size +100% (10.0→20.0 mm) within 70 days"
    )
    central = assess(
        HO,
        xr("2024-01-01", 10, FIHC),
        xr("2024-02-01", 20, FIHC, F.CENTRAL_MINERALIZATION),
        as_of="2024-02-02",
    )
    assert {"rapid_progression", "ho_atypical"} <= set(alert_kinds(central))


def test_rapid_progression_clears_only_28_days_on_and_no_larger_than_at_since() -> None:
    fast = (xr("2024-01-10", 10, MIHC), xr("2024-02-10", 16, MIHC))
    soon = assess(GOUT, *fast, xr("2024-03-08", 16, MIHC), as_of="2024-03-09")
    assert "rapid_progression" in alert_kinds(soon)  # 27 days
    cleared = assess(GOUT, *fast, xr("2024-03-09", 16, MIHC), as_of="2024-03-10")
    assert "rapid_progression" not in alert_kinds(cleared)
    larger = assess(GOUT, *fast, xr("2024-03-09", 17.5, MIHC), as_of="2024-03-10")
    assert alert(larger, "rapid_progression").since == D("2024-02-10")  # stable, but > 16 mm
    gone = assess(GOUT, *fast, not_seen("2024-03-09"), as_of="2024-03-10")
    assert "rapid_progression" not in alert_kinds(gone)


# ho.not_maturing by event_kind -----------------------------------------------------------------


def test_ho_not_maturing_after_trauma_warns_at_six_months() -> None:
    a = assess(
        HO,
        xr("2024-02-01", 20, FIHC),
        xr("2024-07-01", 22, FIHC),
        event="2024-01-01",
        event_kind=EventKind.TRAUMA,
        as_of="2024-07-02",
    )
    warn = alert(a, "ho_not_maturing")
    assert warn.severity.value == "warning"
    assert warn.reason == (
        "ossification not mature 6 months after event; 6-month threshold for trauma"
    )


@pytest.mark.parametrize("kind", [EventKind.SURGERY, EventKind.ARTHROPLASTY, EventKind.BURN])
def test_ho_not_maturing_after_surgery_waits_18_months_and_informs(kind: EventKind) -> None:
    films = (xr("2024-02-01", 20, FIHC), xr("2024-07-01", 22, FIHC))
    quiet = assess(HO, *films, event="2024-01-01", event_kind=kind, as_of="2024-07-02")
    assert "ho_not_maturing" not in alert_kinds(quiet)
    late = assess(
        HO,
        *films,
        xr("2025-07-01", 22, FIHC),
        event="2024-01-01",
        event_kind=kind,
        as_of="2025-07-02",
    )
    info = alert(late, "ho_not_maturing")
    assert info.severity.value == "info"
    assert info.reason == (
        f"ossification not mature 18 months after event; 18-month threshold for {kind.value}"
    )


def test_ho_not_maturing_after_neurologic_injury_counts_from_the_first_visible_film() -> None:
    films = (not_seen("2024-02-01"), xr("2024-03-01", 20, FIHC), xr("2025-08-01", 22, FIHC))
    neurologic = partial(assess, HO, event="2024-01-01", event_kind=EventKind.NEUROLOGIC)
    before = neurologic(*films, as_of="2025-08-02")
    assert "ho_not_maturing" not in alert_kinds(before)
    at = neurologic(*films[:2], xr("2025-09-01", 22, FIHC), as_of="2025-09-02")
    assert alert(at, "ho_not_maturing").reason == (
        "ossification not mature 18 months after first visible observation; "
        "18-month threshold for neurologic"
    )


# ho.atypical (2) and (3), 9a.33 ----------------------------------------------------------------


def test_ho_atypical_growth_after_maturity_waits_36_months_after_surgery() -> None:
    films = (xr("2021-01-01", 20, DWHB), xr("2022-06-01", 26, DWHB))
    surgery = assess(
        HO, *films, event="2020-01-01", event_kind=EventKind.SURGERY, as_of="2022-06-02"
    )
    assert "ho_atypical" not in alert_kinds(surgery)  # (2) does not apply; nothing else does
    later = assess(
        HO,
        *films,
        xr("2023-01-01", 32, DWHB),
        event="2020-01-01",
        event_kind=EventKind.SURGERY,
        as_of="2023-01-02",
    )
    assert alert(later, "ho_atypical").reason == (
        "growth after maturity +23%: atypical for HO, exclude sarcoma"
    )
    trauma = assess(HO, *films, event="2020-01-01", event_kind=EventKind.TRAUMA, as_of="2022-06-02")
    assert alert(trauma, "ho_atypical").reason == (
        "growth after maturity +30%: atypical for HO, exclude sarcoma"
    )


def test_ho_atypical_growth_after_zoning_from_ten_weeks() -> None:
    zoned = xr("2024-02-01", 20, MWHS, F.ZONAL_PERIPHERAL)
    trauma = partial(assess, HO, event="2024-01-01", event_kind=EventKind.TRAUMA)
    day_69 = trauma(zoned, xr("2024-03-10", 26, MWHS), as_of="2024-03-11")
    assert "ho_atypical" not in alert_kinds(day_69)
    day_70 = trauma(zoned, xr("2024-03-11", 26, MWHS), as_of="2024-03-12")
    assert alert(day_70, "ho_atypical").reason == (
        "growth +30% 10 weeks after event: myositis ossificans stops growing once zoning "
        "appears; exclude sarcoma"
    )
    no_event = assess(HO, zoned, xr("2024-04-11", 26, MWHS), as_of="2024-04-12")
    assert alert(no_event, "ho_atypical").reason.startswith("growth +30% 10 weeks after first")
    surgery = assess(HO, zoned, xr("2024-03-11", 26, MWHS), event="2024-01-01",
                     event_kind=EventKind.ARTHROPLASTY, as_of="2024-03-12")
    assert "ho_atypical" not in alert_kinds(surgery)  # (3) is myositis ossificans: trauma only


# soft_tissue.unexplained_mass ------------------------------------------------------------------


def _soft_tissue(*findings: Finding, entity: Entity | None = None, as_of: str) -> LesionAssessment:
    return assess(
        entity, *findings, compartment=Compartment.SOFT_TISSUE, region=Region.THIGH, as_of=as_of
    )


def test_unexplained_mass_eight_weeks_after_first_seen_without_zoning() -> None:
    first = xr("2024-01-15", 12, FIHC)
    day_55 = _soft_tissue(first, xr("2024-03-10", 12, FIHC), as_of="2024-03-11")
    assert day_55.entity is HO and "unexplained_mass" not in alert_kinds(day_55)
    day_56 = _soft_tissue(first, xr("2024-03-11", 12, FIHC), as_of="2024-03-12")
    mass = alert(day_56, "unexplained_mass")
    assert (mass.since, mass.severity.value, mass.rule) == (
        D("2024-03-11"),
        "warning",
        "soft_tissue.unexplained_mass",
    )
    assert mass.reason.startswith("no zoning or bone 8 weeks after first seen: HO unconfirmed")
    zoned = _soft_tissue(
        first,
        xr("2024-03-11", 12, FIHC),
        xr("2024-04-11", 13, MWHS, F.ZONAL_PERIPHERAL),
        as_of="2024-04-12",
    )
    assert "unexplained_mass" not in alert_kinds(zoned)


def test_a_given_ho_never_raises_unexplained_mass() -> None:
    a = _soft_tissue(
        xr("2024-01-15", 12, FIHC), xr("2024-05-15", 12, FIHC), entity=HO, as_of="2024-05-16"
    )
    assert "unexplained_mass" not in alert_kinds(a)


# any.model_changed -----------------------------------------------------------------------------


def test_model_changed_when_the_top_suggestion_changes_family_and_clears_next_film() -> None:
    films = (ct("2024-03-04", 6, DWHL), ct("2024-03-25", 7, MIHC, F.MASS_EFFECT))
    spine = partial(assess, compartment=Compartment.SPINE, region=Region.CERVICAL_SPINE)
    a = spine(None, *films, as_of="2024-04-01")
    changed = alert(a, "model_changed")
    assert (changed.since, changed.severity.value) == (D("2024-03-25"), "info")
    assert changed.reason == (
        "stage model changed generic→hadd (longus_colli_tendinitis); earlier stages recomputed"
    )
    later = spine(None, *films, ct("2024-04-15", 7, MIHC), as_of="2024-04-16")
    assert "model_changed" not in alert_kinds(later)
    given = spine(Entity.LONGUS_COLLI_TENDINITIS, *films, as_of="2024-04-01")
    assert "model_changed" not in alert_kinds(given)


# hadd.no_treatment_response --------------------------------------------------------------------

LAVAGE = (treated("2024-01-22", TreatmentKind.LAVAGE),)
BASELINE = xr("2024-01-15", 16, DWHN)


def test_no_treatment_response_judges_the_first_film_3_to_6_months_after() -> None:
    too_early = assess(HADD, BASELINE, xr("2024-04-21", 13), treatments=LAVAGE, as_of="2024-04-22")
    assert "no_treatment_response" not in alert_kinds(too_early)
    first_day = assess(HADD, BASELINE, xr("2024-04-22", 13), treatments=LAVAGE, as_of="2024-04-23")
    nr = alert(first_day, "no_treatment_response")
    assert (nr.since, nr.severity.value, nr.rule) == (
        D("2024-04-22"),
        "warning",
        "hadd.no_treatment_response",
    )
    assert nr.reason == (
        "deposit 13.0 mm 3 months after lavage (16.0 mm before): less than 30% smaller"
    )
    last_day = assess(HADD, BASELINE, xr("2024-07-22", 13), treatments=LAVAGE, as_of="2024-07-23")
    assert "no_treatment_response" in alert_kinds(last_day)
    too_late = assess(HADD, BASELINE, xr("2024-07-23", 13), treatments=LAVAGE, as_of="2024-07-24")
    assert "no_treatment_response" not in alert_kinds(too_late)


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


# any.rapid_progression after a carried MR --------------------------------------------------------


def test_carried_mr_does_not_refresh_the_reason_of_an_open_rapid_progression() -> None:
    """CPPD doubles in 10 days on CT; the MR a month later (lysis noted) refreshes nothing, but
    it is imaging after `since` (9a.27): the reason gains §5's suffix and the cap is 3 months."""
    a = assess(
        Entity.DISC_CPPD,
        xr("2024-01-16", 10, DWHN),
        xr("2024-01-26", 20.5, DWHN),
        not_seen("2024-02-25", Modality.MR, Feature.BONE_LYSIS),
        as_of="2024-02-25",
    )
    rapid = alert(a, "rapid_progression")
    assert rapid.since == D("2024-01-26")
    assert rapid.reason == (
        "size +105% (10.0→20.5 mm) within 10 days; "
        "confirmed on re-imaging: cross-sectional imaging or biopsy advised"
    )
    assert a.next_follow_up == D("2024-05-25")  # add_months(MR date, 3), not 1
