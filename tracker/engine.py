"""Stage inference. Pure: one lesion's findings and a date in, a LesionAssessment out.

Imports only the standard library, `tracker.vocabulary` and `tracker.clinical_constants` (every
number lives there). Never calls `date.today()`: `as_of` is a parameter, so the same facts always
give the same assessment. Rule ids are those of `shared/spec/clinical-rules.md` (H1-H12, O1-O7,
G1-G7, `hadd.no_resolution`, ...); search for one to find the function or table entry that is it.

How a lesion is read
--------------------
* §0 Observations are sorted by date. A stage depends only on its observation and the earlier
  ones; alerts and `next_follow_up` use only observations dated on or before `as_of`.
  `L(o)` is the longest diameter `size_mm[0]`; `ref(o)` the latest *visible* observation before
  `o`; `prev(o)` the observation just before it; `xmod(o)`: `ref(o)` is another modality.
  Sizes are compared as exact decimals, thresholds inclusive; confidences are summed in integer
  hundredths and clamped to [0.05, 0.95]; percentages round half up.
* §1 A change needs both >= 2 mm and >= 20 % (another modality: 4 mm and 40 %).
* §2 The entity (given, else the top suggestion of §6) picks the stage model: the Uhthoff cycle
  for hydroxyapatite (rows H1-H12 with signs M, F, D), zonal maturation for heterotopic
  ossification (O1-O7 plus the event-window term), or the generic course model (G1-G7). The first
  matching row wins. A calcification not seen on MR is not absent: MR stages are carried.
* §3 Confidence = base + HO window + modifiers (cross-modality, > 12-month gap, missing texture
  or pattern, course mismatch). Evidence lists the change, then morphology codes in field order,
  then context.
* §4 Alerts: walk the observations up to `as_of`; at each, clear open alerts, then fire.
* §5 `next_follow_up` from the latest observation, capped at one month by an open urgent alert.
* §6 Entity suggestions: compartment prior + cues, top 3, always output.
* §7 Gärtner-Heyer, SFA/Molé and Bosworth are reported, never used for staging; Brooker never.

Choices where the rules leave room (a musculoskeletal radiologist's reading)
----------------------------------------------------------------------------
1.  Sign D's run peak is the largest `L` on the *same modality as o* among the unbroken
    formative/resting observations just before `o`; carried MR stages neither break the run nor
    add a size (9a.17). `"-N% from peak (p→b mm)"` follows the change string only when the peak,
    not the change, shows the decrease (9a.19).
2.  Evidence context order: `"resorption stalled"` (H12), the cross-modality note, the gap note,
    `"N days after event"` (any family with an event date, 9a.19), `"new bone lysis"` (any family,
    whenever `bone_lysis` is in `o` and not in `ref(o)`), `"unexpected for <entity code>"`.
3.  A not-visible observation lists its features (the format allows them, 9a.15) after `"not seen"`.
4.  The gap modifier (-0.10) applies to every observation with a `prev(o)`, visible or not,
    carried included; cross-modality only where sizes are compared (9a.4).
5.  Carried observations (H1, O1, G1) neither trigger nor clear any alert (§4), not even with
    new `bone_lysis` recorded on them: 9a.15 lets features on a *not-visible* observation count,
    but §4 excludes carried ones explicitly, so only a non-MR not-seen finding can fire
    `any.rapid_progression` through new lysis.
6.  `ho.atypical` "maturity fell" compares a visible HO stage with the highest stage reached by
    an earlier *visible* observation on the same modality (a carried stage was never seen).
    Where several atypical signs are present the reason names the first in template order:
    central mineralisation, growth after maturity, maturity fell. Central mineralisation counts
    on any observation that is not carried.
7.  `any.rapid_progression` measures `{d}` from `ref(o)` to `o`; percentages in reasons are of
    `L(ref(o))`. The HADD spreading-deposit exemption cancels only the growth part (9a.14).
8.  An alert already open keeps its `since`; a later observation meeting its trigger again
    refreshes the reason (9a.1). `follow_up_overdue` names the latest observation's stage.
9.  `next_follow_up` from a carried (MR not-seen) latest observation uses the carried stage.
10. Generic courses other than persists/variable/progresses cannot occur (vocabulary); were one
    added, it would follow the `variable` schedule.
11. Classifications follow the family actually used (also when the entity was suggested).
12. The prior follows the compartment's suggestion order of vocabulary.md (`SUGGESTION_ORDER`;
    it differs from the entity table for soft tissue and vascular); ties are broken by
    "vocabulary order" read literally, the order of vocabulary.md's entity table, as features
    are. A tie is where a cue lifts a rarer entity level with the prior of a commoner one
    (a linear vascular calcification ties phlebolith, prior only, with medial arterial
    calcification, prior + `linear`; arterial is the right reading of a linear vessel wall,
    phleboliths are round). `why` lists the compartment, then the matching cues in
    the order of §6's table. Empty input gives no stages and the compartment's first entity.
13. Input the rules cannot read raises ValueError: two findings on one date, a visible finding
    without a size, a non-positive size, or a first size that is not the largest (9a.22).
14. Unreachable by construction, but typed: a visible HADD observation that no row matches
    would be `resting` by H10; the fallback is named `H10` so that nothing is silent.
15. The first matching row wins literally: a deposit back after `resolved` is `formative` (H4)
    even with resorptive morphology, and a first image with M or F is `resorptive` (H5).
16. The first visible observation after only not-seen ones reads `"first observation"`; size
    percentages are of `L(ref(o))`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any, Literal

from tracker import clinical_constants as K
from tracker.vocabulary import (
    ENTITIES,
    SEVERITY_RANK,
    AlertKind,
    Compartment,
    Course,
    Density,
    Entity,
    Family,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Severity,
    Stage,
    Texture,
    entities_of,
)

ENGINE_VERSION = "2026.11.3"

# --------------------------------------------------------------------------------------------
# Public facts and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One observation of the lesion on one date."""

    date: date
    modality: Modality
    visible: bool = True
    size_mm: tuple[float, ...] = ()
    density: Density | None = None
    margin: Margin | None = None
    texture: Texture | None = None
    pattern: Pattern | None = None
    features: tuple[Feature, ...] = ()
    pain: int | None = None


@dataclass(frozen=True)
class LesionFacts:
    """One lesion as the engine sees it: a service builds it from rows, never the engine."""

    compartment: Compartment
    region: Region
    entity: Entity | None
    event_date: date | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class StageCall:
    """The stage of one observation, with the evidence a clinician can check it against."""

    date: date
    stage: Stage
    confidence: float
    evidence: tuple[str, ...]
    classifications: tuple[tuple[str, str], ...] = ()
    rule: str = ""  # the stage row that decided (e.g. "H11"); extra, for audit


