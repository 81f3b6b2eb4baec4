"""§4 ho alerts: ho.not_maturing, ho.atypical, soft_tissue.unexplained_mass."""

from __future__ import annotations

from functools import partial

import pytest

from tracker.engine import Finding, LesionAssessment
from tracker.vocabulary import Compartment, Entity, EventKind, Feature, Region

from .builders import D, alert, alert_kinds, assess, ct, not_seen, stages, xr
from .morphs import CONSOLIDATING, DWHB, FIHC, MWHS

HO = Entity.HO
F = Feature

EVENT = "2024-01-01"  # contusion of the thigh


def test_not_maturing_fires_exactly_six_months_after_the_event() -> None:
    findings = (xr("2024-02-01", 20, FIHC), xr("2024-06-30", 22, CONSOLIDATING))
    before = assess(HO, *findings, event=EVENT, as_of="2024-07-30")
    assert "ho_not_maturing" not in alert_kinds(before)
    at = assess(
        HO, findings[0], xr("2024-07-01", 22, CONSOLIDATING), event=EVENT, as_of="2024-07-30"
    )
    warn = alert(at, "ho_not_maturing")
    assert (warn.since, warn.severity.value, warn.rule) == (
        D("2024-07-01"),
        "warning",
        "ho.not_maturing",
    )
    assert warn.reason == (
        "ossification not mature 6 months after event; 6-month threshold for an unrecorded "
        "cause; post-surgical HO may take 12-18 months"
    )


def test_not_maturing_without_event_counts_from_the_first_observation_seen_or_not() -> None:
    a = assess(
        HO,
        not_seen("2024-01-01"),
        xr("2024-03-01", 20, FIHC),
        xr("2024-07-01", 20, CONSOLIDATING),
        as_of="2024-07-01",
    )
    assert alert(a, "ho_not_maturing").reason.startswith(
        "ossification not mature 6 months after first observation;"
    )


def test_not_maturing_needs_something_seen_and_clears_at_maturity() -> None:
    nothing = assess(
        HO, not_seen("2024-01-10"), not_seen("2024-08-01"), event=EVENT, as_of="2024-08-01"
    )
    assert nothing.alerts == ()
    assert nothing.next_follow_up is None  # never seen, >= 8 weeks after the event
    matured = assess(
        HO,
        xr("2024-02-01", 20, FIHC),
        xr("2024-08-01", 20, CONSOLIDATING),
        xr("2024-11-01", 20, DWHB),
        event=EVENT,
        as_of="2024-11-01",
    )
    assert matured.alerts == ()


def test_growth_after_maturity_is_atypical_and_never_clears() -> None:
    a = assess(
        HO,
        xr("2024-03-01", 30, DWHB),
        xr("2024-05-01", 40, DWHB),
        xr("2024-08-01", 40, DWHB),
        as_of="2024-12-01",
    )
    assert stages(a) == ["ho_mature"] * 3
    atypical = alert(a, "ho_atypical")
    assert atypical.since == D("2024-05-01")
    assert atypical.reason == "growth after maturity +33%: atypical for HO, exclude sarcoma"
    # 9a.2: the red flag keeps a date although ho_mature has none, and becomes overdue
    assert a.next_follow_up == D("2024-09-01")
    assert alert(a, "follow_up_overdue").since == D("2024-09-02")


def test_maturity_falling_on_the_same_modality_is_atypical() -> None:
    a = assess(HO, xr("2024-03-01", 30, DWHB), xr("2024-05-01", 30, MWHS), as_of="2024-05-01")
    assert stages(a) == ["ho_mature", "ho_intermediate"]
    assert alert(a, "ho_atypical").reason == (
        "maturity fell ho_mature→ho_intermediate on XR: atypical for HO, exclude sarcoma"
    )
    assert a.transitions[0].unexpected
    assert a.transitions[0].evidence[-1] == "unexpected: ho_mature→ho_intermediate"


def test_a_lower_stage_on_another_modality_is_a_step_back_but_not_atypical() -> None:
    a = assess(HO, ct("2024-03-01", 30, DWHB), xr("2024-05-01", 30, MWHS), as_of="2024-05-01")
    assert a.transitions[0].unexpected
    assert "ho_atypical" not in alert_kinds(a)


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
    surgery = assess(
        HO,
        zoned,
        xr("2024-03-11", 26, MWHS),
        event="2024-01-01",
        event_kind=EventKind.ARTHROPLASTY,
        as_of="2024-03-12",
    )
    assert "ho_atypical" not in alert_kinds(surgery)  # (3) is myositis ossificans: trauma only


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


def test_not_maturing_clears_at_an_unconfirmed_resolution_and_may_fire_again_at_o4b() -> None:
    """Revision 3: O2b is `resolved` (clears it); the deposit seen again no larger (O4b) is
    staged like any HO film, its real prev(o) `resolved`."""
    films = (
        xr("2024-02-01", 20, FIHC),
        xr("2024-07-01", 20, FIHC),
        not_seen("2024-08-01"),
        xr("2024-09-02", 20, FIHC),
    )
    immature = assess(HO, *films[:2], event=EVENT, event_kind=EventKind.TRAUMA, as_of="2024-07-01")
    assert alert(immature, "ho_not_maturing").since == D("2024-07-01")
    gone = assess(HO, *films[:3], event=EVENT, event_kind=EventKind.TRAUMA, as_of="2024-08-01")
    assert gone.alerts == () and gone.next_follow_up == D("2024-11-01")  # O2b +3 months
    back = assess(HO, *films, event=EVENT, event_kind=EventKind.TRAUMA, as_of="2024-09-02")
    assert back.stages[-1].rule == "O4b"
    warn = alert(back, "ho_not_maturing")
    assert (warn.since, warn.severity.value) == (D("2024-09-02"), "warning")
    assert "ho_atypical" not in alert_kinds(back)


def test_o4b_lower_than_the_stage_reached_before_the_negative_is_still_atypical() -> None:
    """ho.atypical (4) compares with every earlier visible film on the modality: a missed
    projection explains the negative film, not a fall in maturity."""
    films = (xr("2024-03-01", 30, DWHB), not_seen("2024-05-01"), xr("2024-06-01", 30, MWHS))
    a = assess(HO, *films, as_of="2024-06-01")
    assert [s.rule for s in a.stages] == ["O4", "O2b", "O4b"]
    assert alert(a, "ho_atypical").reason == (
        "maturity fell ho_mature→ho_intermediate on XR: atypical for HO, exclude sarcoma"
    )
