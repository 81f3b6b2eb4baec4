"""Assessment, step two: the engine's output for a lesion compared with what is stored, and
only the differences gathered in a plan (inserts, in-place updates that keep row ids, deletes,
alert clears and reopens), so that each kind of change is one statement for the whole chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tracker.alert_counts import Delta
from tracker.audit import SYSTEM_ACTOR
from tracker.engine import (
    RULES_REVISION,
    AlertCall,
    LesionAssessment,
    response_to_json,
    suggestions_to_json,
)
from tracker.services.assessment.load import Loaded
from tracker.vocabulary import AlertState, snooze_over


@dataclass
class Plan:
    """Every write of one chunk, gathered before any is sent, so each kind is one statement."""

    assessment_inserts: list[dict[str, Any]] = field(default_factory=list)
    assessment_updates: list[dict[str, Any]] = field(default_factory=list)
    assessment_deletes: list[int] = field(default_factory=list)
    transition_inserts: list[dict[str, Any]] = field(default_factory=list)
    transition_updates: list[dict[str, Any]] = field(default_factory=list)
    transition_deletes: list[int] = field(default_factory=list)
    alert_clears: list[int] = field(default_factory=list)
    alert_refreshes: list[dict[str, Any]] = field(default_factory=list)
    alert_reopens: list[int] = field(default_factory=list)
    reopen_events: list[dict[str, Any]] = field(default_factory=list)  # their audit rows
    alert_inserts: list[dict[str, Any]] = field(default_factory=list)
    lesion_updates: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0
    changed_lesions: set[int] = field(default_factory=set)
    counts: Delta = field(default_factory=Delta)  # the header counts' change (alert_counts)


def _plan_stages(lesion: Loaded, a: LesionAssessment, at: datetime, plan: Plan) -> bool:
    """Assessment rows: one per observation, updated in place so ids stay stable."""
    by_date = {o.date: o for o in lesion.observations}
    changed = False
    seen: set[int] = set()
    for call in a.stages:
        obs = by_date[call.date]
        seen.add(obs.id)
        want = {
            "stage": call.stage.value,
            "confidence": call.confidence,
            "evidence": list(call.evidence),
            "classifications": dict(call.classifications),
            "response": response_to_json(call.response),
            "resolution": call.resolution.value if call.resolution is not None else None,
            "engine_version": a.engine_version,
            "rules_revision": RULES_REVISION,
        }
        have = obs.assessment
        if have is None:
            plan.assessment_inserts.append(
                {"observation_id": obs.id, "lesion_id": lesion.id, "assessed_at": at, **want}
            )
            changed = True
        elif any(getattr(have, k) != v for k, v in want.items()):
            plan.assessment_updates.append({"b_id": have.id, "assessed_at": at, **want})
            changed = True
    for obs in lesion.observations:
        if obs.assessment is not None and obs.id not in seen:
            plan.assessment_deletes.append(obs.assessment.id)
            changed = True
    return changed


def _plan_transitions(lesion: Loaded, a: LesionAssessment, plan: Plan) -> bool:
    have = {t.date: t for t in lesion.transitions}
    changed = False
    for call in a.transitions:
        want = {
            "from_stage": call.from_stage.value,
            "to_stage": call.to_stage.value,
            "evidence": list(call.evidence),
            "unexpected": call.unexpected,
        }
        row = have.pop(call.date, None)
        if row is None:
            plan.transition_inserts.append({"lesion_id": lesion.id, "date": call.date, **want})
            changed = True
        elif any(getattr(row, k) != v for k, v in want.items()):
            plan.transition_updates.append({"b_id": row.id, **want})
            changed = True
    for row in have.values():
        plan.transition_deletes.append(row.id)
        changed = True
    return changed


def _plan_alerts(
    lesion: Loaded, calls: Sequence[AlertCall], as_of: date, at: datetime, plan: Plan
) -> bool:
    """Reconcile the lesion's uncleared alerts with the engine's.

    Same kind and the episode did not restart: keep the row (and so the clinician's
    acknowledgement or snooze), refresh what the engine owns. The engine no longer reports it:
    clear. A `since` later than the stored one is a new episode (the old one ended between two
    assessments): the old row is cleared and a new one opened, so an acknowledgement of the old
    episode cannot silence the new one. A snooze over by `as_of` (its date included,
    `vocabulary.snooze_over`) returns to open.
    """
    alive = {al.kind: al for al in lesion.alerts}  # loaded uncleared
    changed = False
    for call in calls:
        row = alive.pop(call.kind.value, None)
        if row is not None and call.since > row.since:
            plan.alert_clears.append(row.id)
            plan.counts.move((row.severity, row.state), None)
            row = None
        if row is None:
            plan.counts.move(None, (call.severity.value, AlertState.OPEN.value))
            plan.alert_inserts.append(
                {
                    "lesion_id": lesion.id,
                    "kind": call.kind.value,
                    "severity": call.severity.value,
                    "rule": call.rule,
                    "since": call.since,
                    "reason": call.reason,
                    "state": AlertState.OPEN.value,
                    "opened_at": at,
                }
            )
            changed = True
            continue
        plan.kept += 1
        want = {
            "severity": call.severity.value,
            "rule": call.rule,
            "since": call.since,
            "reason": call.reason,
        }
        if any(getattr(row, k) != v for k, v in want.items()):
            plan.alert_refreshes.append({"b_id": row.id, **want})
            changed = True
        reopen = (
            row.state == AlertState.SNOOZED.value
            and row.snoozed_until is not None
            and snooze_over(row.snoozed_until, as_of)
        )
        plan.counts.move((row.severity, row.state),
                         (call.severity.value, AlertState.OPEN.value if reopen else row.state))
        if reopen:
            plan.alert_reopens.append(row.id)
            plan.reopen_events.append({
                "actor": SYSTEM_ACTOR, "action": "alert.snooze_ended", "target_type": "alert",
                "target_id": row.id, "after": {"state": AlertState.OPEN.value}, "at": at,
                "patient_id": lesion.row.patient_id, "lesion_id": lesion.id,
            })
            changed = True
    for row in alive.values():
        plan.alert_clears.append(row.id)
        plan.counts.move((row.severity, row.state), None)
        changed = True
    return changed


def _plan_lesion(lesion: Loaded, a: LesionAssessment, at: datetime, plan: Plan,
                 rows_changed: bool, recheck: date | None) -> None:
    row = lesion.row
    want: dict[str, Any] = {
        "recheck_on": recheck,
        "current_stage": a.stages[-1].stage.value if a.stages else None,
        "current_resolution": (a.stages[-1].resolution.value
                               if a.stages and a.stages[-1].resolution is not None else None),
        "assessed_entity": a.entity.value,
        "entity_source": a.entity_source,
        "suggestions": suggestions_to_json(a),
        "next_follow_up": a.next_follow_up,
        "engine_version": a.engine_version,
        "rules_revision": RULES_REVISION,
        "assessed_version": row.data_version,
    }
    differs = any(getattr(row, k) != v for k, v in want.items())
    if not (differs or rows_changed or row.assessment_due_at is not None):
        return
    plan.changed_lesions.add(lesion.id)
    plan.lesion_updates.append(
        {"b_id": lesion.id, "b_seen": row.data_version, "assessed_at": at, **want}
    )


def plan_assessment(lesion: Loaded, a: LesionAssessment, recheck: date | None, as_of: date,
                    at: datetime, plan: Plan) -> None:
    """Add to the chunk's plan what one lesion's assessment changes (nothing for a rerun)."""
    rows_changed = _plan_stages(lesion, a, at, plan)
    rows_changed = _plan_transitions(lesion, a, plan) or rows_changed
    rows_changed = _plan_alerts(lesion, a.alerts, as_of, at, plan) or rows_changed
    _plan_lesion(lesion, a, at, plan, rows_changed, recheck)