@dataclass(frozen=True)
class TransitionCall:
    """A stage change; `unexpected` where the entity's course says it should not happen."""

    date: date
    from_stage: Stage
    to_stage: Stage
    evidence: tuple[str, ...]
    unexpected: bool


@dataclass(frozen=True)
class AlertCall:
    """An alert open on `as_of`; `since` is the observation that first triggered it."""

    kind: AlertKind
    severity: Severity
    since: date
    reason: str
    rule: str


@dataclass(frozen=True)
class Suggestion:
    """A candidate entity; `why` names the compartment and the cues that matched."""

    entity: Entity
    score: float
    why: tuple[str, ...]


@dataclass(frozen=True)
class LesionAssessment:
    """Everything the engine says about one lesion as of a date; stored with its version."""

    entity: Entity
    entity_source: Literal["given", "suggested"]
    family: Family
    suggestions: tuple[Suggestion, ...]
    stages: tuple[StageCall, ...]
    transitions: tuple[TransitionCall, ...]
    alerts: tuple[AlertCall, ...]
    next_follow_up: date | None
    engine_version: str = ENGINE_VERSION


# --------------------------------------------------------------------------------------------
# §0 Conventions
# --------------------------------------------------------------------------------------------


def add_months(d: date, n: int) -> date:
    """Same day number n months later, clamped to the month's end (01-31 + 1 = 02-29)."""
    months = d.year * 12 + (d.month - 1) + n
    year, month = divmod(months, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last_day))


def months_between(a: date, b: date) -> int:
    """Largest n with add_months(a, n) <= b: whole months as a clinician counts them."""
    n = (b.year - a.year) * 12 + (b.month - a.month)
    return n - 1 if add_months(a, n) > b else n


def decimal_mm(x: float) -> Decimal:
    """Sizes compare as the decimals that were typed, not as binary floats."""
    return Decimal(str(x))


