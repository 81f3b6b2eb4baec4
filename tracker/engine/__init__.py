"""Stage inference. Pure: one lesion's facts and a date in, a LesionAssessment out.

Imports only the standard library and `tracker.vocabulary`. Never calls the clock: `as_of` is a
parameter, so the same facts always give the same assessment. One module per section of
`shared/spec/clinical-rules.md`; search for a rule id (H2c, O5, `ho.atypical`) to find its code:

    sizes §0-1 · stages/hadd §2.1 · stages/ho §2.2 · stages/generic §2.3 ·
    stages/resolution (rows the three share: H2/O2/G2 resolution, H4b/O4b missed projection) ·
    transitions §2.4 · confidence §3 · alerts/{hadd,ho,any} §4 · follow_up §5 · suggestions §6 ·
    classifications §7 · response §7a · steps (what every row reads: ref(o), prev(o), n; the
    carried MR rows H1/O1/G1)

`RULES_REVISION` is the revision of clinical-rules.md implemented; `ENGINE_VERSION` changes with
any change of output.

Reading choice (input): what the rules cannot read raises ValueError: two findings on one date, a
visible finding without a size, a non-positive size, or a first size that is not the largest
(9a.22). The timeline validator catches these first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from tracker.engine.alerts import RULE_IDS, alert_order, follow_up_overdue, walk_alerts
from tracker.engine.classifications import classifications
from tracker.engine.confidence import confidence, evidence
from tracker.engine.follow_up import next_follow_up
from tracker.engine.model import (
    ENGINE_VERSION,
    RULES_REVISION,
    AlertCall,
    Finding,
    LesionAssessment,
    LesionFacts,
    Response,
    StageCall,
    Suggestion,
    TransitionCall,
    Treatment,
)
from tracker.engine.response import TREATMENT_ORDER, response
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
from tracker.engine.suggestions import (
    suggest_entities,
    suggestion_cues,
    suggestions_after_each,
)
from tracker.engine.transitions import transitions
from tracker.vocabulary import ENTITIES, Entity, Family, Resolution

__all__ = [
    "ENGINE_VERSION",
    "RULES_REVISION",
    "RULE_IDS",
    "AlertCall",
    "Finding",
    "LesionAssessment",
    "LesionFacts",
    "Resolution",
    "Response",
    "StageCall",
    "Suggestion",
    "TransitionCall",
    "Treatment",
    "add_months",
    "assessment_to_json",
    "changes_after",
    "clamp_confidence",
    "decimal_mm",
    "format_mm",
    "infer",
    "months_between",
    "percent_half_up",
    "response_to_json",
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


def _step(f: Finding, earlier: tuple[Staged, ...], model: Model, top: Entity | None) -> Step:
    ref = next((s.finding for s in reversed(earlier) if s.finding.visible), None)
    comparison = compare_sizes(ref, f) if f.visible and ref is not None else None
    return Step(f, earlier, model, ref, comparison, top)


def stage_all(
    findings: Sequence[Finding], model: Model, tops: Sequence[Entity | None] = ()
) -> tuple[Staged, ...]:
    """One stage per observation, each from its observation and the earlier ones only.

    `tops` is the §6 top suggestion from the observations up to each one (undiagnosed lesions).
    """
    staged: list[Staged] = []
    for i, f in enumerate(findings):
        step = _step(f, tuple(staged), model, tops[i] if i < len(tops) else None)
        row = match_row(step)
        staged.append(
            Staged(
                step=step,
                row=row,
                confidence=confidence(step, row),
                evidence=evidence(step, row),
                classifications=classifications(f, model.family, model.region),
                response=response(step),
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
        response=s.response,
        resolution=None if s.row.resolved is None else s.row.resolved.status,
    )


def infer(lesion: LesionFacts, as_of: date) -> LesionAssessment:
    """Stages, transitions, alerts and the next follow-up of one lesion, as of a date.

    §0: only observations and treatments dated on or before `as_of` count; later ones are
    ignored entirely (a report for a past date is what the engine would have said then).
    """
    check_findings(lesion.findings)
    findings = tuple(sorted((f for f in lesion.findings if f.date <= as_of), key=lambda f: f.date))
    treatments = tuple(
        sorted(
            (t for t in lesion.treatments if t.date <= as_of),
            key=lambda t: (t.date, TREATMENT_ORDER[t.kind]),
        )
    )
    known = replace(lesion, findings=findings, treatments=treatments)
    suggestions = suggest_entities(known)
    suggested = lesion.entity is None
    entity = suggestions[0].entity if lesion.entity is None else lesion.entity
    tops: list[Entity | None] = []
    if suggested:  # any.model_changed compares the top suggestion before and after each film
        tops = [s[0].entity for s in suggestions_after_each(known)]
    info = ENTITIES[entity]
    model = Model(
        entity=entity,
        family=info.family,
        course=info.course,
        event_date=lesion.event_date,
        event_kind=lesion.event_kind,
        treatments=treatments,
        compartment=lesion.compartment,
        suggested=suggested,
        region=lesion.region,
    )

    staged = stage_all(findings, model, tops)
    open_alerts = walk_alerts(staged, model, as_of)
    due: date | None = None
    if staged:
        latest = staged[-1]
        due = next_follow_up(latest, open_alerts)
    alerts: list[AlertCall] = [a.call() for a in open_alerts]
    if staged:
        overdue = follow_up_overdue(staged[-1], due, as_of)
        if overdue is not None:
            alerts.append(overdue)
    alerts.sort(key=alert_order)

    return LesionAssessment(
        entity=entity,
        entity_source="suggested" if suggested else "given",
        family=model.family,
        suggestions=suggestions,
        stages=tuple(_stage_call(s) for s in staged),
        transitions=transitions(staged),
        alerts=tuple(alerts),
        next_follow_up=due,
        engine_version=ENGINE_VERSION,
        rules_revision=RULES_REVISION,
    )


def changes_after(
    lesion: LesionFacts, as_of: date, assessment: LesionAssessment
) -> date | None:
    """The first date after `as_of` on which `infer(lesion, day)` may differ from `assessment`
    (which is `infer(lesion, as_of)`); None if it never can.

    `infer` reads `as_of` in two places only: to keep the data dated on or before it (§0), and
    to call the follow-up overdue once its date has passed (§4 any.follow_up_overdue). So the
    output is constant until the next observation or treatment dated after `as_of`, or the day
    after the follow-up date, whichever comes first. A rule that compares `as_of` with any other
    date must add it here; tests/engine/test_recheck.py compares with re-assessing every day.
    """
    later = [f.date for f in lesion.findings if f.date > as_of]
    later += [t.date for t in lesion.treatments if t.date > as_of]
    due = assessment.next_follow_up
    if due is not None and due >= as_of:
        later.append(due + timedelta(days=1))
    return min(later, default=None)


def response_to_json(r: Response | None) -> dict[str, Any] | None:
    """§7a `response`: null, or baseline date, change and nadir change (JSON numbers), category."""
    if r is None:
        return None
    return {
        "baseline": r.baseline.isoformat(),
        "change_pct": r.change_pct,
        "nadir_change_pct": r.nadir_change_pct,
        "category": r.category.value,
    }


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
        if s.resolution is not None:
            item["resolution"] = s.resolution.value
        item["response"] = response_to_json(s.response)
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
