"""One observation in the light of the earlier ones: the facts every rule of §2-§4 reads.

`ref(o)` is the latest visible observation before `o`, `prev(o)` the one just before it (§0).
A `Step` is built before its row is matched; a `Staged` is a step with its row, confidence and
evidence. Carried MR stages (H1, O1, G1) live here because all three models share them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from tracker.engine.model import Finding
from tracker.engine.sizes import Change, SizeComparison
from tracker.vocabulary import Course, Entity, Family, Feature, Modality, Stage


@dataclass(frozen=True)
class Model:
    """What the lesion's entity means for staging."""

    entity: Entity
    family: Family
    course: Course
    event_date: date | None


@dataclass(frozen=True)
class Row:
    """The stage row that matched: rule id, stage, base confidence in hundredths."""

    rule: str
    stage: Stage
    base: int
    context: tuple[str, ...] = ()
    carried: bool = False


@dataclass(frozen=True)
class Step:
    """Facts every rule needs about `o`: its predecessors (already staged), ref and change."""

    finding: Finding
    earlier: tuple[Staged, ...]
    model: Model
    ref: Finding | None
    comparison: SizeComparison | None

    @property
    def date(self) -> date:
        return self.finding.date

    @property
    def visible(self) -> bool:
        return self.finding.visible

    @property
    def prev(self) -> Staged | None:
        return self.earlier[-1] if self.earlier else None

    @property
    def prev_stage(self) -> Stage | None:
        return self.earlier[-1].stage if self.earlier else None

    @property
    def seen_before(self) -> bool:
        return self.ref is not None

    @property
    def change(self) -> Change | None:
        """None when not visible; `first` when nothing was seen before."""
        if not self.visible:
            return None
        return self.comparison.change if self.comparison else Change.FIRST

    @property
    def xmod(self) -> bool:
        return self.comparison is not None and self.comparison.xmod

    @property
    def new_bone_lysis(self) -> bool:
        """`bone_lysis` in o and not in ref(o) (G5, any.rapid_progression)."""
        return (
            self.ref is not None
            and Feature.BONE_LYSIS in self.finding.features
            and Feature.BONE_LYSIS not in self.ref.features
        )

    @property
    def not_seen_on_mr_after_seen(self) -> bool:
        """H1/O1/G1: MR is insensitive to calcification; not seeing it is not absence [S1]."""
        return not self.visible and self.finding.modality is Modality.MR and self.seen_before


@dataclass(frozen=True)
class Staged:
    """An observation with its stage call (hundredths) and evidence."""

    step: Step
    row: Row
    confidence: int
    evidence: tuple[str, ...]
    classifications: tuple[tuple[str, str], ...] = ()

    @property
    def finding(self) -> Finding:
        return self.step.finding

    @property
    def date(self) -> date:
        return self.step.finding.date

    @property
    def stage(self) -> Stage:
        return self.row.stage

    @property
    def carried(self) -> bool:
        return self.row.carried


StageRow = Callable[[Step], Row | None]

CARRIED_TEXT = "not seen on MR (insensitive to calcification); stage carried"


def carried_row(rule: str, base: int, step: Step) -> Row | None:
    """H1/O1/G1: keep the previous stage when MR does not show a known calcification."""
    if step.not_seen_on_mr_after_seen and step.prev is not None:
        return Row(rule, step.prev.stage, base, carried=True)
    return None
