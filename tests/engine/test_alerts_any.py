"""§4 alerts of every family: any.rapid_progression (and §5's urgent cap), any.model_changed,
any.follow_up_overdue."""

from __future__ import annotations

from functools import partial

import pytest

from tracker.vocabulary import Compartment, Entity, Feature, Modality, Region

from .builders import D, alert, alert_kinds, assess, ct, not_seen, stages, us, xr
from .morphs import DWHL, DWHN, FIHC, MIHC

HADD, GOUT, HO = Entity.HADD, Entity.GOUT, Entity.HO
F = Feature


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


def test_follow_up_overdue_starts_the_day_after_the_due_date() -> None:
    on_due = assess(HADD, xr("2024-01-10", 12), as_of="2024-07-10")
    assert on_due.alerts == ()
    after = assess(HADD, xr("2024-01-10", 12), as_of="2024-07-11")
    overdue = alert(after, "follow_up_overdue")
    assert (overdue.since, overdue.severity.value) == (D("2024-07-11"), "info")
    assert overdue.reason == "follow-up due 2024-07-10 (formative); no imaging since 2024-01-10"


def test_hadd_intraosseous_exemption_cancels_the_lysis_part_only() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 10, DWHN),
        xr("2024-02-10", 16, MIHC, F.INTRAOSSEOUS_EXTENSION, F.BONE_LYSIS),
        as_of="2024-02-11",
    )
    assert alert(a, "rapid_progression").reason == "size +60% (10.0→16.0 mm) within 31 days"
