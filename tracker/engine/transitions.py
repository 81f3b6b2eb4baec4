"""§2.4 Transitions: one per observation whose stage differs from `prev(o)`'s.

Each carries the new stage's full evidence (9a.13), plus `"unexpected: a→b"` where the model says
the change should not happen. A missed projection (H4b, O4b) makes `resolved` → visible expected:
the negative film, not the lesion, was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from tracker.engine.model import TransitionCall
from tracker.engine.stages.hadd import RESORBED
from tracker.engine.stages.ho import HO_ORDER
from tracker.engine.stages.resolution import is_missed_projection
from tracker.engine.steps import Model, Row, Staged
from tracker.vocabulary import Course, Family, Stage


def unexpected_hadd(from_stage: Stage, to_stage: Stage) -> bool:
    """HADD: forming again after resorption or resolution (resting→formative is allowed)."""
    return to_stage is Stage.FORMATIVE and from_stage in RESORBED


def unexpected_ho(from_stage: Stage, to_stage: Stage) -> bool:
    """HO: a step back in early < intermediate < mature, or seen again after resolution (O4b
    aside, see `is_unexpected`)."""
    if from_stage is Stage.RESOLVED:
        return True
    if from_stage in HO_ORDER and to_stage in HO_ORDER:
        return HO_ORDER.index(to_stage) < HO_ORDER.index(from_stage)
    return False


def unexpected_generic(course: Course, to_stage: Stage) -> bool:
    """Generic: an entity that persists should not regress or resolve."""
    return course is Course.PERSISTS and to_stage in (Stage.REGRESSING, Stage.RESOLVED)


def is_unexpected(model: Model, from_stage: Stage, to: Row) -> bool:
    """By family; `to` is the row of the new stage (a missed projection is expected)."""
    to_stage = to.stage
    if from_stage is Stage.RESOLVED and is_missed_projection(to):
        return False
    if model.family is Family.HADD:
        return unexpected_hadd(from_stage, to_stage)
    if model.family is Family.HO:
        return unexpected_ho(from_stage, to_stage)
    return unexpected_generic(model.course, to_stage)


def transitions(staged: Sequence[Staged]) -> tuple[TransitionCall, ...]:
    """One per stage change, with the new stage's full evidence (9a.13)."""
    out: list[TransitionCall] = []
    for prev, s in pairwise(staged):
        if s.stage is prev.stage:
            continue
        unexpected = is_unexpected(s.step.model, prev.stage, s.row)
        extra = (f"unexpected: {prev.stage.value}→{s.stage.value}",) if unexpected else ()
        out.append(TransitionCall(s.date, prev.stage, s.stage, s.evidence + extra, unexpected))
    return tuple(out)
