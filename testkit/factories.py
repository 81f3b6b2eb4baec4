"""Factories that state only what a test needs (defaults for everything else)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from tracker.models import Lesion, Observation, ObservationFeature, Patient, Treatment
from tracker.services.records import mark_for_assessment
from tracker.summaries import refresh_patient_summaries

_counter = iter(range(1, 10**9))


def make_patient(session: Session, external_id: str | None = None, **kw: Any) -> Patient:
    patient = Patient(external_id=external_id or f"P-{next(_counter):05d}", **kw)
    session.add(patient)
    session.flush()
    refresh_patient_summaries(session, [patient.id])  # as an import would
    return patient


def obs(
    day: str,
    size: float | None = 10.0,
    density: str | None = "dense",
    margin: str | None = "well_defined",
    *,
    modality: str = "XR",
    texture: str | None = "homogeneous",
    pattern: str | None = "nodular",
    features: tuple[str, ...] = (),
    visible: bool = True,
    pain: int | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """One observation's columns; `visible=False` drops size and morphology."""
    if not visible:
        size = density = margin = texture = pattern = None
    return {
        "date": date.fromisoformat(day),
        "modality": modality,
        "visible": visible,
        "size1_mm": size,
        "density": density,
        "margin": margin,
        "texture": texture,
        "pattern": pattern,
        "pain": pain,
        "note": note,
        "features": features,
    }


# A lesion's columns unless a test says otherwise: a right supraspinatus HADD deposit.
LESION_DEFAULTS: dict[str, Any] = {
    "external_id": "L1", "compartment": "tendon", "region": "shoulder", "laterality": "right",
    "structure": "supraspinatus", "entity": "hadd", "event_date": None, "event_kind": None,
}


def make_lesion(
    session: Session,
    *,
    patient: Patient | None = None,
    observations: list[dict[str, Any]] | None = None,
    treatments: list[tuple[str, str]] | None = None,
    commit: bool = True,
    **columns: Any,
) -> Lesion:
    """A lesion with its observations, marked for assessment like the service would; its
    other columns are `LESION_DEFAULTS` but for the `columns` given."""
    unknown = set(columns) - set(LESION_DEFAULTS)
    assert not unknown, f"not a lesion column of this factory: {sorted(unknown)}"
    patient = patient or make_patient(session)
    lesion = Lesion(patient_id=patient.id, data_version=0, **{**LESION_DEFAULTS, **columns})
    session.add(lesion)
    session.flush()
    for o in observations or []:
        cols = dict(o)
        features = cols.pop("features", ())
        row = Observation(lesion_id=lesion.id, **cols)
        row.feature_rows = [ObservationFeature(feature=f) for f in features]
        session.add(row)
    for day, kind in treatments or []:
        session.add(Treatment(lesion_id=lesion.id, date=date.fromisoformat(day), kind=kind))
    mark_for_assessment(lesion)
    refresh_patient_summaries(session, [patient.id])  # as the services do before commit
    if commit:
        session.commit()
    return lesion


def lesions_sharing_a_visit_day(session: Session, patient_id: str) -> tuple[int, int]:
    """Two lesions of one patient, A and B, both seen on 2024-03-01 (the day a merge must ask
    about), each with one visit of its own: their ids."""
    patient = make_patient(session, patient_id)
    a = make_lesion(session, patient=patient, external_id="A",
                    observations=[obs("2024-01-10", 12), obs("2024-03-01", 11)])
    b = make_lesion(session, patient=patient, external_id="B",
                    observations=[obs("2024-03-01", 10.5), obs("2024-06-01", 9)])
    return a.id, b.id


# A HADD deposit seen unchanged for a year (clinical-rules §4 `hadd.no_resolution`): resting,
# with no_resolution and, as time passes, follow_up_overdue.
PERSISTENT = [
    obs("2024-01-10", 12),
    obs("2024-04-12", 12.5),
    obs("2024-07-15", 12),
    obs("2025-01-20", 12.5),
]
