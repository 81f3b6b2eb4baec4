"""Independent audit against clinical-rules.md: small vignettes at the edges of the rules."""

from __future__ import annotations

from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Texture,
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
    confidences,
    not_seen,
    stages,
    us,
    xr,
)

HADD, HO, GOUT = Entity.HADD, Entity.HO, Entity.GOUT
MWHS = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.SHELL)


# §4 carried stages (H1, O1, G1) neither trigger nor clear; 9a.15 covers non-MR not-seen only


def test_lysis_reported_on_an_mr_that_misses_the_tophus_does_not_fire_rapid_progression() -> None:
    """Gout tophus on XR; a month later MR does not show the calcium but notes bone lysis."""
    a = assess(
        GOUT,
        xr("2023-01-01", 10, MIHC),
        not_seen("2023-02-01", Modality.MR, Feature.BONE_LYSIS),
        as_of="2023-02-02",
    )
    assert stages(a) == ["stable", "stable"]
    assert a.stages[1].evidence[0].endswith("stage carried")
    assert a.alerts == ()
    assert a.next_follow_up == D("2023-08-01")  # variable, stable: +6 months from the MR


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


def test_lysis_on_a_radiograph_that_no_longer_shows_the_deposit_fires_and_holds() -> None:
    """9a.15: the deposit is gone on XR but the bone is eroded: urgent, and it stays open."""
    a = assess(
        GOUT,
        xr("2023-01-01", 10, MIHC),
        not_seen("2023-02-01", Modality.XR, Feature.BONE_LYSIS),
        as_of="2023-02-02",
    )
    assert stages(a) == ["stable", "resolved"]
    assert alert(a, "rapid_progression").reason == "new bone lysis within 31 days"
    assert a.next_follow_up == D("2023-03-01")  # urgent cap, although resolved has no date


# §1, §2.1 boundaries


def test_exactly_two_mm_and_twenty_percent_is_a_decrease() -> None:
    a = assess(HADD, xr("2024-01-10", 10), xr("2024-04-10", 8), as_of="2024-04-10")
    assert stages(a) == ["formative", "resorptive"]  # H7
    assert a.stages[1].evidence[0] == "size -20% (10.0→8.0 mm)"


def test_a_five_mm_residue_is_postcalcific_and_bosworth_medium() -> None:
    a = assess(HADD, xr("2024-01-10", 7.0), xr("2024-04-10", 5.0), as_of="2024-04-10")
    assert stages(a) == ["formative", "postcalcific"]  # H6 (9a.11)
    assert dict(a.stages[1].classifications)["bosworth"] == "medium"
    assert a.next_follow_up == D("2025-04-10")


def test_slow_shrinkage_is_read_from_the_run_peak() -> None:
    """10 → 9 → 8 mm: each step is noise, the run peak shows the 20 % loss (sign D)."""
    a = assess(
        HADD, xr("2024-01-10", 10), xr("2024-04-10", 9), xr("2024-07-10", 8), as_of="2024-07-10"
    )
    assert stages(a) == ["formative", "resting", "resorptive"]
    assert a.stages[2].evidence[:2] == (
        "size stable (9.0→8.0 mm)",
        "-20% from peak (10.0→8.0 mm)",
    )


def test_h4_recurrence_after_confirmed_resolution_is_formative_with_resorptive_morphology() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 10),
        not_seen("2024-03-10"),
        not_seen("2024-04-10"),  # H2c: confirmed 31 days later
        xr("2024-05-10", 4, MIHC),
        as_of="2024-05-10",
    )
    assert stages(a) == ["formative", "resolved", "resolved", "formative"]  # H4 before H5
    assert [s.rule for s in a.stages] == ["H9", "H2b", "H2c", "H4"]
    assert confidences(a)[2:] == [0.9, 0.6]
    assert alert(a, "unexpected_regrowth").reason == "deposit regrew after resolved (10.0→4.0 mm)"


# §2.2 HO windows


def test_ho_early_window_ends_at_eight_weeks() -> None:
    a = assess(
        HO,
        xr("2024-02-25", 30, FIHC),
        xr("2024-02-26", 30, FIHC),
        as_of="2024-02-26",
        event="2024-01-01",
    )
    assert confidences(a) == [0.7, 0.5]  # day 55 in, day 56 out


