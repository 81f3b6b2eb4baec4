"""Stored rows as the lesion-timeline/1 format writes them: the audit snapshots, the API's
observation entries and the backup export share these shapes (read side: no writes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.errors import NotFound
from tracker.models import Lesion, Observation, Patient, Treatment
from tracker.timeline import FORMAT


def observation_snapshot(obs: Observation) -> dict[str, Any]:
    """An observation as the timeline format writes it (canonical: defaults left out)."""
    out: dict[str, Any] = {"date": obs.date.isoformat(), "modality": obs.modality}
    if not obs.visible:
        out["visible"] = False
    if obs.size_mm:
        out["size_mm"] = obs.size_mm
    for key in ("density", "margin", "texture", "pattern"):
        if getattr(obs, key) is not None:
            out[key] = getattr(obs, key)
    if obs.features:
        out["features"] = obs.features
    if obs.pain is not None:
        out["pain"] = obs.pain
    for key in ("study_uid", "accession", "note"):
        if getattr(obs, key) is not None:
            out[key] = getattr(obs, key)
    return out


def treatment_snapshot(row: Treatment) -> dict[str, Any]:
    """A treatment as the timeline format writes it."""
    out: dict[str, Any] = {"date": row.date.isoformat(), "kind": row.kind}
    if row.note is not None:
        out["note"] = row.note
    return out


def lesion_snapshot(lesion: Lesion) -> dict[str, Any]:
    site: dict[str, Any] = {
        "compartment": lesion.compartment,
        "region": lesion.region,
        "laterality": lesion.laterality,
    }
    if lesion.structure is not None:
        site["structure"] = lesion.structure
    out: dict[str, Any] = {"id": lesion.external_id, "site": site}
    if lesion.entity is not None:
        out["entity"] = lesion.entity
    if lesion.event_date is not None:
        out["event_date"] = lesion.event_date.isoformat()
    if lesion.event_kind is not None:
        out["event_kind"] = lesion.event_kind
    return out


def patient_snapshot(patient: Patient) -> dict[str, Any]:
    out: dict[str, Any] = {"id": patient.external_id}
    if patient.birth_year is not None:
        out["birth_year"] = patient.birth_year
    if patient.sex is not None:
        out["sex"] = patient.sex
    return out


def export_timeline(session: Session, patient_external_id: str | None = None) -> dict[str, Any]:
    """The stored record as lesion-timeline/1: the backup format (import gives it back)."""
    query = (
        select(Patient)
        .order_by(Patient.external_id)
        .options(
            selectinload(Patient.lesions)
            .selectinload(Lesion.observations)
            .selectinload(Observation.feature_rows)
        )
    )
    if patient_external_id is not None:
        query = query.where(Patient.external_id == patient_external_id)
    patients = list(session.scalars(query))
    if patient_external_id is not None and not patients:
        raise NotFound(f"patient {patient_external_id} does not exist")
    return {
        "format": FORMAT,
        "patients": [
            {
                **patient_snapshot(p),
                "lesions": [
                    {
                        **lesion_snapshot(lesion),
                        "observations": [observation_snapshot(o) for o in lesion.observations],
                    }
                    for lesion in p.lesions
                ],
            }
            for p in patients
        ],
    }
