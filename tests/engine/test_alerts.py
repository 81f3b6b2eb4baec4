"""§4 the alert walk: observations up to as_of, clear then fire, carried stages do neither;
the output order. The rules themselves: test_alerts_{hadd,ho,any}.py, as `alerts/`."""

from __future__ import annotations

from tracker.vocabulary import Entity, Feature, Modality

from .builders import D, alert, alert_kinds, assess, not_seen, stages, xr
from .morphs import DWHN, FIHC, MIHC

HADD, GOUT, HO = Entity.HADD, Entity.GOUT, Entity.HO


def test_observations_after_as_of_are_ignored_stages_included() -> None:
    """§0 (revision 2): a report for a past date is what the engine would have said then."""
    findings = (xr("2024-01-10", 12), xr("2024-07-15", 12), xr("2024-09-15", 8, MIHC))
    a = assess(HADD, *findings, as_of="2024-08-01")
    assert stages(a) == ["formative", "resting"]
    assert alert_kinds(a) == ["no_resolution"]
    assert a.next_follow_up == D("2025-01-15")


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
    lysis = assess(GOUT, xr("2023-01-01", 10, MIHC),
                   not_seen("2023-02-01", Modality.MR, Feature.BONE_LYSIS), as_of="2023-02-02")
    assert stages(lysis) == ["stable", "stable"]
    assert lysis.stages[1].evidence[0].endswith("stage carried")
    assert lysis.alerts == ()
    assert lysis.next_follow_up == D("2023-08-01")  # variable, stable: +6 months from the MR
