"""Stage inference. Pure: one lesion's facts and a date in, a LesionAssessment out.

Imports only the standard library and `tracker.vocabulary`. Never calls the clock: `as_of` is a
parameter, so the same facts always give the same assessment. One module per section of
`shared/spec/clinical-rules.md`; search for a rule id (H2c, O5, `ho.atypical`) to find its code:

    sizes §0-1 · stages/hadd §2.1 · stages/ho §2.2 · stages/generic §2.3 · transitions §2.4 ·
    confidence §3 · alerts §4 · follow_up §5 · suggestions §6 · classifications §7

Reading choice (input): what the rules cannot read raises ValueError: two findings on one date, a
visible finding without a size, a non-positive size, or a first size that is not the largest
(9a.22). The timeline validator catches these first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from tracker.engine.alerts import alert_order, follow_up_overdue, walk_alerts
from tracker.engine.classifications import classifications
from tracker.engine.confidence import confidence, evidence
from tracker.engine.follow_up import FOLLOW_UP_OF, urgent_cap
from tracker.engine.model import (
    ENGINE_VERSION,
    AlertCall,
    Finding,
    LesionAssessment,
    LesionFacts,
    StageCall,
    Suggestion,
    TransitionCall,
)
from tracker.engine.sizes import (
    add_months,
    clamp_confidence,
    compare_sizes,
    decimal_mm,
    format_mm,
    months_between,
    percent_half_up,
)
from tracker.engine.stages.generic import GENERIC_ROWS
from tracker.engine.stages.hadd import HADD_ROWS
from tracker.engine.stages.ho import HO_ROWS
from tracker.engine.steps import Model, Row, Staged, StageRow, Step
from tracker.engine.suggestions import suggest_entities, suggestion_cues
from tracker.engine.transitions import transitions
from tracker.vocabulary import ENTITIES, Family

__all__ = [
    "ENGINE_VERSION",
    "AlertCall",
    "Finding",
    "LesionAssessment",
    "LesionFacts",
    "StageCall",
    "Suggestion",
    "TransitionCall",
    "add_months",
    "assessment_to_json",
    "clamp_confidence",
    "decimal_mm",
    "format_mm",
    "infer",
    "months_between",
    "percent_half_up",
    "suggestion_cues",
    "suggestions_to_json",
]

ROWS_OF: dict[Family, tuple[StageRow, ...]] = {
    Family.HADD: HADD_ROWS,
    Family.HO: HO_ROWS,
    Family.GENERIC: GENERIC_ROWS,
}


def match_row(step: Step) -> Row:
    """First matching row of the family's table wins."""
    for row in ROWS_OF[step.model.family]:
        matched = row(step)
        if matched is not None:
            return matched
    raise AssertionError("the last row of every table always matches")


def _step(f: Finding, earlier: tuple[Staged, ...], model: Model) -> Step:
    ref = next((s.finding for s in reversed(earlier) if s.finding.visible), None)
    comparison = compare_sizes(ref, f) if f.visible and ref is not None else None
    return Step(finding=f, earlier=earlier, model=model, ref=ref, comparison=comparison)


def stage_all(findings: Sequence[Finding], model: Model) -> tuple[Staged, ...]:
    """One stage per observation, each from its observation and the earlier ones only."""
    staged: list[Staged] = []
    for f in findings:
        step = _step(f, tuple(staged), model)
        row = match_row(step)
        staged.append(
            Staged(
                step=step,
                row=row,
                confidence=confidence(step, row),
                evidence=evidence(step, row),
                classifications=classifications(f, model.family),
            )
        )
    return tuple(staged)


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


def _stage_call(s: Staged) -> StageCall:
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
    model = Model(entity, info.family, info.course, lesion.event_date)

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
