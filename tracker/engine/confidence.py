"""§3 Confidence and evidence of clinical-rules.md.

Confidence = base + HO window + modifiers (all design), in hundredths, clamped (§0). Reading
choices:
- The gap modifier (-0.10) applies to every observation with a `prev(o)`, visible or not, carried
  included; the cross-modality one only where sizes are compared (9a.4). An early second
  negative (H2r/O2r/G2r) takes `n`'s final confidence whole (revision 3) and no modifier; its
  evidence still lists its own context (event, treatment, course notes).
- Evidence order is 9a.19's: change (or the not-visible text), the from-peak note, morphology
  codes, `"morphology not assessed"`, rule notes (`"resorption stalled"`, `"new bone lysis"`,
  H4b's and O4b's), `"N days after event"`, `"N days after {kind}"`, the cross-modality note,
  the gap note, `"unexpected for <entity code>"`.
- `"new bone lysis"` is noted in any family whenever `bone_lysis` is in `o` and not in `ref(o)`.
- A not-visible observation lists its features (the format allows them, 9a.15) after its text.
- The first visible observation after only not-seen ones reads `"first observation"`; size
  percentages are of `L(ref(o))`.
- `"-N% from peak (p→b mm)"` follows the change string only when the peak, not the change, shows
  the decrease (9a.19).
"""

from __future__ import annotations

from tracker.engine.model import Finding
from tracker.engine.response import treatment_evidence
from tracker.engine.sizes import (
    add_months,
    clamp_confidence,
    format_mm,
    longest,
    months_between,
    percent_half_up,
)
from tracker.engine.stages.generic import COURSE_MISMATCH_PENALTY, course_mismatch
from tracker.engine.stages.hadd import RESORPTION_STALLED, hadd_signs
from tracker.engine.stages.ho import ho_window_term
from tracker.engine.stages.resolution import MISSED_PROJECTION, reading_step
from tracker.engine.steps import CARRIED_TEXT, Row, Step
from tracker.vocabulary import Family, Feature

XMOD_PENALTY = 15  # sizes across modalities are not directly comparable (design)
GAP_MONTHS = 12  # o.date > add_months(prev(o).date, 12): stages may have been missed
GAP_PENALTY = 10
MISSING_MORPHOLOGY_PENALTY = 5  # once, when density, margin, texture or pattern is missing (9a.3)
NOT_ASSESSED = "morphology not assessed"  # density or margin missing (9a.3)
NEW_BONE_LYSIS = "new bone lysis"
RULE_NOTE_ORDER = (RESORPTION_STALLED, NEW_BONE_LYSIS, MISSED_PROJECTION)  # 9a.19


def gap_exceeded(step: Step) -> bool:
    """§3: more than 12 months since prev(o): stages may have come and gone unseen."""
    prev = step.prev
    return prev is not None and step.date > add_months(prev.date, GAP_MONTHS)


def missing_morphology(step: Step) -> bool:
    """§3 (9a.3): a visible finding without density, margin, texture or pattern."""
    f = step.finding
    return step.visible and None in (f.density, f.margin, f.texture, f.pattern)


def morphology_not_assessed(step: Step) -> bool:
    """9a.3: density or margin absent (e.g. a measurement-only report): stage rests on size."""
    return step.visible and (step.finding.density is None or step.finding.margin is None)


def confidence(step: Step, row: Row) -> int:
    """§3: base + HO window + modifiers, in hundredths, clamped to [5, 95]; a confidence taken
    whole from another observation (H2r/O2r/G2r: `n`'s final one) gets no modifier again."""
    if row.final is not None:
        return row.final
    total = row.base + ho_window_term(step, row.stage)
    if step.xmod:  # 9a.4: only where sizes were compared
        total -= XMOD_PENALTY
    if gap_exceeded(step):
        total -= GAP_PENALTY
    if missing_morphology(step):
        total -= MISSING_MORPHOLOGY_PENALTY
    if course_mismatch(step.model, row.stage):  # 9a.6: carried stages too
        total -= COURSE_MISMATCH_PENALTY
    return clamp_confidence(total)


# Features in vocabulary order with their codes, read once: iterating the Enum and reading
# `.value` for every finding was a tenth of an inference's time.
_FEATURE_CODES = tuple((feat, feat.value) for feat in Feature)


def morphology_codes(f: Finding) -> list[str]:
    """Codes in field order: density, margin, texture, pattern, features in vocabulary order."""
    codes = [c.value for c in (f.density, f.margin, f.texture, f.pattern) if c is not None]
    if f.features:
        codes += [code for feat, code in _FEATURE_CODES if feat in f.features]
    return codes


def change_evidence(step: Step, row: Row) -> list[str]:
    """The size change (or what was not seen), then the from-peak note where it decided."""
    if row.carried:
        return [CARRIED_TEXT]
    if not step.visible:
        return [row.not_seen_text or "not seen"]
    if step.comparison is None:
        return ["first observation"]
    out = [step.comparison.text()]
    if step.model.family is Family.HADD:
        peak = hadd_signs(reading_step(step, row)).peak
        if peak is not None:  # 9a.19: only when the peak, not the change, shows the decrease
            b = longest(step.finding)
            pct = percent_half_up(peak - b, peak)
            out.append(f"-{pct}% from peak ({format_mm(peak)}→{format_mm(b)} mm)")
    return out


def rule_notes(step: Step, row: Row) -> list[str]:
    notes = [*row.notes, NEW_BONE_LYSIS] if step.new_bone_lysis else list(row.notes)
    return sorted(notes, key=RULE_NOTE_ORDER.index)


def context_evidence(step: Step, row: Row) -> list[str]:
    out: list[str] = []
    if step.model.event_date is not None:
        out.append(f"{(step.date - step.model.event_date).days} days after event")
    out += treatment_evidence(step)
    if step.comparison is not None and step.comparison.xmod:
        out.append(
            f"{step.comparison.ref.modality.value}→{step.finding.modality.value}: "
            "sizes not directly comparable"
        )
    prev = step.prev
    if prev is not None and gap_exceeded(step):
        out.append(f"{months_between(prev.date, step.date)} months since previous observation")
    if course_mismatch(step.model, row.stage):
        out.append(f"unexpected for {step.model.entity.value}")
    return out


def evidence(step: Step, row: Row) -> tuple[str, ...]:
    """§3 and 9a.19 order: change, morphology, not assessed, rule notes, then context."""
    return (
        *change_evidence(step, row),
        *morphology_codes(step.finding),
        *([NOT_ASSESSED] if morphology_not_assessed(step) else []),
        *rule_notes(step, row),
        *context_evidence(step, row),
    )
