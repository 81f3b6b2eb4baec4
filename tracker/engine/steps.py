"""One observation in the light of the earlier ones: the facts every rule of §2-§4 reads.

`ref(o)` is the latest visible observation before `o`, `prev(o)` the one just before it, `n` the
first non-MR negative after `ref(o)` (§0, §2.1). A `Step` is built before its row is matched; a
`Staged` is a step with its row, confidence and evidence. The carried MR stage (H1, O1, G1) is
shared by the three models and lives here; the shared resolution rows live in
`stages/resolution.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from tracker.engine.model import Finding, Response, Treatment
from tracker.engine.sizes import Change, SizeComparison
from tracker.vocabulary import (
    Compartment,
    Course,
    Entity,
    EventKind,
    Family,
    Feature,
    Modality,
    Region,
    Resolution,
    Stage,
)


@dataclass(frozen=True, slots=True)
class Model:
    """What the lesion's entity and history mean for staging (the same for every observation)."""

    entity: Entity
    family: Family
    course: Course
    event_date: date | None
    event_kind: EventKind | None = None
    treatments: tuple[Treatment, ...] = ()  # dated <= as_of, by date then vocabulary order
    compartment: Compartment | None = None
    suggested: bool = False  # the entity is the engine's top suggestion, not a given one
    region: Region | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a `resolved` row says: how sure, and the negative §5 counts from (9a.25)."""

    status: Resolution
    on: date


@dataclass(frozen=True, slots=True)
class Row:
    """The stage row that matched: rule id, stage, base confidence in hundredths.

    `notes` are rule notes for the evidence (9a.19); `not_seen_text` replaces `"not seen"`;
    `resolved` is set on a `resolved` stage (§5 reads it); `final` is a confidence taken whole
    from another observation, with no §3 modifier of this one (H2r/O2r/G2r).
    """

    rule: str
    stage: Stage
    base: int
    notes: tuple[str, ...] = ()
    carried: bool = False
    not_seen_text: str | None = None
    resolved: Resolved | None = None
    final: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """Facts every rule needs about `o`: its predecessors (already staged), ref and change."""

    finding: Finding
    earlier: tuple[Staged, ...]
    model: Model
    ref: Finding | None
    comparison: SizeComparison | None
    top: Entity | None = None  # §6 top suggestion from the observations up to o (undiagnosed)

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
    def ref_index(self) -> int | None:
        """Position of ref(o) in `earlier`."""
        for i in range(len(self.earlier) - 1, -1, -1):
            if self.earlier[i].finding.visible:
                return i
        return None

    @property
    def since_ref(self) -> tuple[Staged, ...]:
        """The observations after ref(o) and before o (all of `earlier` when nothing was seen)."""
        i = self.ref_index
        return self.earlier if i is None else self.earlier[i + 1 :]

    @property
    def first_negative(self) -> Staged | None:
        """`n`: the first non-MR not-visible observation after ref(o) and before o (§2.1)."""
        if self.ref is None:
            return None
        return next((s for s in self.since_ref if not_seen_off_mr(s.finding)), None)

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


@dataclass(frozen=True, slots=True)
class Staged:
    """An observation with its stage call (hundredths), evidence and treatment response."""

    step: Step
    row: Row
    confidence: int
    evidence: tuple[str, ...]
    classifications: tuple[tuple[str, str], ...] = ()
    response: Response | None = None

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


def not_seen_off_mr(f: Finding) -> bool:
    """A negative that counts for resolution: looked for on XR, CT or US and not seen."""
    return not f.visible and f.modality is not Modality.MR


def carried_row(rule: str, base: int, step: Step) -> Row | None:
    """H1/O1/G1: keep the previous stage when MR does not show a known calcification."""
    if step.not_seen_on_mr_after_seen and step.prev is not None:
        return Row(rule, step.prev.stage, base, carried=True, resolved=step.prev.row.resolved)
    return None
