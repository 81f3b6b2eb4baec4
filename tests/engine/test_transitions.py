"""§2.4 Transitions: one per stage change, with the new stage's evidence; unexpected flagged."""

from __future__ import annotations

import pytest

from tracker.engine.transitions import unexpected_generic, unexpected_hadd, unexpected_ho
from tracker.vocabulary import Course, Entity, Stage

from .builders import assess, not_seen, xr
from .morphs import DWHB, FIHC, MIHC, MWHS, Morph

S = Stage


@pytest.mark.parametrize(
    ("before", "after", "unexpected"),
    [
        (S.RESORPTIVE, S.FORMATIVE, True),
        (S.POSTCALCIFIC, S.FORMATIVE, True),
        (S.RESOLVED, S.FORMATIVE, True),
        (S.RESTING, S.FORMATIVE, False),
        (S.RESORPTIVE, S.RESTING, False),
        (S.RESOLVED, S.RESORPTIVE, False),  # H4b
        (S.RESOLVED, S.POSTCALCIFIC, False),  # H4b
        (S.RESOLVED, S.RESTING, False),  # H4b
    ],
)
def test_hadd_only_forming_again_after_resorption_is_unexpected(
    before: Stage, after: Stage, unexpected: bool
) -> None:
    assert unexpected_hadd(before, after) is unexpected


def test_ho_steps_back_and_visible_after_resolution_are_unexpected() -> None:
    assert unexpected_ho(S.HO_MATURE, S.HO_INTERMEDIATE)
    assert unexpected_ho(S.RESOLVED, S.HO_EARLY)
    assert not unexpected_ho(S.HO_EARLY, S.HO_MATURE)


@pytest.mark.parametrize(
    ("morph", "stage"),
    [(FIHC, S.HO_EARLY), (MWHS, S.HO_INTERMEDIATE), (DWHB, S.HO_MATURE)],
)
def test_o4b_resolved_to_any_ho_stage_is_expected_but_not_after_o2c(morph: Morph, stage: S) -> None:
    """§2.4 (revision 3): after an unconfirmed negative the film missed it; after a confirmed
    one the ossification is back, which HO does not do."""
    first, back = xr("2024-02-01", 20, morph), xr("2024-06-01", 20, morph)
    o2b = assess(Entity.HO, first, not_seen("2024-04-01"), back, as_of="2024-06-01")
    o2c = assess(
        Entity.HO, first, not_seen("2024-04-01"), not_seen("2024-05-01"), back, as_of="2024-06-01"
    )
    assert (o2b.stages[-1].rule, o2b.stages[-1].stage) == ("O4b", stage)
    assert o2c.stages[-1].stage is stage and o2c.stages[-1].rule != "O4b"  # O4-O7 as usual
    assert [(t.from_stage, t.unexpected) for t in o2b.transitions][-1] == (S.RESOLVED, False)
    assert [(t.from_stage, t.unexpected) for t in o2c.transitions][-1] == (S.RESOLVED, True)
    assert o2c.transitions[-1].evidence[-1] == f"unexpected: resolved→{stage.value}"


def test_generic_persisting_entity_should_not_regress_or_resolve() -> None:
    assert unexpected_generic(Course.PERSISTS, S.REGRESSING)
    assert unexpected_generic(Course.PERSISTS, S.RESOLVED)
    assert not unexpected_generic(Course.VARIABLE, S.REGRESSING)


def test_transition_carries_the_new_stages_evidence_plus_the_unexpected_note() -> None:
    a = assess(
        Entity.HADD,
        xr("2024-01-10", 9),
        not_seen("2024-03-10"),
        xr("2024-05-10", 6, MIHC),  # H4b: resorptive, allowed
        as_of="2024-06-01",
    )
    last = a.transitions[-1]
    assert (last.from_stage, last.to_stage, last.unexpected) == (S.RESOLVED, S.RESORPTIVE, False)
    assert last.evidence == a.stages[-1].evidence
