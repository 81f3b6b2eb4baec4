"""Factories that state only what a test needs (defaults for everything else)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from tracker.models import Lesion, Observation, ObservationFeature, Patient, Treatment
from tracker.services.records import mark_for_assessment

_counter = iter(range(1, 10**9))


def make_patient(session: Session, external_id: str | None = None, **kw: Any) -> Patient:
    patient = Patient(external_id=external_id or f"P-{next(_counter):05d}", **kw)
    session.add(patient)
    session.flush()
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


def make_lesion(
    session: Session,
    *,
    patient: Patient | None = None,
    external_id: str = "L1",
    compartment: str = "tendon",
    region: str = "shoulder",
    laterality: str = "right",
    structure: str | None = "supraspinatus",
    entity: str | None = "hadd",
    event_date: date | None = None,
    event_kind: str | None = None,
    observations: list[dict[str, Any]] | None = None,
    treatments: list[tuple[str, str]] | None = None,
    commit: bool = True,
) -> Lesion:
    """A lesion with its observations, marked for assessment like the service would."""
    patient = patient or make_patient(session)
    lesion = Lesion(
        patient_id=patient.id,
        external_id=external_id,
        compartment=compartment,
        region=region,
        laterality=laterality,
        structure=structure,
        entity=entity,
        event_date=event_date,
        event_kind=event_kind,
        data_version=0,
    )
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
    if commit:
        session.commit()
    return lesion


# A HADD deposit seen unchanged for a year (clinical-rules §4 `hadd.no_resolution`): resting,
# with no_resolution and, as time passes, follow_up_overdue.
PERSISTENT = [
    obs("2024-01-10", 12),
    obs("2024-04-12", 12.5),
    obs("2024-07-15", 12),
    obs("2025-01-20", 12.5),
]