def test_ho_intermediate_window_runs_to_six_calendar_months() -> None:
    a = assess(
        HO,
        xr("2024-01-28", 30, MWHS),
        xr("2024-01-29", 30, MWHS),
        xr("2024-07-01", 30, MWHS),
        xr("2024-07-02", 30, MWHS),
        as_of="2024-07-02",
        event="2024-01-01",
    )
    assert confidences(a) == [0.6, 0.8, 0.8, 0.6]
    assert alert(a, "ho_not_maturing").since == D("2024-07-01")


def test_ho_mature_window_from_twelve_weeks() -> None:
    a = assess(
        HO,
        xr("2024-03-24", 30, DWHB),
        xr("2024-03-25", 30, DWHB),
        as_of="2024-03-25",
        event="2024-01-01",
    )
    assert confidences(a) == [0.7, 0.9]


# §3 clamping, §4 boundaries, §5 month ends


def test_carried_stage_of_a_persistent_entity_bottoms_out_at_five_percent() -> None:
    a = assess(
        Entity.ENTHESOPATHY,
        xr("2023-01-01", 10, DWHB),
        not_seen("2023-09-01"),
        not_seen("2023-12-01", Modality.MR),
        as_of="2024-01-01",
    )
    assert stages(a) == ["stable", "resolved", "resolved"]
    # G2b 0.50 - 0.15 course mismatch; G1 0.20 - 0.15, clamped at 0.05
    assert confidences(a) == [0.4, 0.35, 0.05]


def test_rapid_progression_window_is_three_calendar_months_inclusive() -> None:
    inside = assess(GOUT, xr("2023-01-31", 4, MIHC), xr("2023-04-30", 6, MIHC), as_of="2023-04-30")
    assert alert(inside, "rapid_progression").reason == "size +50% (4.0→6.0 mm) within 89 days"
    late = assess(GOUT, xr("2023-01-31", 4, MIHC), xr("2023-05-01", 6, MIHC), as_of="2023-05-01")
    assert "rapid_progression" not in alert_kinds(late)


def test_cross_modality_rapid_progression_needs_double() -> None:
    fast = assess(GOUT, xr("2023-01-31", 4, MIHC), us("2023-03-01", 8, MIHC), as_of="2023-03-01")
    assert alert(fast, "rapid_progression").reason == "size +100% (4.0→8.0 mm) within 29 days"
    slow = assess(GOUT, xr("2023-01-31", 4, MIHC), us("2023-03-01", 7.9, MIHC), as_of="2023-03-01")
    assert stages(slow) == ["stable", "stable"] and slow.alerts == ()


def test_follow_up_from_a_month_end_is_clamped_and_overdue_the_day_after() -> None:
    due = assess(HADD, xr("2024-08-31", 12), as_of="2025-02-28")
    assert due.next_follow_up == D("2025-02-28") and due.alerts == ()
    late = assess(HADD, xr("2024-08-31", 12), as_of="2025-03-01")
    overdue = alert(late, "follow_up_overdue")
    assert overdue.since == D("2025-03-01")
    assert overdue.reason == "follow-up due 2025-02-28 (formative); no imaging since 2024-08-31"


# §6 ties follow the compartment's suggestion order


def test_soft_tissue_tie_goes_to_the_entity_first_in_the_compartment_order() -> None:
    """Faint cloudy thigh calcification, no trauma known: HO's prior (0.40) ties metabolic
    calcinosis (0.20 + cloud 0.20); §6 (revision 2): the compartment's order lists HO first."""
    a = assess(
        None,
        xr("2024-01-01", 8, FIHC),
        compartment=Compartment.SOFT_TISSUE,
        region=Region.THIGH,
        as_of="2024-01-01",
    )
    top = [(s.entity.value, s.score) for s in a.suggestions[:2]]
    assert top == [("ho", 0.4), ("metabolic_calcinosis", 0.4)]
    assert a.entity_source == "suggested" and stages(a) == ["ho_early"]


def test_linear_vascular_tie_ranks_phlebolith_before_medial_calcification() -> None:
    """Linear calcification along a forearm vessel, texture not recorded: phlebolith's prior
    (0.40) ties medial calcification (0.10 + linear 0.30); phlebolith is first in the
    vascular compartment's suggestion order."""
    a = assess(
        None,
        xr("2024-01-01", 30, Morph(Density.DENSE, Margin.WELL_DEFINED, None, Pattern.LINEAR)),
        compartment=Compartment.VASCULAR,
        region=Region.FOREARM,
        as_of="2024-01-01",
    )
    top = [(s.entity.value, s.score) for s in a.suggestions]
    assert top == [("arterial_intimal", 0.5), ("phlebolith", 0.4), ("arterial_medial", 0.4)]
