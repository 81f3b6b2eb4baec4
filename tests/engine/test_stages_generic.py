"""§2.3 generic course model: rows G1-G7, course mismatch, transitions and follow-up by course."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracker.engine import Finding, Resolution
from tracker.vocabulary import Compartment, Entity, Feature, Modality, Region

from .builders import D, assess, confidences, not_seen, stages, xr
from .morphs import DWHB, DWHN, MIHC

CPPD = Entity.CPPD  # persists


def test_g3_never_seen_then_g4_first_observation() -> None:
    a = assess(CPPD, not_seen("2024-01-10"), xr("2024-02-10", 6), as_of="2024-02-10")
    assert stages(a) == ["stable", "stable"]
    assert confidences(a) == [0.20, 0.40]


def test_g5_new_bone_lysis_is_progression_even_without_growth() -> None:
    a = assess(
        Entity.GOUT,
        xr("2024-01-10", 10, MIHC),
        xr("2024-09-10", 10, MIHC, Feature.BONE_LYSIS),
        region=Region.FOOT,
        as_of="2024-09-10",
    )
    assert stages(a) == ["stable", "progressing"]
    assert a.stages[1].evidence[-1] == "new bone lysis"
    assert a.next_follow_up == D("2024-12-10")  # variable: progressing +3 months


def test_bone_lysis_already_there_is_not_new() -> None:
    a = assess(
        Entity.GOUT,
        xr("2024-01-10", 10, MIHC, Feature.BONE_LYSIS),
        xr("2024-09-10", 10, MIHC, Feature.BONE_LYSIS),
        as_of="2024-09-10",
    )
    assert stages(a) == ["stable", "stable"]


def test_persisting_entity_that_regresses_is_penalised_and_flagged() -> None:
    """Chondrocalcinosis does not melt away: a decrease is more likely measurement than biology."""
    a = assess(CPPD, xr("2024-01-10", 10, DWHN), xr("2024-07-10", 7, DWHN), as_of="2024-07-10")
    assert stages(a) == ["stable", "regressing"]
    assert a.stages[1].confidence == 0.60  # 0.75 - 0.15
    assert a.stages[1].evidence[-1] == "unexpected for cppd"
    assert a.transitions[0].unexpected
    assert a.transitions[0].evidence[-1] == "unexpected: stable→regressing"
    assert a.next_follow_up == D("2025-01-10")  # persists: regressing +6 months


def test_persisting_entity_not_seen_is_resolved_with_penalty_and_carried_mr_too() -> None:
    """9a.6: the mismatch penalty applies to carried stages as well; the floor is 0.05."""
    a = assess(
        CPPD,
        xr("2024-01-10", 10, DWHN),
        not_seen("2024-07-10"),
        not_seen("2025-09-10", Modality.MR),
        as_of="2025-09-10",
    )
    assert stages(a) == ["stable", "resolved", "resolved"]
    # G2b 0.50 - 0.15 mismatch; G1 0.20 - 0.10 gap - 0.15 mismatch, floored
    assert confidences(a) == [0.40, 0.35, 0.05]
    assert a.stages[2].evidence == (
        "not seen on MR (insensitive to calcification); stage carried",
        "14 months since previous observation",
        "unexpected for cppd",
    )


def test_variable_course_may_regress_without_penalty() -> None:
    a = assess(
        Entity.GOUT, xr("2024-01-10", 10, DWHN), xr("2024-07-10", 7, DWHN), as_of="2024-07-10"
    )
    assert confidences(a) == [0.40, 0.75]
    assert not a.transitions[0].unexpected


def test_crowned_dens_stays_generic() -> None:
    a = assess(Entity.CROWNED_DENS, xr("2024-01-10", 6, DWHN), as_of="2024-01-10")
    assert a.family.value == "generic"
    assert a.next_follow_up == D("2024-07-10")  # variable: stable +6 months


@pytest.mark.parametrize(
    ("entity", "second", "due"),
    [
        (Entity.ENTHESOPATHY, 10, None),  # persists, stable
        (Entity.ENTHESOPATHY, 14, "2025-04-10"),  # persists, progressing +12 months
        (Entity.GOUT, 10, "2024-10-10"),  # variable, stable +6 months
        (Entity.GOUT, 7, "2024-10-10"),  # variable, regressing +6 months
        (Entity.SOFT_TISSUE_TUMOR, 10, "2024-07-10"),  # progresses: +3 months whatever
        (Entity.SOFT_TISSUE_TUMOR, 7, "2024-07-10"),
    ],
)
def test_generic_follow_up_by_course(entity: Entity, second: float, due: str | None) -> None:
    a = assess(
        entity, xr("2024-01-10", 10, DWHB), xr("2024-04-10", second, DWHB), as_of="2024-04-10"
    )
    assert a.next_follow_up == (None if due is None else D(due))


def test_g2b_unconfirmed_resolution_is_looked_at_again_in_three_months_any_course() -> None:
    a = assess(
        Entity.SOFT_TISSUE_TUMOR, xr("2024-01-10", 10), not_seen("2024-04-10"), as_of="2024-05-01"
    )
    assert [s.rule for s in a.stages] == ["G4", "G2b"]
    assert a.stages[1].confidence == 0.50
    assert a.stages[1].evidence == ("not seen once; unconfirmed",)
    assert a.next_follow_up == D("2024-07-10")


def test_g2c_confirmed_resolution_has_no_follow_up() -> None:
    a = assess(
        Entity.SOFT_TISSUE_TUMOR,
        xr("2024-01-10", 10),
        not_seen("2024-04-10"),
        not_seen("2024-05-08"),  # exactly 28 days later
        as_of="2024-06-01",
    )
    assert [s.rule for s in a.stages] == ["G4", "G2b", "G2c"]
    assert a.stages[2].confidence == 0.90
    assert a.stages[2].evidence == ("absence confirmed (not seen since 2024-04-10)",)
    assert a.stages[2].resolution is Resolution.CONFIRMED
    assert a.next_follow_up is None


def test_g2a_gone_after_regressing_on_the_same_modality() -> None:
    findings = (xr("2024-01-10", 10), xr("2024-04-10", 6), not_seen("2024-07-10"))
    a = assess(Entity.TUMORAL_CALCINOSIS, *findings, as_of="2024-08-01")
    assert stages(a) == ["stable", "regressing", "resolved"]
    assert a.stages[2].rule == "G2a" and a.stages[2].confidence == 0.75
    assert a.stages[2].resolution is Resolution.EXPECTED
    assert a.next_follow_up is None
    other_modality = (*findings[:2], not_seen("2024-07-10", Modality.US))
    b = assess(Entity.TUMORAL_CALCINOSIS, *other_modality, as_of="2024-08-01")
    assert b.stages[2].rule == "G2b" and b.next_follow_up == D("2024-10-10")


def test_g2r_early_second_negative_keeps_the_first_ones_row() -> None:
    findings = (
        xr("2024-01-10", 10),
        not_seen("2024-04-10"),
        not_seen("2024-05-07"),  # 27 days
    )
    a = assess(Entity.TUMORAL_CALCINOSIS, *findings, as_of="2024-06-01")
    assert [s.rule for s in a.stages] == ["G4", "G2b", "G2r"]
    assert a.stages[2].confidence == 0.50
    assert a.stages[2].evidence == ("not seen again (< 28 days)",)
    assert a.next_follow_up == D("2024-07-10")  # n's date: the early film postpones nothing


@pytest.mark.parametrize(
    ("first", "n", "confidence"),
    [
        ("2024-01-10", "2024-04-10", 0.35),  # G2b 0.50 - 0.15 mismatch
        ("2023-01-10", "2024-04-10", 0.25),  # and - 0.10: 15 months since the film
    ],
)
def test_g2r_carries_n_final_confidence_course_mismatch_counted_once(
    first: str, n: str, confidence: float
) -> None:
    """Revision 3: chondrocalcinosis not seen twice within 27 days: G2r = G2b's final value,
    not its base again, nor the mismatch taken twice."""
    second = D(n) + timedelta(days=27)
    a = assess(CPPD, xr(first, 10), not_seen(n), not_seen(second), as_of=second)
    assert [s.rule for s in a.stages] == ["G4", "G2b", "G2r"]
    assert confidences(a)[1:] == [confidence, confidence]
    assert a.stages[2].evidence[-1] == "unexpected for cppd"
    assert a.stages[2].resolution is Resolution.UNCONFIRMED


def test_given_entity_outside_the_compartment_decides_the_model() -> None:
    """9a.22: compartments can be mis-assigned; the entity decides."""
    findings: tuple[Finding, ...] = (xr("2024-01-10", 10), xr("2024-04-10", 10))
    a = assess(Entity.HADD, *findings, compartment=Compartment.VASCULAR, as_of="2024-04-10")
    assert stages(a) == ["formative", "resting"]
    assert a.suggestions[0].why[0] == "vascular"
