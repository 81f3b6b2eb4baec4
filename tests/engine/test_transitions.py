"""§2.4 Transitions: one per stage change, with the new stage's evidence; unexpected flagged."""

from __future__ import annotations

import pytest

from tracker.engine.transitions import unexpected_generic, unexpected_hadd, unexpected_ho
from tracker.vocabulary import Course, Entity, Stage

from .builders import MIHC, assess, not_seen, xr

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
