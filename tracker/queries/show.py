"""A patient's stored record as `tracker show --json` and the API print it (the stable
`calcitrack-patient/1` document; also what the FHIR export reads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, object_session

from tracker.export import observation_snapshot, treatment_snapshot
from tracker.models import Alert, Lesion
from tracker.queries.columns import columns_json, iso
from tracker.queries.patient_timeline import patient_with_everything
from tracker.queries.prognosis import LatestFits, latest_fits, lesion_prognosis
from tracker.queries.stages import (
    assessment_status,
    lesion_stage,
    observation_stage,
    open_alerts_of,
    shown_assessment,
)


def alert_json(alert: Alert) -> dict[str, Any]:
    return columns_json(alert, "id", "kind", "severity", "rule", "since", "reason", "state",
                        "state_by", "state_at", "state_reason", "snoozed_until")


def lesion_json(lesion: Lesion, fits: LatestFits | None = None,
                birth_year: int | None = None) -> dict[str, Any]:
    """One lesion as `tracker show --json` and the API print it.

    A stage is `pending` until an assessment that saw the current data is stored. The
    prognosis comes from the latest stored fits (`fits`, read once per document; else read
    here) and the patient's birth year (else the loaded patient's).
    """
    if fits is None:
        session = object_session(lesion)
        assert session is not None, "a lesion_json of a detached lesion"
        fits = latest_fits(session)
    if birth_year is None and "patient" in lesion.__dict__:
        birth_year = lesion.patient.birth_year
    current = lesion.assessment_current
    observations = []
    for obs in lesion.observations:
        entry: dict[str, Any] = {"id": obs.id, "version": obs.version,
                                 **observation_snapshot(obs)}
        a = shown_assessment(obs, current)
        entry["stage"] = observation_stage(obs, current)
        if a is not None and a.resolution is not None:
            entry["resolution"] = a.resolution
        if a is not None:
            entry["confidence"] = a.confidence
            entry["evidence"] = list(a.evidence)
            if a.classifications:
                entry["classifications"] = dict(a.classifications)
            entry["response"] = a.response
        observations.append(entry)
    return {
        "id": lesion.id,
        "lesion": lesion.external_id,
        "version": lesion.data_version,
        "site": {
            "compartment": lesion.compartment,
            "region": lesion.region,
            "structure": lesion.structure,
            "laterality": lesion.laterality,
        },
        "entity": lesion.entity,
        "event_date": iso(lesion.event_date),
        "event_kind": lesion.event_kind,
        "treatments": [{"id": t.id, **treatment_snapshot(t)} for t in lesion.treatments],
        "assessment": {
            "status": assessment_status(current),
            "stage": lesion_stage(lesion),
            "resolution": lesion.current_resolution if current else None,
            "entity": lesion.assessed_entity,
            "entity_source": lesion.entity_source,
            "suggested_entities": lesion.suggestions or [],
            "next_follow_up": iso(lesion.next_follow_up),
            "engine_version": lesion.engine_version,
            "rules_revision": lesion.rules_revision,
            "assessed_at": iso(lesion.assessed_at),
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
        "prognosis": lesion_prognosis(lesion, birth_year, fits),
    }


def patient_record(session: Session, external_id: str, fits: LatestFits | None = None
                   ) -> dict[str, Any]:
    """What is stored for a patient: the stable `tracker show --json` document (`fits`: the
    latest prognosis fits, read once by a caller writing many patients)."""
    patient = patient_with_everything(session, external_id)
    fits = latest_fits(session) if fits is None else fits
    return {
        "format": "calcitrack-patient/1",
        "patient": patient.external_id,
        "birth_year": patient.birth_year,
        "sex": patient.sex,
        "lesions": [lesion_json(lesion, fits, patient.birth_year)
                    for lesion in patient.lesions],
    }
