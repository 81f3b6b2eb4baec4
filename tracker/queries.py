"""Read-side queries shared by the CLI, the API and the pages. Nouns, no writes.

Every query loads what it shows in a fixed number of statements (selectinload), whatever the
number of lesions and observations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.errors import NotFound
from tracker.models import Alert, Lesion, Observation, Patient
from tracker.services.records import observation_snapshot
from tracker.vocabulary import SEVERITY_RANK, AlertState, Severity

PENDING = "pending"


def patient_with_everything(session: Session, external_id: str) -> Patient:
    """A patient with lesions, observations (features, assessment), transitions and alerts."""
    patient = session.scalar(
        select(Patient)
        .where(Patient.external_id == external_id)
        .options(
            selectinload(Patient.lesions).options(
                selectinload(Lesion.observations).options(
                    selectinload(Observation.feature_rows),
                    selectinload(Observation.assessment),
                ),
                selectinload(Lesion.transitions),
                selectinload(Lesion.alerts),
            )
        )
    )
    if patient is None:
        raise NotFound(f"patient {external_id} does not exist")
    return patient


def is_current(lesion: Lesion) -> bool:
    """The stored assessment saw the lesion's latest data."""
    return lesion.assessed_version is not None and lesion.assessed_version == lesion.data_version


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "rule": alert.rule,
        "since": alert.since.isoformat(),
        "reason": alert.reason,
        "state": alert.state,
        "state_by": alert.state_by,
        "state_at": alert.state_at.isoformat() if alert.state_at else None,
        "state_reason": alert.state_reason,
        "snoozed_until": alert.snoozed_until.isoformat() if alert.snoozed_until else None,
    }


def open_alerts_of(lesion: Lesion) -> list[Alert]:
    """Uncleared alerts (open, acknowledged or snoozed), most severe first."""
    alive = [a for a in lesion.alerts if a.state != AlertState.CLEARED.value]
    return sorted(alive, key=lambda a: (SEVERITY_RANK[Severity(a.severity)], a.since, a.rule))


def lesion_json(lesion: Lesion) -> dict[str, Any]:
    """One lesion as `tracker show --json` and the API print it.

    A stage is `pending` until an assessment that saw the current data is stored.
    """
    current = is_current(lesion)
    observations = []
    for obs in lesion.observations:
        entry: dict[str, Any] = {"id": obs.id, **observation_snapshot(obs)}
        a = obs.assessment
        if a is not None and current:
            entry["stage"] = a.stage
            entry["confidence"] = a.confidence
            entry["evidence"] = list(a.evidence)
            if a.classifications:
                entry["classifications"] = dict(a.classifications)
        else:
            entry["stage"] = PENDING
        observations.append(entry)
    return {
        "id": lesion.id,
        "lesion": lesion.external_id,
        "site": {
            "compartment": lesion.compartment,
            "region": lesion.region,
            "structure": lesion.structure,
            "laterality": lesion.laterality,
        },
        "entity": lesion.entity,
        "event_date": lesion.event_date.isoformat() if lesion.event_date else None,
        "assessment": {
            "status": "current" if current else PENDING,
            "stage": lesion.current_stage if current else PENDING,
            "entity": lesion.assessed_entity,
            "entity_source": lesion.entity_source,
            "suggested_entities": lesion.suggestions or [],
            "next_follow_up": lesion.next_follow_up.isoformat() if lesion.next_follow_up else None,
            "engine_version": lesion.engine_version,
            "assessed_at": lesion.assessed_at.isoformat() if lesion.assessed_at else None,
        },
        "observations": observations,
        "transitions": [
            {
                "date": t.date.isoformat(),
                "from": t.from_stage,
                "to": t.to_stage,
                "evidence": list(t.evidence),
                "unexpected": t.unexpected,
            }
            for t in lesion.transitions
        ],
        "alerts": [alert_json(a) for a in open_alerts_of(lesion)],
    }


def patient_record(session: Session, external_id: str) -> dict[str, Any]:
    """What is stored for a patient: the stable `tracker show --json` document."""
    patient = patient_with_everything(session, external_id)
    return {
        "format": "calcitrack-patient/1",
        "patient": patient.external_id,
        "birth_year": patient.birth_year,
        "sex": patient.sex,
        "lesions": [lesion_json(lesion) for lesion in patient.lesions],
    }
