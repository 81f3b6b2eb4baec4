"""§3 confidence modifiers and evidence wording/order; §2.4 transition evidence."""

from __future__ import annotations

from tracker.vocabulary import Density, Entity, Feature, Margin, Modality, Pattern, Texture

from .builders import assess, confidences, not_seen, stages, us, xr
from .morphs import DWH_, DWHN, MIHC, Morph

HADD = Entity.HADD


def test_missing_texture_or_pattern_costs_five_hundredths_once() -> None:
    """9a.3: once, whether one or both are missing."""
    bare = Morph(Density.DENSE, Margin.WELL_DEFINED, None, None)
    no_texture = Morph(Density.DENSE, Margin.WELL_DEFINED, None, Pattern.NODULAR)
    a = assess(
        HADD,
        xr("2024-01-10", 12, DWH_),
        xr("2024-02-10", 12, no_texture),
        xr("2024-03-10", 12, bare),
        as_of="2024-03-10",
    )
    assert confidences(a) == [0.45, 0.65, 0.65]
    assert a.stages[2].evidence == ("size stable (12.0→12.0 mm)", "dense", "well_defined")


def test_gap_penalty_starts_the_day_after_twelve_months() -> None:
    exactly = assess(HADD, xr("2024-01-10", 12), xr("2025-01-10", 12), as_of="2025-01-10")
    assert confidences(exactly) == [0.50, 0.70]
    one_day_more = assess(HADD, xr("2024-01-10", 12), xr("2025-01-11", 12), as_of="2025-01-11")
    assert confidences(one_day_more) == [0.50, 0.60]
    assert one_day_more.stages[1].evidence[-1] == "12 months since previous observation"


def test_gap_penalty_applies_to_a_not_seen_observation_too() -> None:
    a = assess(HADD, xr("2024-01-10", 12), not_seen("2025-02-10"), as_of="2025-02-10")
    assert confidences(a) == [0.50, 0.40]  # H2b 0.50 - 0.10
    assert a.stages[1].evidence == (
        "not seen once; unconfirmed",
        "13 months since previous observation",
    )


def test_cross_modality_penalty_only_where_sizes_are_compared() -> None:
    """9a.4: a first ultrasound after a negative radiograph compares nothing."""
    a = assess(HADD, not_seen("2024-01-10"), us("2024-02-10", 8), as_of="2024-02-10")
    assert confidences(a) == [0.30, 0.50]
    assert not any("comparable" in e for e in a.stages[1].evidence)


def test_cross_modality_penalty_on_the_carried_reference_chain() -> None:
    """The reference is the latest *visible* finding, whatever came in between."""
    a = assess(
        HADD,
        xr("2024-01-10", 10),
        not_seen("2024-02-10", Modality.MR),
        us("2024-03-10", 10),
        as_of="2024-03-10",
    )
    assert stages(a) == ["formative", "formative", "resting"]
    assert confidences(a) == [0.50, 0.20, 0.55]
    assert a.stages[2].evidence[-1] == "XR→US: sizes not directly comparable"


def test_evidence_order_is_9a19s_change_morphology_rule_notes_then_context() -> None:
    a = assess(
        HADD,
        xr("2023-01-10", 10),
        us(
            "2024-03-10",
            16,
            MIHC,
            Feature.COMET_TAIL,
            Feature.BONE_LYSIS,
            Feature.INTRABURSAL_MIGRATION,
        ),
        event="2022-12-01",
        as_of="2024-03-10",
    )
    assert a.stages[1].evidence == (
        "size +60% (10.0→16.0 mm)",
        "moderate",
        "ill_defined",
        "heterogeneous",
        "cloud",
        "intrabursal_migration",
        "bone_lysis",
        "comet_tail",
        "new bone lysis",
        "465 days after event",
        "XR→US: sizes not directly comparable",
        "14 months since previous observation",
    )
    # H5 (M+F; growth is not D) 0.70, xmod -0.15, gap -0.10; no HO window for HADD
    assert confidences(a) == [0.50, 0.45]


def test_decrease_reads_as_a_signed_percentage() -> None:
    a = assess(HADD, xr("2024-01-10", 15), xr("2024-03-10", 10.5), as_of="2024-03-10")
    assert a.stages[1].evidence[0] == "size -30% (15.0→10.5 mm)"
    assert not any("from peak" in e for e in a.stages[1].evidence)


def test_transition_carries_the_new_stage_full_evidence() -> None:
    a = assess(HADD, xr("2024-01-10", 12), xr("2024-04-10", 7, MIHC), as_of="2024-04-10")
    (t,) = a.transitions
    assert (t.date.isoformat(), t.from_stage.value, t.to_stage.value) == (
        "2024-04-10",
        "formative",
        "resorptive",
    )
    assert t.evidence == a.stages[1].evidence
    assert not t.unexpected


def test_heterogeneous_dense_deposit_keeps_all_codes() -> None:
    morph = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.NODULAR)
    a = assess(HADD, xr("2024-01-10", 12, morph), as_of="2024-01-10")
    assert a.stages[0].evidence[1:] == ("dense", "well_defined", "heterogeneous", "nodular")
    assert dict(a.stages[0].classifications) == {"gartner": "II", "sfa": "B", "bosworth": "medium"}


def test_resting_deposit_stays_resting_across_a_year_of_stable_films() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 12, DWHN),
        xr("2024-05-10", 12, DWHN),
        xr("2024-09-10", 12, DWHN),
        as_of="2024-09-10",
    )
    assert stages(a) == ["formative", "resting", "resting"]


def test_morphology_not_assessed_lowers_confidence_once_and_gives_no_m_sign() -> None:
    """9a.3: a measurement-only import; stages rest on size change (V24)."""
    bare = Morph(None, None, None, None)
    a = assess(
        HADD,
        xr("2024-01-10", 14, bare),
        xr("2024-04-12", 14.5, bare),
        xr("2024-07-15", 9, Morph(Density.MODERATE, None, None, None)),
        as_of="2024-08-01",
    )
    assert stages(a) == ["formative", "resting", "resorptive"]  # H9, H10, H7 (D, no M)
    assert confidences(a) == [0.45, 0.65, 0.55]
    assert a.stages[0].evidence == ("first observation", "morphology not assessed")
    assert a.stages[2].evidence == (
        "size -38% (14.5→9.0 mm)",
        "moderate",
        "morphology not assessed",
    )
    described = assess(HADD, xr("2024-01-10", 14, DWH_), as_of="2024-02-01")
    assert confidences(described) == [0.45]  # pattern missing: -0.05, but assessed
    assert "morphology not assessed" not in described.stages[0].evidence
