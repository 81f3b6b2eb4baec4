"""§2.2 heterotopic ossification: zonal maturation, event windows, HO alerts and follow-up."""

from __future__ import annotations

import pytest

from tracker.engine import Finding
from tracker.vocabulary import Density, Entity, Feature, Margin, Modality, Pattern, Texture

from .builders import (
    DWHB,
    FIHC,
    D,
    Morph,
    alert,
    alert_kinds,
    assess,
    confidences,
    ct,
    not_seen,
    stages,
    xr,
)

HO = Entity.HO
EVENT = "2024-01-01"  # contusion of the thigh
SHELL = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.SHELL)
WELL = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.NODULAR)


def test_rows_o4_to_o7() -> None:
    a = assess(
        HO,
        xr("2024-02-01", 20, FIHC),  # O7 flocculent
        xr("2024-03-01", 21, WELL),  # O6 consolidating
        xr("2024-04-01", 22, FIHC, Feature.ZONAL_PERIPHERAL),  # O5 zoning
        xr("2024-06-01", 22, FIHC, Feature.BONE_ORGANIZATION),  # O4 organised
        as_of="2024-06-01",
    )
    assert stages(a) == ["ho_early", "ho_intermediate", "ho_intermediate", "ho_mature"]
    assert confidences(a) == [0.60, 0.55, 0.70, 0.80]
    assert [s.rule for s in a.stages] == ["O7", "O6", "O5", "O4"]


def test_o2_no_longer_seen_is_resolved_without_window_term() -> None:
    a = assess(
        HO, xr("2024-02-01", 20, FIHC), not_seen("2024-06-01"), event=EVENT, as_of="2024-06-01"
    )
    assert stages(a) == ["ho_early", "resolved"]
    assert a.stages[1].confidence == 0.70
    assert a.next_follow_up is None


@pytest.mark.parametrize(
    ("day", "morph", "conf"),
    [
        ("2024-02-25", FIHC, 0.70),  # early, t = 55 days < 8 weeks
        ("2024-02-26", FIHC, 0.50),  # early, t = 56 days: outside
        ("2024-01-29", SHELL, 0.80),  # intermediate from t = 28 days
        ("2024-01-28", SHELL, 0.60),
        ("2024-07-01", SHELL, 0.80),  # ... until add_months(event, 6), inclusive
        ("2024-07-02", SHELL, 0.60),
        ("2024-03-25", DWHB, 0.90),  # mature from t = 84 days
        ("2024-03-24", DWHB, 0.70),
    ],
)
def test_event_window_term_edges(day: str, morph: Morph, conf: float) -> None:
    a = assess(HO, xr(day, 20, morph), event=EVENT, as_of=day)
    assert confidences(a) == [conf]
    days = (D(day) - D(EVENT)).days
    assert a.stages[0].evidence[-1] == f"{days} days after event"


def test_o3_nothing_yet_then_o1_carried_both_get_the_window_term() -> None:
    """9a.5: carried stages are HO stages too."""
    a = assess(
        HO,
        not_seen("2024-01-10"),
        xr("2024-02-01", 20, FIHC),
        not_seen("2024-04-15", Modality.MR),
        event=EVENT,
        as_of="2024-04-15",
    )
    assert stages(a) == ["ho_early", "ho_early", "ho_early"]
    assert confidences(a) == [0.40, 0.70, 0.10]  # O1 0.20, t = 105 days outside early: -0.10


def test_not_maturing_fires_exactly_six_months_after_the_event() -> None:
    findings = (xr("2024-02-01", 20, FIHC), xr("2024-06-30", 22, WELL))
    before = assess(HO, *findings, event=EVENT, as_of="2024-07-30")
    assert "ho_not_maturing" not in alert_kinds(before)
    at = assess(HO, findings[0], xr("2024-07-01", 22, WELL), event=EVENT, as_of="2024-07-30")
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
        xr("2024-07-01", 20, WELL),
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
        xr("2024-08-01", 20, WELL),
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
    a = assess(HO, xr("2024-03-01", 30, DWHB), xr("2024-05-01", 30, SHELL), as_of="2024-05-01")
    assert stages(a) == ["ho_mature", "ho_intermediate"]
    assert alert(a, "ho_atypical").reason == (
        "maturity fell ho_mature→ho_intermediate on XR: atypical for HO, exclude sarcoma"
    )
    assert a.transitions[0].unexpected
    assert a.transitions[0].evidence[-1] == "unexpected: ho_mature→ho_intermediate"


def test_a_lower_stage_on_another_modality_is_a_step_back_but_not_atypical() -> None:
    a = assess(HO, ct("2024-03-01", 30, DWHB), xr("2024-05-01", 30, SHELL), as_of="2024-05-01")
    assert a.transitions[0].unexpected
    assert "ho_atypical" not in alert_kinds(a)


def test_ho_seen_again_after_resolution_is_unexpected() -> None:
    a = assess(
        HO,
        xr("2024-02-01", 20, FIHC),
        not_seen("2024-04-01"),
        xr("2024-06-01", 20, FIHC),
        as_of="2024-06-01",
    )
    assert stages(a) == ["ho_early", "resolved", "ho_early"]
    assert a.transitions[-1].unexpected


@pytest.mark.parametrize(
    ("findings", "event", "due"),
    [
        ((not_seen("2024-01-20"),), EVENT, "2024-03-02"),  # t < 8 weeks: look again in 6 weeks
        ((not_seen("2024-02-26"),), EVENT, None),  # t = 56 days, nothing: no HO
        ((not_seen("2024-02-26"),), None, "2024-04-08"),  # 9a.18 no event: +6 weeks
        ((xr("2024-02-01", 20, FIHC),), EVENT, "2024-03-14"),  # early: +6 weeks
        ((xr("2024-02-01", 20, SHELL),), EVENT, "2024-05-01"),  # intermediate: +3 months
        ((xr("2024-05-01", 20, DWHB),), EVENT, None),  # mature: done
    ],
)
def test_ho_follow_up(findings: tuple[Finding, ...], event: str | None, due: str | None) -> None:
    last = findings[-1].date.isoformat()
    a = assess(HO, *findings, event=event, as_of=last)
    assert a.next_follow_up == (None if due is None else D(due))


def test_post_traumatic_ossification_follows_the_ho_model() -> None:
    a = assess(Entity.POST_TRAUMATIC_OSSIFICATION, xr("2024-02-01", 20, FIHC), as_of="2024-02-01")
    assert a.family.value == "ho"
    assert stages(a) == ["ho_early"]
