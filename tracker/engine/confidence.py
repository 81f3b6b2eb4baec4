"""§3 Confidence and evidence of clinical-rules.md.

Confidence = base + HO window + modifiers (all design), in hundredths, clamped (§0). Reading
choices:
- The gap modifier (-0.10) applies to every observation with a `prev(o)`, visible or not, carried
  included; the cross-modality one only where sizes are compared (9a.4).
- Evidence context order: `"resorption stalled"` (H12), the cross-modality note, the gap note,
  `"N days after event"` (any family with an event date), `"new bone lysis"` (any family, whenever
  `bone_lysis` is in `o` and not in `ref(o)`), `"unexpected for <entity code>"`.
- A not-visible observation lists its features (the format allows them, 9a.15) after `"not seen"`.
- The first visible observation after only not-seen ones reads `"first observation"`; size
  percentages are of `L(ref(o))`.
- `"-N% from peak (p→b mm)"` follows the change string only when the peak, not the change, shows
  the decrease (9a.19).
"""

from __future__ import annotations

from tracker.engine.model import Finding
from tracker.engine.sizes import (
    add_months,
    clamp_confidence,
    format_mm,
    longest,
    months_between,
    percent_half_up,
)
from tracker.engine.stages.generic import COURSE_MISMATCH_PENALTY, course_mismatch
from tracker.engine.stages.hadd import hadd_signs
from tracker.engine.stages.ho import ho_window_term
from tracker.engine.steps import CARRIED_TEXT, Row, Step
from tracker.vocabulary import Family, Feature

XMOD_PENALTY = 15  # sizes across modalities are not directly comparable (design)
GAP_MONTHS = 12  # o.date > add_months(prev(o).date, 12): stages may have been missed
GAP_PENALTY = 10
MISSING_TEXTURE_OR_PATTERN_PENALTY = 5


def gap_exceeded(step: Step) -> bool:
    """§3: more than 12 months since prev(o): stages may have come and gone unseen."""
    prev = step.prev
    return prev is not None and step.date > add_months(prev.date, GAP_MONTHS)


def missing_texture_or_pattern(step: Step) -> bool:
    """§3 (9a.3): a visible finding without texture or pattern is less fully described."""
    return step.visible and (step.finding.texture is None or step.finding.pattern is None)


def confidence(step: Step, row: Row) -> int:
    """§3: base + HO window + modifiers, in hundredths, clamped to [5, 95]."""
    total = row.base + ho_window_term(step, row.stage)
    if step.xmod:  # 9a.4: only where sizes were compared
        total -= XMOD_PENALTY
    if gap_exceeded(step):
        total -= GAP_PENALTY
    if missing_texture_or_pattern(step):
        total -= MISSING_TEXTURE_OR_PATTERN_PENALTY
    if course_mismatch(step.model, row.stage):  # 9a.6: carried stages too
        total -= COURSE_MISMATCH_PENALTY
    return clamp_confidence(total)


def morphology_codes(f: Finding) -> list[str]:
    """Codes in field order: density, margin, texture, pattern, features in vocabulary order."""
    codes = [c.value for c in (f.density, f.margin, f.texture, f.pattern) if c is not None]
    codes += [feat.value for feat in Feature if feat in f.features]
    return codes


def change_evidence(step: Step, row: Row) -> list[str]:
    if row.carried:
        return [CARRIED_TEXT]
    if not step.visible:
        return ["not seen"]
    if step.comparison is None:
        return ["first observation"]
    out = [step.comparison.text()]
    if step.model.family is Family.HADD:
        peak = hadd_signs(step).peak
        if peak is not None:  # 9a.19: only when the peak, not the change, shows the decrease
            b = longest(step.finding)
            pct = percent_half_up(peak - b, peak)
            out.append(f"-{pct}% from peak ({format_mm(peak)}→{format_mm(b)} mm)")
    return out


def context_evidence(step: Step, row: Row) -> list[str]:
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


def evidence(step: Step, row: Row) -> tuple[str, ...]:
    """§3 order: change, morphology codes in field order, then context."""
    return (
        *change_evidence(step, row),
        *morphology_codes(step.finding),
        *context_evidence(step, row),
    )
