"""One observation in the light of the earlier ones: the facts every rule of §2-§4 reads.

`ref(o)` is the latest visible observation before `o`, `prev(o)` the one just before it (§0).
A `Step` is built before its row is matched; a `Staged` is a step with its row, confidence and
evidence. What all three models share lives here: carried MR stages (H1, O1, G1) and the
resolution rows H2c/H2r/H2a/H2b = G2c/G2r/G2a/G2b (§2.1, §2.3, 9a.25).

Reading choice: MR negatives never count as `n` nor confirm an absence (MR is insensitive to
calcification [S1]); a carried MR `resolved` keeps the resolution row it carries (so §5 gives it
`n`'s date).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

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
    Stage,
)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Row:
    """The stage row that matched: rule id, stage, base confidence in hundredths.

    `notes` are rule notes for the evidence (9a.19); `not_seen_text` replaces `"not seen"`;
    `basis` is the resolution row and date that §5 reads for a `resolved` stage (9a.25).
    """

    rule: str
    stage: Stage
    base: int
    notes: tuple[str, ...] = ()
    carried: bool = False
    not_seen_text: str | None = None
    basis: tuple[str, date] | None = None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
        return Row(rule, step.prev.stage, base, carried=True, basis=step.prev.row.basis)
    return None


# --------------------------------------------------------------------------------------------
# Resolution must be confirmed (§2.1 H2c/H2r/H2a/H2b, §2.3 G2c/G2r/G2a/G2b, 9a.25)
# --------------------------------------------------------------------------------------------

# One film can miss a deposit: RECIST confirms a complete response >= 4 weeks later [S12].
CONFIRM_ABSENCE_DAYS = 28
RESOLVED_CONFIRMED = 90  # H2c/G2c
RESOLVED_EXPECTED = 75  # H2a/G2a: resorbing deposits mostly vanish by the next films [S4][S24]
RESOLVED_UNCONFIRMED = 50  # H2b/G2b: resting deposits persist [S25]


def confirmed_absence(prefix: str, step: Step) -> Row | None:
    """H2c/G2c: a second non-MR negative >= 28 days after `n` confirms the absence."""
    n = step.first_negative
    if (
        not_seen_off_mr(step.finding)
        and n is not None
        and step.date >= n.date + timedelta(days=CONFIRM_ABSENCE_DAYS)
    ):
        text = f"absence confirmed (not seen since {n.date.isoformat()})"
        rule = f"{prefix}2c"
        return Row(
            rule, Stage.RESOLVED, RESOLVED_CONFIRMED, not_seen_text=text, basis=(rule, step.date)
        )
    return None


def early_second_negative(prefix: str, step: Step) -> Row | None:
    """H2r/G2r: a negative < 28 days after `n` confirms nothing and keeps `n`'s row (9a.25)."""
    n = step.first_negative
    if not_seen_off_mr(step.finding) and step.prev_stage is Stage.RESOLVED and n is not None:
        return Row(
            f"{prefix}2r",
            Stage.RESOLVED,
            n.row.base,
            not_seen_text="not seen again (< 28 days)",
            basis=n.row.basis,
        )
    return None


def expected_resolution(prefix: str, step: Step, resorbing: frozenset[Stage]) -> Row | None:
    """H2a/G2a: gone after resorption (regression), on the modality it was last seen on."""
    ref = step.ref
    if (
        not_seen_off_mr(step.finding)
        and ref is not None
        and step.prev_stage in resorbing
        and step.finding.modality is ref.modality
    ):
        rule = f"{prefix}2a"
        return Row(rule, Stage.RESOLVED, RESOLVED_EXPECTED, basis=(rule, step.date))
    return None


def unconfirmed_resolution(prefix: str, step: Step) -> Row | None:
    """H2b/G2b: not seen once: resolved, unconfirmed (§5: look again in 3 months)."""
    if not_seen_off_mr(step.finding) and step.seen_before:
        rule = f"{prefix}2b"
        return Row(
            rule,
            Stage.RESOLVED,
            RESOLVED_UNCONFIRMED,
            not_seen_text="not seen once; unconfirmed",
            basis=(rule, step.date),
        )
    return None
