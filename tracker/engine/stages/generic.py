"""§2.3 Generic: the expected course of `vocabulary.md`, rows G1-G7.

Reading choice: generic courses other than persists/variable/progresses cannot occur (vocabulary);
were one added, it would follow the `variable` follow-up schedule (§5).
"""

from __future__ import annotations

from tracker.engine.sizes import Change
from tracker.engine.stages.resolution import resolution_rows
from tracker.engine.steps import Model, Row, StageRow, Step, carried_row
from tracker.vocabulary import Course, Family, Stage

# G2c 0.90, G2a 0.75, G2b 0.50, G2r n's final one: stages/resolution.py (as H2).
BASE: dict[str, int] = {"G1": 20, "G3": 20, "G4": 40, "G5": 75, "G6": 75, "G7": 75}
# §2.3: a persisting entity that regresses or resolves (design).
COURSE_MISMATCH_PENALTY = 15
REGRESSED = frozenset({Stage.REGRESSING})


def g1_mr_not_seen(step: Step) -> Row | None:
    """G1: not visible on MR after being seen: stage of prev(o), carried."""
    return carried_row("G1", BASE["G1"], step)


def g3_never_seen(step: Step) -> Row | None:
    """G3: looked for, never seen: nothing to follow yet."""
    if not step.visible:
        return Row("G3", Stage.STABLE, BASE["G3"])
    return None


def g4_first(step: Step) -> Row | None:
    """G4: one image shows no course."""
    if step.change is Change.FIRST:
        return Row("G4", Stage.STABLE, BASE["G4"])
    return None


def g5_progressing(step: Step) -> Row | None:
    """G5: growth, or bone lysis not there before: progressing."""
    if step.change is Change.GROWTH or step.new_bone_lysis:
        return Row("G5", Stage.PROGRESSING, BASE["G5"])
    return None


def g6_regressing(step: Step) -> Row | None:
    """G6: measurable decrease."""
    if step.change is Change.DECREASE:
        return Row("G6", Stage.REGRESSING, BASE["G6"])
    return None


def g7_stable(step: Step) -> Row | None:
    """G7: within measurement noise."""
    return Row("G7", Stage.STABLE, BASE["G7"])


GENERIC_ROWS: tuple[StageRow, ...] = (
    g1_mr_not_seen,
    *resolution_rows("G", REGRESSED),  # G2c, G2r, G2a (gone after regressing), G2b
    g3_never_seen,
    g4_first,
    g5_progressing,
    g6_regressing,
    g7_stable,
)


def course_mismatch(model: Model, stage: Stage) -> bool:
    """§2.3: entities that persist (enthesopathy, CPPD, phleboliths, ...) do not regress [S1]."""
    return (
        model.family is Family.GENERIC
        and model.course is Course.PERSISTS
        and stage in (Stage.REGRESSING, Stage.RESOLVED)
    )