def percent_half_up(part: Decimal, whole: Decimal) -> int:
    """|part| as a whole percentage of whole, rounded half up (35.5 % reads 36 %)."""
    return int((abs(part) * 100 / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_mm(x: Decimal) -> str:
    """One decimal, as in evidence and reasons (9a.20): 12.5, 7.0."""
    return str(x.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def clamp_confidence(hundredths: int) -> int:
    """A stage is never certain nor worthless: [0.05, 0.95]."""
    return max(K.CONFIDENCE_MIN, min(K.CONFIDENCE_MAX, hundredths))


def _longest(f: Finding) -> Decimal:
    return decimal_mm(f.size_mm[0])


# --------------------------------------------------------------------------------------------
# §1 Size comparison
# --------------------------------------------------------------------------------------------


class Change(StrEnum):
    FIRST = "first"
    GROWTH = "growth"
    DECREASE = "decrease"
    STABLE = "stable"


@dataclass(frozen=True)
class SizeComparison:
    """L(ref(o)) against L(o); `a`, `b` as in §1."""

    ref: Finding
    a: Decimal
    b: Decimal
    xmod: bool
    change: Change

    @property
    def percent(self) -> int:
        return percent_half_up(self.b - self.a, self.a)

    def text(self) -> str:
        sizes = f"({format_mm(self.a)}→{format_mm(self.b)} mm)"
        if self.change is Change.GROWTH:
            return f"size +{self.percent}% {sizes}"
        if self.change is Change.DECREASE:
            return f"size -{self.percent}% {sizes}"
        return f"size stable {sizes}"


def exceeds(delta: Decimal, base: Decimal, min_mm: Decimal, min_fraction: Decimal) -> bool:
    """Both floors, inclusive: a change is real only when it is large in mm and in percent."""
    return delta >= min_mm and delta >= min_fraction * base


def compare_sizes(ref: Finding, o: Finding) -> SizeComparison:
    """§1: growth/decrease need >= 2 mm and >= 20 % (xmod: 4 mm and 40 %), else stable."""
    a, b = _longest(ref), _longest(o)
    xmod = ref.modality is not o.modality
    mm = K.XMOD_SIZE_CHANGE_MM if xmod else K.SIZE_CHANGE_MM
    fraction = K.XMOD_SIZE_CHANGE_FRACTION if xmod else K.SIZE_CHANGE_FRACTION
    if exceeds(b - a, a, mm, fraction):
        change = Change.GROWTH
    elif exceeds(a - b, a, mm, fraction):
        change = Change.DECREASE
    else:
        change = Change.STABLE
    return SizeComparison(ref=ref, a=a, b=b, xmod=xmod, change=change)


# --------------------------------------------------------------------------------------------
# One observation in the light of the earlier ones
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """What the lesion's entity means for staging."""

    entity: Entity
    family: Family
    course: Course
    event_date: date | None


@dataclass(frozen=True)
class _Row:
    """The stage row that matched: rule id, stage, base confidence in hundredths."""

    rule: str
    stage: Stage
    base: int
    context: tuple[str, ...] = ()
    carried: bool = False


@dataclass(frozen=True)
class _Step:
    """Facts every rule needs about `o`: its predecessors (already staged), ref and change."""

    finding: Finding
    earlier: tuple[_Staged, ...]
    model: _Model
    ref: Finding | None
    comparison: SizeComparison | None

    @property
    def date(self) -> date:
        return self.finding.date

    @property
    def visible(self) -> bool:
        return self.finding.visible

    @property
    def prev(self) -> _Staged | None:
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
class _Staged:
    """An observation with its stage call (hundredths) and evidence."""

    step: _Step
    row: _Row
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


StageRow = Callable[[_Step], _Row | None]

_CARRIED_TEXT = "not seen on MR (insensitive to calcification); stage carried"


def _carried(rule: str, step: _Step) -> _Row | None:
    """H1/O1/G1: keep the previous stage when MR does not show a known calcification."""
    if step.not_seen_on_mr_after_seen and step.prev is not None:
        return _Row(rule, step.prev.stage, K.STAGE_BASE[rule], carried=True)
    return None


# --------------------------------------------------------------------------------------------
# §2.1 HADD: Uhthoff cycle [S1][S2]
# --------------------------------------------------------------------------------------------

_RUN_STAGES = frozenset({Stage.FORMATIVE, Stage.RESTING})
_AFTER_RESORPTION = frozenset({Stage.RESORPTIVE, Stage.POSTCALCIFIC})
_RESORBED = frozenset({Stage.RESORPTIVE, Stage.POSTCALCIFIC, Stage.RESOLVED})
_SPREADING = frozenset({Feature.COMET_TAIL, Feature.INTRABURSAL_MIGRATION})


@dataclass(frozen=True)
class HaddSigns:
    """Signs M, F, D of a visible observation; `peak` set when only the run peak shows D."""

    m: bool
    f: bool
    d: bool
    peak: Decimal | None = None

    @property
    def groups(self) -> int:
        return int(self.m) + int(self.f) + int(self.d)


def sign_m(f: Finding) -> bool:
    """M, morphology of resorption: faint, ill defined or cloud-like [S1][S5]."""
    return (
        f.density is Density.FAINT or f.margin is Margin.ILL_DEFINED or f.pattern is Pattern.CLOUD
    )


def sign_f(f: Finding) -> bool:
    """F, a deposit on the move: comet tail, bursal migration, bone extension [S1][S23]."""
    return bool(
        {Feature.COMET_TAIL, Feature.INTRABURSAL_MIGRATION, Feature.INTRAOSSEOUS_EXTENSION}
        & set(f.features)
    )


def run_peak(step: _Step) -> Decimal | None:
    """Largest L on o's modality in the unbroken formative/resting run just before o (sign D).

    Carried MR observations keep the run going but add no size (9a.17).
    """
    peak: Decimal | None = None
    for s in reversed(step.earlier):
        if s.stage not in _RUN_STAGES:
            break
        f = s.finding
        if f.visible and f.size_mm and f.modality is step.finding.modality:
            size = _longest(f)
            peak = size if peak is None or size > peak else peak
    return peak


def sign_d(step: _Step) -> tuple[bool, Decimal | None]:
    """D: a decrease, or >= 2 mm and >= 20 % below the run peak (catches slow shrinkage)."""
    if step.change is Change.DECREASE:
        return True, None
    peak = run_peak(step)
    b = _longest(step.finding)
    if peak is not None and exceeds(peak - b, peak, K.SIZE_CHANGE_MM, K.SIZE_CHANGE_FRACTION):
        return True, peak
    return False, None


def hadd_signs(step: _Step) -> HaddSigns:
    if not step.visible:
        return HaddSigns(False, False, False)
    d, peak = sign_d(step)
    return HaddSigns(m=sign_m(step.finding), f=sign_f(step.finding), d=d, peak=peak)


def _h1_mr_not_seen(step: _Step) -> _Row | None:
    """H1: not visible on MR after being seen: stage of prev(o), carried."""
    return _carried("H1", step)


def _h2_resolved(step: _Step) -> _Row | None:
    """H2: not visible after being seen: the deposit has resorbed."""
    if not step.visible and step.seen_before:
        return _Row("H2", Stage.RESOLVED, K.STAGE_BASE["H2"])
    return None


def _h3_precalcific(step: _Step) -> _Row | None:
    """H3: looked for and never seen: fibrocartilaginous metaplasia, no calcium yet."""
    if not step.visible:
        return _Row("H3", Stage.PRECALCIFIC, K.STAGE_BASE["H3"])
    return None


def _h4_recurrence(step: _Step) -> _Row | None:
    """H4: visible again after resolution: a new deposit forms."""
    if step.prev_stage is Stage.RESOLVED:
        return _Row("H4", Stage.FORMATIVE, K.STAGE_BASE["H4"])
    return None


def _h5_resorptive_signs(step: _Step) -> _Row | None:
    """H5: M or F means resorption; each further sign group (M, F, D) adds 0.10."""
    signs = hadd_signs(step)
    if signs.m or signs.f:
        base = K.STAGE_BASE["H5"] + K.H5_FURTHER_SIGN_GROUP * (signs.groups - 1)
        return _Row("H5", Stage.RESORPTIVE, base)
    return None


def _h6_small_residue(step: _Step) -> _Row | None:
    """H6: shrinking to <= 5 mm without resorptive morphology is the post-calcific residue."""
    if hadd_signs(step).d and _longest(step.finding) <= K.POSTCALCIFIC_MAX_MM:
        return _Row("H6", Stage.POSTCALCIFIC, K.STAGE_BASE["H6"])
    return None


def _h7_shrinking(step: _Step) -> _Row | None:
    """H7: shrinking, still larger than a residue: resorption under way."""
    if hadd_signs(step).d:
        return _Row("H7", Stage.RESORPTIVE, K.STAGE_BASE["H7"])
    return None


def _h8_growth(step: _Step) -> _Row | None:
    """H8: growth is formation; less sure right after resorption (regrowth is unusual)."""
    if step.change is Change.GROWTH:
        if step.prev_stage in _AFTER_RESORPTION:
            return _Row("H8", Stage.FORMATIVE, K.STAGE_BASE["H8.after_resorption"])
        return _Row("H8", Stage.FORMATIVE, K.STAGE_BASE["H8"])
    return None


def _h9_first(step: _Step) -> _Row | None:
    """H9: a first image cannot tell formative from resting; only a later stable one shows rest."""
    if step.change is Change.FIRST:
        return _Row("H9", Stage.FORMATIVE, K.STAGE_BASE["H9"])
    return None


def _h10_resting(step: _Step) -> _Row | None:
    """H10: unchanged after formation: the resting phase."""
    if step.change is Change.STABLE and step.prev_stage in _RUN_STAGES:
        return _Row("H10", Stage.RESTING, K.STAGE_BASE["H10"])
    return None


def _h11_postcalcific(step: _Step) -> _Row | None:
    """H11: unchanged after post-calcific, or after resorption down to <= 5 mm: residue."""
    if step.change is not Change.STABLE:
        return None
    small = _longest(step.finding) <= K.POSTCALCIFIC_MAX_MM
    if step.prev_stage is Stage.POSTCALCIFIC or (step.prev_stage is Stage.RESORPTIVE and small):
        return _Row("H11", Stage.POSTCALCIFIC, K.STAGE_BASE["H11"])
    return None


def _h12_resorption_stalled(step: _Step) -> _Row | None:
    """H12: unchanged after resorption and still > 5 mm: resorption stalled, deposit rests."""
    if (
        step.change is Change.STABLE
        and step.prev_stage is Stage.RESORPTIVE
        and _longest(step.finding) > K.POSTCALCIFIC_MAX_MM
    ):
        return _Row("H12", Stage.RESTING, K.STAGE_BASE["H12"], context=("resorption stalled",))
    return None


def _h10_fallback(step: _Step) -> _Row | None:
    """Unreachable (rows H4-H12 cover every visible case); typed so nothing is silent."""
    return _Row("H10", Stage.RESTING, K.STAGE_BASE["H10"])


HADD_ROWS: tuple[StageRow, ...] = (
    _h1_mr_not_seen,
    _h2_resolved,
    _h3_precalcific,
    _h4_recurrence,
    _h5_resorptive_signs,
    _h6_small_residue,
    _h7_shrinking,
    _h8_growth,
    _h9_first,
    _h10_resting,
    _h11_postcalcific,
    _h12_resorption_stalled,
    _h10_fallback,
)


# --------------------------------------------------------------------------------------------
# §2.2 HO: zonal maturation [S13]-[S16]
# --------------------------------------------------------------------------------------------

HO_ORDER: tuple[Stage, ...] = (Stage.HO_EARLY, Stage.HO_INTERMEDIATE, Stage.HO_MATURE)


def _o1_mr_not_seen(step: _Step) -> _Row | None:
    """O1: not visible on MR after being seen: stage of prev(o), carried."""
    return _carried("O1", step)


def _o2_resolved(step: _Step) -> _Row | None:
    """O2: no longer seen after being seen."""
    if not step.visible and step.seen_before:
        return _Row("O2", Stage.RESOLVED, K.STAGE_BASE["O2"])
    return None


def _o3_not_yet_mineralised(step: _Step) -> _Row | None:
    """O3: films are normal (or show only a mass) for the first 1-2 weeks."""
    if not step.visible:
        return _Row("O3", Stage.HO_EARLY, K.STAGE_BASE["O3"])
    return None


def _o4_organised_bone(step: _Step) -> _Row | None:
    """O4: cortex and medulla, or trabecular organisation: mature bone."""
    f = step.finding
    if f.pattern is Pattern.BONE or Feature.BONE_ORGANIZATION in f.features:
        return _Row("O4", Stage.HO_MATURE, K.STAGE_BASE["O4"])
    return None


def _o5_zoning(step: _Step) -> _Row | None:
    """O5: a mature periphery (zonal pattern or shell) appears at 5-8 weeks."""
    f = step.finding
    if Feature.ZONAL_PERIPHERAL in f.features or f.pattern is Pattern.SHELL:
        return _Row("O5", Stage.HO_INTERMEDIATE, K.STAGE_BASE["O5"])
    return None


def _o6_consolidating(step: _Step) -> _Row | None:
    """O6: moderate or dense and well defined, without zoning: probably intermediate."""
    f = step.finding
    if f.density in (Density.MODERATE, Density.DENSE) and f.margin is Margin.WELL_DEFINED:
        return _Row("O6", Stage.HO_INTERMEDIATE, K.STAGE_BASE["O6"])
    return None


def _o7_flocculent(step: _Step) -> _Row | None:
    """O7: faint flocculent mineral (3-4 weeks): early."""
    return _Row("O7", Stage.HO_EARLY, K.STAGE_BASE["O7"])


HO_ROWS: tuple[StageRow, ...] = (
    _o1_mr_not_seen,
    _o2_resolved,
    _o3_not_yet_mineralised,
    _o4_organised_bone,
    _o5_zoning,
    _o6_consolidating,
    _o7_flocculent,
)


def in_ho_window(stage: Stage, on: date, event_date: date) -> bool:
    """§2.2 stage windows after the event (overlapping on purpose)."""
    t = (on - event_date).days
    if stage is Stage.HO_EARLY:
        return t < K.HO_EARLY_BEFORE_DAYS
    if stage is Stage.HO_INTERMEDIATE:
        return t >= K.HO_INTERMEDIATE_FROM_DAYS and on <= add_months(
            event_date, K.HO_INTERMEDIATE_UNTIL_MONTHS
        )
    return t >= K.HO_MATURE_FROM_DAYS


def ho_window_term(step: _Step, stage: Stage) -> int:
    """§2.2: +0.10 when the stage fits the time since the event, else -0.10 (not resolved)."""
    event = step.model.event_date
    if step.model.family is not Family.HO or event is None or stage not in HO_ORDER:
        return 0
    return K.HO_WINDOW_TERM if in_ho_window(stage, step.date, event) else -K.HO_WINDOW_TERM


# --------------------------------------------------------------------------------------------
# §2.3 Generic: expected course
# --------------------------------------------------------------------------------------------


def _g1_mr_not_seen(step: _Step) -> _Row | None:
    """G1: not visible on MR after being seen: stage of prev(o), carried."""
    return _carried("G1", step)


def _g2_resolved(step: _Step) -> _Row | None:
    """G2: no longer seen after being seen."""
    if not step.visible and step.seen_before:
        return _Row("G2", Stage.RESOLVED, K.STAGE_BASE["G2"])
    return None


def _g3_never_seen(step: _Step) -> _Row | None:
    """G3: looked for, never seen: nothing to follow yet."""
    if not step.visible:
        return _Row("G3", Stage.STABLE, K.STAGE_BASE["G3"])
    return None


def _g4_first(step: _Step) -> _Row | None:
    """G4: one image shows no course."""
    if step.change is Change.FIRST:
        return _Row("G4", Stage.STABLE, K.STAGE_BASE["G4"])
    return None


def _g5_progressing(step: _Step) -> _Row | None:
    """G5: growth, or bone lysis not there before: progressing."""
    if step.change is Change.GROWTH or step.new_bone_lysis:
        return _Row("G5", Stage.PROGRESSING, K.STAGE_BASE["G5"])
    return None


def _g6_regressing(step: _Step) -> _Row | None:
    """G6: measurable decrease."""
    if step.change is Change.DECREASE:
        return _Row("G6", Stage.REGRESSING, K.STAGE_BASE["G6"])
    return None


def _g7_stable(step: _Step) -> _Row | None:
    """G7: within measurement noise."""
    return _Row("G7", Stage.STABLE, K.STAGE_BASE["G7"])


GENERIC_ROWS: tuple[StageRow, ...] = (
    _g1_mr_not_seen,
    _g2_resolved,
    _g3_never_seen,
    _g4_first,
    _g5_progressing,
    _g6_regressing,
    _g7_stable,
)

ROWS_OF: dict[Family, tuple[StageRow, ...]] = {
    Family.HADD: HADD_ROWS,
    Family.HO: HO_ROWS,
    Family.GENERIC: GENERIC_ROWS,
}


def course_mismatch(model: _Model, stage: Stage) -> bool:
    """§2.3: entities that persist (enthesopathy, CPPD, phleboliths, ...) do not regress [S1]."""
    return (
        model.family is Family.GENERIC
        and model.course is Course.PERSISTS
        and stage in (Stage.REGRESSING, Stage.RESOLVED)
    )


def match_row(step: _Step) -> _Row:
    """First matching row of the family's table wins."""
    for row in ROWS_OF[step.model.family]:
        matched = row(step)
        if matched is not None:
            return matched
    raise AssertionError("the last row of every table always matches")


# --------------------------------------------------------------------------------------------
# §3 Confidence and evidence
# --------------------------------------------------------------------------------------------


def gap_exceeded(step: _Step) -> bool:
    """§3: more than 12 months since prev(o): stages may have come and gone unseen."""
    prev = step.prev
    return prev is not None and step.date > add_months(prev.date, K.GAP_MONTHS)


def missing_texture_or_pattern(step: _Step) -> bool:
    """§3 (9a.3): a visible finding without texture or pattern is less fully described."""
    return step.visible and (step.finding.texture is None or step.finding.pattern is None)


def confidence(step: _Step, row: _Row) -> int:
    """§3: base + HO window + modifiers, in hundredths, clamped to [5, 95]."""
    total = row.base + ho_window_term(step, row.stage)
    if step.xmod:  # 9a.4: only where sizes were compared
        total -= K.XMOD_PENALTY
    if gap_exceeded(step):
        total -= K.GAP_PENALTY
    if missing_texture_or_pattern(step):
        total -= K.MISSING_TEXTURE_OR_PATTERN_PENALTY
    if course_mismatch(step.model, row.stage):  # 9a.6: carried stages too
        total -= K.COURSE_MISMATCH_PENALTY
    return clamp_confidence(total)


def morphology_codes(f: Finding) -> list[str]:
    """Codes in field order: density, margin, texture, pattern, features in vocabulary order."""
    codes = [c.value for c in (f.density, f.margin, f.texture, f.pattern) if c is not None]
    codes += [feat.value for feat in Feature if feat in f.features]
    return codes


def change_evidence(step: _Step, row: _Row) -> list[str]:
    if row.carried:
        return [_CARRIED_TEXT]
    if not step.visible:
        return ["not seen"]
    if step.comparison is None:
        return ["first observation"]
    out = [step.comparison.text()]
    if step.model.family is Family.HADD:
        peak = hadd_signs(step).peak
        if peak is not None:  # 9a.19: only when the peak, not the change, shows the decrease
            b = _longest(step.finding)
            pct = percent_half_up(peak - b, peak)
            out.append(f"-{pct}% from peak ({format_mm(peak)}→{format_mm(b)} mm)")
    return out


def context_evidence(step: _Step, row: _Row) -> list[str]:
    out = list(row.context)
    if step.comparison is not None and step.comparison.xmod:
        out.append(
            f"{step.comparison.ref.modality.value}→{step.finding.modality.value}: "
            "sizes not directly comparable"
        )
    prev = step.prev
    if prev is not None and gap_exceeded(step):
        out.append(f"{months_between(prev.date, step.date)} months since previous observation")
    if step.model.event_date is not None:
        out.append(f"{(step.date - step.model.event_date).days} days after event")
    if step.new_bone_lysis:
        out.append("new bone lysis")
    if course_mismatch(step.model, row.stage):
        out.append(f"unexpected for {step.model.entity.value}")
    return out


def evidence(step: _Step, row: _Row) -> tuple[str, ...]:
    """§3 order: change, morphology codes in field order, then context."""
    return (
        *change_evidence(step, row),
        *morphology_codes(step.finding),
        *context_evidence(step, row),
    )


# --------------------------------------------------------------------------------------------
# §7 Classifications (reported, never used for staging; observers agree poorly [S8])
# --------------------------------------------------------------------------------------------

_RADIOGRAPHIC = frozenset({Modality.XR, Modality.CT})


def gartner(f: Finding) -> str:
    """Gärtner-Heyer [S6][S5], tested I, then III, then II (9a.9); I accepts a missing texture."""
    if (
        f.density is Density.DENSE
        and f.margin is Margin.WELL_DEFINED
        and f.texture is not Texture.HETEROGENEOUS
    ):
        return "I"
    if (
        f.density is Density.FAINT
        or (f.density is Density.MODERATE and f.margin is Margin.ILL_DEFINED)
        or f.pattern is Pattern.CLOUD
    ):
        return "III"
    return "II"


def sfa(f: Finding) -> str:
    """SFA/Molé [S5]: A requires `homogeneous` (9a.10); D (insertional) is never assigned."""
    dense_sharp = f.density is Density.DENSE and f.margin is Margin.WELL_DEFINED
    multiloculated = f.pattern is Pattern.MULTILOCULATED
    if dense_sharp and f.texture is Texture.HOMOGENEOUS and not multiloculated:
        return "A"
    if dense_sharp and (f.texture is Texture.HETEROGENEOUS or multiloculated):
        return "B"
    return "C"


def bosworth(f: Finding) -> str:
    """Bosworth [S7][S5]: small < 5 mm, medium 5-15 mm, large > 15 mm."""
    size = _longest(f)
    if size < K.BOSWORTH_SMALL_BELOW_MM:
        return "small"
    if size > K.BOSWORTH_LARGE_ABOVE_MM:
        return "large"
    return "medium"


def classifications(f: Finding, family: Family) -> tuple[tuple[str, str], ...]:
    """Gärtner and SFA on visible XR/CT, Bosworth on any visible finding; HADD family only.

    Brooker is never computed: it needs the pelvis-femur gap, which is not recorded (9a.12).
    """
    if family is not Family.HADD or not f.visible:
        return ()
    out: list[tuple[str, str]] = []
    if f.modality in _RADIOGRAPHIC:
        out += [("gartner", gartner(f)), ("sfa", sfa(f))]
    out.append(("bosworth", bosworth(f)))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Staging every observation
# --------------------------------------------------------------------------------------------


def _step(f: Finding, earlier: tuple[_Staged, ...], model: _Model) -> _Step:
    ref = next((s.finding for s in reversed(earlier) if s.finding.visible), None)
    comparison = compare_sizes(ref, f) if f.visible and ref is not None else None
    return _Step(finding=f, earlier=earlier, model=model, ref=ref, comparison=comparison)


def stage_all(findings: Sequence[Finding], model: _Model) -> tuple[_Staged, ...]:
    """One stage per observation, each from its observation and the earlier ones only."""
    staged: list[_Staged] = []
    for f in findings:
        step = _step(f, tuple(staged), model)
        row = match_row(step)
        staged.append(
            _Staged(
                step=step,
                row=row,
                confidence=confidence(step, row),
                evidence=evidence(step, row),
                classifications=classifications(f, model.family),
            )
        )
    return tuple(staged)


# --------------------------------------------------------------------------------------------
# §2.4 Transitions
# --------------------------------------------------------------------------------------------


def unexpected_hadd(from_stage: Stage, to_stage: Stage) -> bool:
    """HADD: forming again after resorption or resolution (resting→formative is allowed)."""
    return to_stage is Stage.FORMATIVE and from_stage in _RESORBED


def unexpected_ho(from_stage: Stage, to_stage: Stage) -> bool:
    """HO: a step back in early < intermediate < mature, or seen again after resolution."""
    if from_stage is Stage.RESOLVED:
        return True
    if from_stage in HO_ORDER and to_stage in HO_ORDER:
        return HO_ORDER.index(to_stage) < HO_ORDER.index(from_stage)
    return False


def unexpected_generic(course: Course, to_stage: Stage) -> bool:
    """Generic: an entity that persists should not regress or resolve."""
    return course is Course.PERSISTS and to_stage in (Stage.REGRESSING, Stage.RESOLVED)


def is_unexpected(model: _Model, from_stage: Stage, to_stage: Stage) -> bool:
    if model.family is Family.HADD:
        return unexpected_hadd(from_stage, to_stage)
    if model.family is Family.HO:
        return unexpected_ho(from_stage, to_stage)
    return unexpected_generic(model.course, to_stage)


def transitions(staged: Sequence[_Staged]) -> tuple[TransitionCall, ...]:
    """One per stage change, with the new stage's full evidence (9a.13)."""
    out: list[TransitionCall] = []
    for prev, s in pairwise(staged):
        if s.stage is prev.stage:
            continue
        unexpected = is_unexpected(s.step.model, prev.stage, s.stage)
        extra = (f"unexpected: {prev.stage.value}→{s.stage.value}",) if unexpected else ()
        out.append(TransitionCall(s.date, prev.stage, s.stage, s.evidence + extra, unexpected))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# §4 Alerts
# --------------------------------------------------------------------------------------------

Trigger = Callable[[_Staged], str | None]  # the reason when the trigger holds
Clears = Callable[[_Staged], bool]


@dataclass(frozen=True)
class AlertRule:
    rule: str
    kind: AlertKind
    severity: Severity
    family: Family | None  # None: every family
    trigger: Trigger
    clears: Clears


def formative_run_start(s: _Staged) -> date:
    """First date of the unbroken formative/resting run ending at s (carried stages included)."""
    start = s.date
    for e in reversed(s.step.earlier):
        if e.stage not in _RUN_STAGES:
            break
        start = e.date
    return start


def hadd_no_resolution(s: _Staged) -> str | None:
    """hadd.no_resolution: formative/resting for >= 6 months between observations [S9][S10][S3]."""
    if s.stage not in _RUN_STAGES or not s.finding.visible:
        return None
    start = formative_run_start(s)
    if s.date < add_months(start, K.HADD_NO_RESOLUTION_MONTHS):
        return None
    return (
        f"calcific deposit {format_mm(_longest(s.finding))} mm without resorption for "
        f"{months_between(start, s.date)} months ({start.isoformat()} → {s.date.isoformat()})"
    )


def hadd_resorbing(s: _Staged) -> bool:
    """Clears hadd.no_resolution and hadd.unexpected_regrowth: the deposit is going away."""
    return s.stage in _RESORBED


def hadd_unexpected_regrowth(s: _Staged) -> str | None:
    """hadd.unexpected_regrowth: forming again after resorption or resolution."""
    prev = s.step.prev_stage
    ref = s.step.ref
    if s.stage is not Stage.FORMATIVE or prev not in _RESORBED or ref is None:
        return None
    if not s.finding.visible:
        return None
    a, b = _longest(ref), _longest(s.finding)  # 9a.21: a = last visible size before
    return f"deposit regrew after {prev.value} ({format_mm(a)}→{format_mm(b)} mm)"


def hadd_resorptive_bone_involvement(s: _Staged) -> str | None:
    """hadd.resorptive_bone_involvement: intraosseous HADD mimics infection or tumour [S1][S23]."""
    if s.stage is Stage.RESORPTIVE and Feature.INTRAOSSEOUS_EXTENSION in s.finding.features:
        return (
            "resorbing deposit extends into bone; may mimic infection or tumour, "
            "correlate clinically"
        )
    return None


def hadd_bone_involvement_over(s: _Staged) -> bool:
    f = s.finding
    visible_without = f.visible and Feature.INTRAOSSEOUS_EXTENSION not in f.features
    return visible_without or s.stage in (Stage.POSTCALCIFIC, Stage.RESOLVED)


def ho_not_maturing(s: _Staged) -> str | None:
    """ho.not_maturing: seen, not mature 6 months after the anchor [S15] (post-surgical: [S16])."""
    if s.stage not in (Stage.HO_EARLY, Stage.HO_INTERMEDIATE):
        return None
    if not (s.finding.visible or s.step.seen_before):
        return None
    event = s.step.model.event_date
    first = s.step.earlier[0].date if s.step.earlier else s.date  # 9a.16: any visibility
    anchor = event if event is not None else first
    if s.date < add_months(anchor, K.HO_NOT_MATURING_MONTHS):
        return None
    what = "event" if event is not None else "first observation"
    return (
        f"ossification not mature {months_between(anchor, s.date)} months after {what}; "
        "post-surgical HO may take 12-18 months"
    )


def ho_matured_or_gone(s: _Staged) -> bool:
    return s.stage in (Stage.HO_MATURE, Stage.RESOLVED)


def maturity_fell(s: _Staged) -> tuple[Stage, Stage] | None:
    """Highest HO stage seen earlier on this modality, when higher than the current one."""
    f = s.finding
    if not f.visible or s.stage not in HO_ORDER:
        return None
    reached = [
        HO_ORDER.index(e.stage)
        for e in s.step.earlier
        if e.finding.visible and e.finding.modality is f.modality and e.stage in HO_ORDER
    ]
    if reached and max(reached) > HO_ORDER.index(s.stage):
        return HO_ORDER[max(reached)], s.stage
    return None


def ho_atypical(s: _Staged) -> str | None:
    """ho.atypical: MO matures from the periphery inwards; the reverse suggests sarcoma [S18]."""
    suffix = ": atypical for HO, exclude sarcoma"
    if Feature.CENTRAL_MINERALIZATION in s.finding.features:
        return "central mineralisation" + suffix
    comparison = s.step.comparison
    if (
        comparison is not None
        and comparison.change is Change.GROWTH
        and s.step.prev_stage is Stage.HO_MATURE
    ):
        return f"growth after maturity +{comparison.percent}%" + suffix
    fell = maturity_fell(s)
    if fell is not None:
        x, y = fell
        return f"maturity fell {x.value}→{y.value} on {s.finding.modality.value}" + suffix
    return None


def never(s: _Staged) -> bool:
    """ho.atypical never clears: a red flag stays until the entity changes."""
    return False


def rapid_growth(s: _Staged) -> SizeComparison | None:
    """Growth >= 50 % and >= 2 mm (xmod: 100 %, 4 mm), except a spreading HADD deposit."""
    c = s.step.comparison
    if c is None:
        return None
    if s.step.model.family is Family.HADD and _SPREADING & set(s.finding.features):
        return None  # 9a.14: comet tail / bursal migration cancel only the growth part
    mm = K.XMOD_RAPID_GROWTH_MM if c.xmod else K.RAPID_GROWTH_MM
    fraction = K.XMOD_RAPID_GROWTH_FRACTION if c.xmod else K.RAPID_GROWTH_FRACTION
    return c if exceeds(c.b - c.a, c.a, mm, fraction) else None


def any_rapid_progression(s: _Staged) -> str | None:
    """any.rapid_progression: within 3 months of ref(o), fast growth or new bone lysis."""
    ref = s.step.ref
    if ref is None or s.date > add_months(ref.date, K.RAPID_PROGRESSION_MONTHS):
        return None
    growth = rapid_growth(s)
    lysis = s.step.new_bone_lysis
    if growth is None and not lysis:
        return None
    days = (s.date - ref.date).days
    if growth is None:
        return f"new bone lysis within {days} days"
    sizes = f"({format_mm(growth.a)}→{format_mm(growth.b)} mm)"
    also = " and new bone lysis" if lysis else ""
    return f"size +{growth.percent}% {sizes}{also} within {days} days"


def rapid_progression_over(s: _Staged) -> bool:
    steady = not s.finding.visible or s.step.change in (Change.STABLE, Change.DECREASE)
    return steady and not s.step.new_bone_lysis


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "hadd.no_resolution",
        AlertKind.NO_RESOLUTION,
        Severity.WARNING,
        Family.HADD,
        hadd_no_resolution,
        hadd_resorbing,
    ),
    AlertRule(
        "hadd.unexpected_regrowth",
        AlertKind.UNEXPECTED_REGROWTH,
        Severity.WARNING,
        Family.HADD,
        hadd_unexpected_regrowth,
        hadd_resorbing,
    ),
    AlertRule(
        "hadd.resorptive_bone_involvement",
        AlertKind.RESORPTIVE_BONE_INVOLVEMENT,
        Severity.INFO,
        Family.HADD,
        hadd_resorptive_bone_involvement,
        hadd_bone_involvement_over,
    ),
    AlertRule(
        "ho.not_maturing",
        AlertKind.HO_NOT_MATURING,
        Severity.WARNING,
        Family.HO,
        ho_not_maturing,
        ho_matured_or_gone,
    ),
    AlertRule("ho.atypical", AlertKind.HO_ATYPICAL, Severity.URGENT, Family.HO, ho_atypical, never),
    AlertRule(
        "any.rapid_progression",
        AlertKind.RAPID_PROGRESSION,
        Severity.URGENT,
        None,
        any_rapid_progression,
        rapid_progression_over,
    ),
)
FOLLOW_UP_OVERDUE_RULE = "any.follow_up_overdue"


def walk_alerts(staged: Sequence[_Staged], family: Family) -> dict[str, AlertCall]:
    """§4: at each observation clear first, then fire; carried stages do neither."""
    rules = [r for r in ALERT_RULES if r.family is None or r.family is family]
    open_alerts: dict[str, AlertCall] = {}
    for s in staged:
        if s.carried:  # H1/O1/G1: MR not seeing calcium is not news (§4)
            continue
        for r in rules:
            if r.rule in open_alerts and r.clears(s):
                del open_alerts[r.rule]
        for r in rules:
            reason = r.trigger(s)
            if reason is None:
                continue
            if r.rule in open_alerts:  # 9a.1: keep since, refresh reason
                open_alerts[r.rule] = replace(open_alerts[r.rule], reason=reason)
            else:
                open_alerts[r.rule] = AlertCall(r.kind, r.severity, s.date, reason, r.rule)
    return open_alerts


def follow_up_overdue(latest: _Staged, due: date | None, as_of: date) -> AlertCall | None:
    """any.follow_up_overdue: the planned imaging did not happen; cleared by a newer one."""
    if due is None or as_of <= due:
        return None
    reason = (
        f"follow-up due {due.isoformat()} ({latest.stage.value}); "
        f"no imaging since {latest.date.isoformat()}"
    )
    return AlertCall(
        AlertKind.FOLLOW_UP_OVERDUE,
        Severity.INFO,
        due + timedelta(days=1),
        reason,
        FOLLOW_UP_OVERDUE_RULE,
    )


def alert_order(a: AlertCall) -> tuple[int, date, str]:
    return SEVERITY_RANK[a.severity], a.since, a.rule


# --------------------------------------------------------------------------------------------
# §5 next_follow_up
# --------------------------------------------------------------------------------------------


def _after_months(d: date, months: int | None) -> date | None:
    return None if months is None else add_months(d, months)


def follow_up_hadd(latest: _Staged) -> date | None:
    """HADD: 6 months while forming/resting, 3 while resorbing [S4], 12 once post-calcific."""
    if latest.stage is Stage.POSTCALCIFIC and latest.step.prev_stage is Stage.POSTCALCIFIC:
        return None  # a residue already seen twice needs no more imaging
    return _after_months(latest.date, K.HADD_FOLLOW_UP_MONTHS.get(latest.stage))


def follow_up_ho(latest: _Staged) -> date | None:
    """HO: 6 weeks to catch the zoning due at 5-8 weeks [S13][S14]; 3 months when intermediate."""
    if latest.stage is Stage.HO_EARLY:
        seen = latest.finding.visible or latest.step.seen_before
        event = latest.step.model.event_date
        if (
            not seen
            and event is not None
            and (latest.date - event).days >= K.HO_EARLY_NEVER_SEEN_GIVE_UP_DAYS
        ):
            return None  # nothing mineralised 8 weeks after the event: no HO to follow
        return latest.date + timedelta(weeks=K.HO_EARLY_FOLLOW_UP_WEEKS)  # 9a.18
    return _after_months(latest.date, K.HO_FOLLOW_UP_MONTHS.get(latest.stage))


def follow_up_generic(latest: _Staged) -> date | None:
    """Generic: by expected course (persists, variable, progresses)."""
    course = latest.step.model.course
    schedule = K.GENERIC_FOLLOW_UP_MONTHS.get(course, K.GENERIC_FOLLOW_UP_MONTHS[Course.VARIABLE])
    return _after_months(latest.date, schedule.get(latest.stage))


FOLLOW_UP_OF: dict[Family, Callable[[_Staged], date | None]] = {
    Family.HADD: follow_up_hadd,
    Family.HO: follow_up_ho,
    Family.GENERIC: follow_up_generic,
}


def urgent_cap(due: date | None, latest: _Staged, alerts: Sequence[AlertCall]) -> date | None:
    """§5, 9a.2: an open urgent alert means imaging within a month, even with no stage date."""
    if not any(a.severity is Severity.URGENT for a in alerts):
        return due
    cap = add_months(latest.date, K.URGENT_CAP_MONTHS)
    return cap if due is None else min(due, cap)


# --------------------------------------------------------------------------------------------
# §6 Entity suggestion
# --------------------------------------------------------------------------------------------


def suggestion_cues(lesion: LesionFacts) -> set[str]:
    """Every code seen on a visible finding, plus region, event date and resolved_seen."""
    findings = sorted(lesion.findings, key=lambda f: f.date)
    cues: set[str] = {f"region:{lesion.region.value}"}
    for f in findings:
        if f.visible:
            cues.update(morphology_codes(f))
    if lesion.event_date is not None:
        cues.add("event_date")
    seen = False
    for f in findings:
        if f.visible:
            seen = True
        elif seen and f.modality is not Modality.MR:  # 9a.7: MR not-seen is no resolution
            cues.add("resolved_seen")
            break
    return cues


VOCABULARY_ORDER: dict[Entity, int] = {e: i for i, e in enumerate(Entity)}


def suggest_entities(lesion: LesionFacts) -> tuple[Suggestion, ...]:
    """§6: compartment prior by position + each matching cue once; top 3 (design, from [S1])."""
    cues = suggestion_cues(lesion)
    candidates = entities_of(lesion.compartment)
    scored: list[tuple[int, int, Entity, tuple[str, ...]]] = []
    for position, entity in enumerate(candidates):
        priors = K.SUGGESTION_PRIOR_BY_POSITION
        prior = priors[position] if position < len(priors) else K.SUGGESTION_PRIOR_OTHERS
        matched = [(cue, w) for cue, w in K.SUGGESTION_CUES.get(entity, ()) if cue in cues]
        score = max(0, min(K.SUGGESTION_SCORE_MAX, prior + sum(w for _, w in matched)))
        why = (lesion.compartment.value, *(cue for cue, _ in matched))
        scored.append((-score, VOCABULARY_ORDER[entity], entity, why))
    scored.sort(key=lambda t: (t[0], t[1]))
    return tuple(
        Suggestion(entity, -neg / 100, why) for neg, _, entity, why in scored[: K.SUGGESTIONS_SHOWN]
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def check_findings(findings: Sequence[Finding]) -> None:
    """Reject what the rules cannot read (the timeline validator should have caught it)."""
    dates = [f.date for f in findings]
    if len(set(dates)) != len(dates):
        raise ValueError("two findings of one lesion on the same date")
    for f in findings:
        if not f.visible:
            continue
        if not f.size_mm:
            raise ValueError(f"visible finding on {f.date.isoformat()} has no size")
        if any(x <= 0 for x in f.size_mm):
            raise ValueError(f"finding on {f.date.isoformat()} has a size <= 0")
        if max(f.size_mm) > f.size_mm[0]:
            raise ValueError(f"finding on {f.date.isoformat()}: size_mm[0] must be the longest")


def _stage_call(s: _Staged) -> StageCall:
    return StageCall(
        date=s.date,
        stage=s.stage,
        confidence=s.confidence / 100,
        evidence=s.evidence,
        classifications=s.classifications,
        rule=s.row.rule,
    )


def infer(lesion: LesionFacts, as_of: date) -> LesionAssessment:
    """Stages, transitions, alerts and the next follow-up of one lesion, as of a date."""
    findings = sorted(lesion.findings, key=lambda f: f.date)
    check_findings(findings)
    suggestions = suggest_entities(lesion)
    entity = lesion.entity if lesion.entity is not None else suggestions[0].entity
    info = ENTITIES[entity]
    model = _Model(entity, info.family, info.course, lesion.event_date)

    staged = stage_all(findings, model)
    known = [s for s in staged if s.date <= as_of]
    alerts: list[AlertCall] = list(walk_alerts(known, model.family).values())
    due: date | None = None
    if known:
        latest = known[-1]
        due = urgent_cap(FOLLOW_UP_OF[model.family](latest), latest, alerts)
        overdue = follow_up_overdue(latest, due, as_of)
        if overdue is not None:
            alerts.append(overdue)
    alerts.sort(key=alert_order)

    return LesionAssessment(
        entity=entity,
        entity_source="given" if lesion.entity is not None else "suggested",
        family=model.family,
        suggestions=suggestions,
        stages=tuple(_stage_call(s) for s in staged),
        transitions=transitions(staged),
        alerts=tuple(alerts),
        next_follow_up=due,
        engine_version=ENGINE_VERSION,
    )


def suggestions_to_json(a: LesionAssessment) -> list[dict[str, Any]]:
    """`suggested_entities` of `lesion-assessment/1` (also what the database stores)."""
    return [
        {"entity": g.entity.value, "score": round(g.score, 2), "why": list(g.why)}
        for g in a.suggestions
    ]


def assessment_to_json(a: LesionAssessment) -> dict[str, Any]:
    """The per-lesion object of `lesion-assessment/1`, without "patient" and "lesion"."""
    stages: list[dict[str, Any]] = []
    for s in a.stages:
        item: dict[str, Any] = {
            "date": s.date.isoformat(),
            "stage": s.stage.value,
            "confidence": round(s.confidence, 2),
            "evidence": list(s.evidence),
        }
        if s.classifications:
            item["classifications"] = dict(s.classifications)
        stages.append(item)
    return {
        "entity": a.entity.value,
        "entity_source": a.entity_source,
        "suggested_entities": suggestions_to_json(a),
        "stages": stages,
        "transitions": [
            {
                "date": t.date.isoformat(),
                "from": t.from_stage.value,
                "to": t.to_stage.value,
                "evidence": list(t.evidence),
            }
            for t in a.transitions
        ],
        "alerts": [
            {
                "kind": al.kind.value,
                "severity": al.severity.value,
                "since": al.since.isoformat(),
                "reason": al.reason,
                "rule": al.rule,
            }
            for al in a.alerts
        ],
        "next_follow_up": a.next_follow_up.isoformat() if a.next_follow_up else None,
    }
