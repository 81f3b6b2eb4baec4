"""The first ten worked examples of clinical-rules.md §8 (revision 2), to the hundredth and the
letter; all 24 (with responses, reasons and evidence) run through `test_vignettes.py` too."""

from __future__ import annotations

from tracker.engine import Finding
from tracker.vocabulary import Compartment, Density, Entity, Feature, Margin, Region
from tracker.vocabulary import Pattern as P
from tracker.vocabulary import Texture as T

from .builders import (
    DWHB,
    DWHN,
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

F = Feature


def example_1() -> tuple[Finding, ...]:
    return (
        xr("2024-01-10", 14, DWHN),
        xr("2024-04-10", 14.5, DWHN),
        xr("2024-07-15", 9, MIHC, F.COMET_TAIL),
        xr("2024-10-20", 4, Morph(Density.MODERATE, Margin.WELL_DEFINED, T.HOMOGENEOUS, P.NODULAR)),
        not_seen("2025-04-22"),
    )


def test_1_full_uhthoff_cycle_ends_resolved_without_follow_up() -> None:
    """Supraspinatus HADD: forms, rests, resorbs (M+F+D), leaves a residue, resolves."""
    a = assess(Entity.HADD, *example_1(), as_of="2025-06-01")
    assert stages(a) == ["formative", "resting", "resorptive", "postcalcific", "resolved"]
    assert confidences(a) == [0.50, 0.70, 0.80, 0.70, 0.75]  # H2a
    cls = [dict(s.classifications) for s in a.stages]
    assert [c.get("gartner") for c in cls] == ["I", "I", "III", "II", None]
    assert [c.get("bosworth") for c in cls] == ["medium", "medium", "medium", "small", None]
    assert a.alerts == ()
    assert a.next_follow_up is None
    assert [(t.from_stage.value, t.to_stage.value) for t in a.transitions] == [
        ("formative", "resting"),
        ("resting", "resorptive"),
        ("resorptive", "postcalcific"),
        ("postcalcific", "resolved"),
    ]
    assert not any(t.unexpected for t in a.transitions)


def example_2() -> tuple[Finding, ...]:
    return (
        xr("2024-01-10", 12, DWHN),
        xr("2024-04-12", 12.5, DWHN),
        xr("2024-07-15", 12, DWHN),
        xr("2025-01-20", 12.5, DWHN),
    )


def test_2_persistent_deposit_warns_no_resolution_then_overdue() -> None:
    a = assess(Entity.HADD, *example_2(), as_of="2025-03-01")
    assert stages(a) == ["formative", "resting", "resting", "resting"]
    assert confidences(a) == [0.50, 0.70, 0.70, 0.70]
    assert alert_kinds(a) == ["no_resolution"]
    no_res = alert(a, "no_resolution")
    assert no_res.since == D("2024-07-15")
    assert no_res.rule == "hadd.no_resolution"
    assert no_res.severity.value == "warning"
    assert no_res.reason == (
        "calcific deposit 12.5 mm without resorption for 12 months (2024-01-10 → 2025-01-20)"
    )
    assert a.next_follow_up == D("2025-07-20")

    later = assess(Entity.HADD, *example_2(), as_of="2025-09-01")
    assert alert_kinds(later) == ["no_resolution", "follow_up_overdue"]
    overdue = alert(later, "follow_up_overdue")
    assert overdue.since == D("2025-07-21")
    assert overdue.rule == "any.follow_up_overdue"
    assert overdue.reason == "follow-up due 2025-07-20 (resting); no imaging since 2025-01-20"


def example_3() -> tuple[Finding, ...]:
    return (
        xr("2024-02-01", 10, DWHN),
        xr("2024-03-15", 11, MIHC, F.INTRAOSSEOUS_EXTENSION, F.BONE_LYSIS),
        xr("2024-06-20", 5, Morph(Density.FAINT, Margin.ILL_DEFINED, T.HETEROGENEOUS, P.CLOUD)),
        not_seen("2024-12-10"),
    )


def test_3_deposit_into_bone_warns_without_rapid_progression_then_clears() -> None:
    early = assess(Entity.HADD, *example_3()[:2], as_of="2024-04-01")
    assert stages(early) == ["formative", "resorptive"]
    assert confidences(early) == [0.50, 0.70]
    # lysis in continuity with the migrating deposit is not counted (§4)
    assert alert_kinds(early) == ["resorptive_bone_involvement"]
    bone = alert(early, "resorptive_bone_involvement")
    assert (bone.since, bone.severity.value) == (D("2024-03-15"), "warning")  # bone_lysis
    assert bone.reason == (
        "resorbing deposit extends into bone; may mimic infection or tumour, correlate clinically"
    )
    assert early.next_follow_up == D("2024-06-15")  # resorptive +3 months, no urgent cap

    full = assess(Entity.HADD, *example_3(), as_of="2025-01-01")
    assert stages(full) == ["formative", "resorptive", "resorptive", "resolved"]
    assert confidences(full) == [0.50, 0.70, 0.70, 0.75]
    assert full.alerts == ()
    assert full.next_follow_up is None
    cleared = assess(Entity.HADD, *example_3()[:3], as_of="2024-06-20")
    assert cleared.alerts == ()


def test_4_ho_matures_on_time() -> None:
    a = assess(
        Entity.HO,
        not_seen("2024-03-20"),
        xr("2024-04-05", 30, Morph(Density.FAINT, Margin.ILL_DEFINED, T.HETEROGENEOUS, P.CLOUD)),
        xr(
            "2024-05-10",
            40,
            Morph(Density.MODERATE, Margin.WELL_DEFINED, T.HETEROGENEOUS, P.SHELL),
            F.ZONAL_PERIPHERAL,
        ),
        xr(
            "2024-09-15",
            35,
            Morph(Density.DENSE, Margin.WELL_DEFINED, T.HETEROGENEOUS, P.BONE),
            F.BONE_ORGANIZATION,
        ),
        event="2024-03-01",
        as_of="2024-10-01",
    )
    assert stages(a) == ["ho_early", "ho_early", "ho_intermediate", "ho_mature"]
    assert confidences(a) == [0.40, 0.70, 0.80, 0.90]
    assert "35 days after event" in a.stages[1].evidence
    assert a.alerts == ()
    assert a.next_follow_up is None


def test_5_central_mineralisation_in_ho_is_urgent() -> None:
    features = (F.CENTRAL_MINERALIZATION, F.MASS_EFFECT)
    a = assess(
        Entity.HO,
        xr("2024-02-01", 35, MIHC, *features),
        xr(
            "2024-04-01",
            48,
            Morph(Density.DENSE, Margin.ILL_DEFINED, T.HETEROGENEOUS, P.CLOUD),
            *features,
        ),
        as_of="2024-04-15",
    )
    assert stages(a) == ["ho_early", "ho_early"]
    assert confidences(a) == [0.60, 0.60]
    assert alert_kinds(a) == ["ho_atypical"]
    atypical = alert(a, "ho_atypical")
    assert (atypical.since, atypical.severity.value) == (D("2024-02-01"), "urgent")
    assert atypical.reason == "central mineralisation: atypical for HO, exclude sarcoma"
    assert a.next_follow_up == D("2024-05-01")  # +6 weeks = 05-13, capped


def test_6_enthesopathy_stable_with_a_long_gap() -> None:
    a = assess(
        Entity.ENTHESOPATHY,
        xr("2023-05-01", 8, DWHB),
        xr("2024-04-20", 9, DWHB),
        xr("2025-06-10", 9.5, DWHB),
        region=Region.KNEE,
        as_of="2025-07-01",
    )
    assert stages(a) == ["stable", "stable", "stable"]
    assert confidences(a) == [0.40, 0.75, 0.65]
    assert "13 months since previous observation" in a.stages[2].evidence
    assert a.alerts == ()
    assert a.next_follow_up is None


def test_7_undiagnosed_vascular_calcification_is_a_phlebolith() -> None:
    lucent = Morph(Density.DENSE, Margin.WELL_DEFINED, T.HOMOGENEOUS, P.CENTRAL_LUCENCY)
    a = assess(
        None,
        xr("2022-03-01", 4, lucent),
        xr("2023-02-20", 4, lucent),
        compartment=Compartment.VASCULAR,
        region=Region.FOREARM,
        as_of="2024-01-01",
    )
    assert [(s.entity.value, s.score) for s in a.suggestions] == [
        ("phlebolith", 0.9),
        ("venous_malformation", 0.5),
        ("arterial_medial", 0.3),
    ]
    assert a.suggestions[0].why == ("vascular", "central_lucency")
    assert (a.entity, a.entity_source) == (Entity.PHLEBOLITH, "suggested")
    assert stages(a) == ["stable", "stable"]
    assert confidences(a) == [0.40, 0.75]
    assert a.alerts == ()
    assert a.next_follow_up is None


def test_8_rapidly_destructive_hip_is_urgent() -> None:
    a = assess(
        Entity.RAPIDLY_DESTRUCTIVE_ARTHROPATHY,
        xr("2024-01-15", 12, MIHC),
        xr("2024-03-20", 20, MIHC, F.BONE_LYSIS),
        region=Region.HIP,
        as_of="2024-04-01",
    )
    assert stages(a) == ["stable", "progressing"]
    assert confidences(a) == [0.40, 0.75]
    rapid = alert(a, "rapid_progression")
    assert (rapid.since, rapid.severity.value) == (D("2024-03-20"), "urgent")
    assert rapid.reason == "size +67% (12.0→20.0 mm) and new bone lysis within 65 days"
    assert a.next_follow_up == D("2024-04-20")


def test_9_radiograph_then_ultrasound_is_not_growth() -> None:
    a = assess(
        Entity.HADD,
        xr("2024-01-10", 10, DWHN),
        us("2024-03-12", 13, DWHN),
        us("2024-06-20", 13.5, DWHN),
        as_of="2024-07-01",
    )
    assert stages(a) == ["formative", "resting", "resting"]
    assert confidences(a) == [0.50, 0.55, 0.70]
    assert "XR→US: sizes not directly comparable" in a.stages[1].evidence
    assert a.alerts == ()
    assert a.next_follow_up == D("2024-12-20")

    both_xr = assess(
        Entity.HADD, xr("2024-01-10", 10, DWHN), xr("2024-03-12", 13, DWHN), as_of="2024-07-01"
    )
    assert stages(both_xr) == ["formative", "formative"]


def test_10_regrowth_after_resorption_warns_but_is_not_rapid() -> None:
    a = assess(
        Entity.HADD,
        xr("2024-01-10", 12, DWHN),
        xr("2024-04-10", 7, MIHC),
        xr("2024-08-20", 11, DWHN),
        as_of="2024-09-01",
    )
    assert stages(a) == ["formative", "resorptive", "formative"]
    assert confidences(a) == [0.50, 0.70, 0.60]
    assert alert_kinds(a) == ["unexpected_regrowth"]
    regrowth = alert(a, "unexpected_regrowth")
    assert regrowth.since == D("2024-08-20")
    assert regrowth.reason == "deposit regrew after resorptive (7.0→11.0 mm)"
    assert a.transitions[-1].unexpected
    assert a.transitions[-1].evidence[-1] == "unexpected: resorptive→formative"
    assert a.next_follow_up == D("2025-02-20")
