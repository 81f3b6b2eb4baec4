"""The patient timeline page and the timepoint table: what they show of a patient, as plain
rows in a fixed number of statements, however many lesions and visits.

They show each lesion's site, stage, entity, follow-up and visits, each visit's date, modality,
size, stage and response category, and (the timeline) the uncleared alerts: they read those
columns only, never the assessments' evidence or classifications (JSON neither shows), and build
no ORM objects (an identity-mapped object per row was most of a 50-lesion page's time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from tracker.errors import NotFound
from tracker.models import Alert, Assessment, Lesion, Observation, Patient, versions_current
from tracker.queries.lookup import stored_patient_id
from tracker.queries.stages import PENDING, alert_order
from tracker.vocabulary import AlertState

_LESION_COLUMNS = (Lesion.id, Lesion.external_id, Lesion.compartment, Lesion.region,
                   Lesion.structure, Lesion.laterality, Lesion.entity, Lesion.assessed_entity,
                   Lesion.current_stage, Lesion.current_resolution, Lesion.next_follow_up,
                   Lesion.data_version, Lesion.assessed_version)


@dataclass(frozen=True)
class Visit:
    """One observation as the page shows it: its stage is `pending` until an assessment that
    saw the lesion's current data is stored."""

    date: date
    modality: str
    visible: bool
    size1_mm: float | None
    stage: str
    resolution: str | None
    response: str | None  # the response category (clinical-rules §7a), after a treatment


@dataclass
class PageLesion:
    id: int
    external_id: str
    compartment: str
    region: str
    structure: str | None
    laterality: str
    entity: str | None
    assessed_entity: str | None
    current_stage: str | None
    current_resolution: str | None
    next_follow_up: date | None
    current: bool
    visits: list[Visit] = field(default_factory=list)
    alerts: list[Row[Any]] = field(default_factory=list)  # uncleared, most severe first


@dataclass(frozen=True)
class PatientPage:
    id: int
    external_id: str
    birth_year: int | None
    sex: str | None
    lesions: list[PageLesion]


def patient_visits(session: Session, external_id: str) -> PatientPage:
    """The patient (found as `stored_patient_id` finds it) with its lesions and their visits,
    without alerts: four statements."""
    stored = stored_patient_id(session, external_id)
    patient = session.execute(select(Patient.id, Patient.external_id, Patient.birth_year,
                                     Patient.sex).where(Patient.external_id == stored)).first()
    if patient is None:
        raise NotFound(f"patient {external_id} does not exist")
    lesions: dict[int, PageLesion] = {}
    for r in session.execute(select(*_LESION_COLUMNS).where(Lesion.patient_id == patient.id)
                             .order_by(Lesion.external_id)):
        values = r._asdict()
        current = versions_current(values.pop("data_version"), values.pop("assessed_version"))
        lesions[r.id] = PageLesion(**values, current=current)
    visits = session.execute(
        select(Observation.lesion_id, Observation.date, Observation.modality,
               Observation.visible, Observation.size1_mm, Assessment.stage,
               Assessment.resolution, Assessment.response["category"].as_string())
        .join(Lesion, Lesion.id == Observation.lesion_id)
        .outerjoin(Assessment, Assessment.observation_id == Observation.id)
        .where(Lesion.patient_id == patient.id)
        .order_by(Observation.lesion_id, Observation.date))
    for lesion_id, day, modality, visible, size1_mm, stage, resolution, response in visits:
        lesion = lesions[lesion_id]
        shown = lesion.current and stage is not None
        lesion.visits.append(Visit(day, modality, visible, size1_mm,
                                   stage if shown else PENDING,
                                   resolution if shown else None,
                                   response if shown else None))
    return PatientPage(patient.id, patient.external_id, patient.birth_year, patient.sex,
                       list(lesions.values()))


def timeline_page(session: Session, external_id: str) -> PatientPage:
    """`patient_visits` with each lesion's uncleared alerts, most severe first: five
    statements."""
    page = patient_visits(session, external_id)
    lesions = {lesion.id: lesion for lesion in page.lesions}
    alerts = session.execute(
        select(Alert.lesion_id, Alert.id, Alert.kind, Alert.severity, Alert.rule, Alert.since,
               Alert.reason, Alert.state)
        .join(Lesion, Lesion.id == Alert.lesion_id)
        .where(Lesion.patient_id == page.id, Alert.state != AlertState.CLEARED.value))
    for a in alerts:
        lesions[a.lesion_id].alerts.append(a)
    for lesion in page.lesions:
        lesion.alerts.sort(key=alert_order)
    return page
