"""A patient's timeline chart, the printable report and `tracker show`: the patient with every
lesion and all they show, and what the cached timeline chart depends on. (The timeline page and
the timepoint table read plain rows: tracker.queries.timeline_page.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.errors import NotFound
from tracker.models import Alert, Lesion, Patient
from tracker.queries.lesion import everything_of_a_lesion
from tracker.queries.lookup import one, stored_patient_id
from tracker.vocabulary import AlertState


def patient_with_everything(session: Session, external_id: str) -> Patient:
    """A patient with lesions, observations (features, assessment), treatments, transitions and
    alerts."""
    return one(
        session,
        select(Patient)
        .where(Patient.external_id == stored_patient_id(session, external_id))
        .options(selectinload(Patient.lesions).options(*everything_of_a_lesion())),
        f"patient {external_id} does not exist",
    )


def patient_versions(session: Session, external_id: str) -> tuple[tuple[object, ...], ...]:
    """What a cached timeline chart of the patient depends on, in two statements: each lesion's
    (id, data_version, assessed_version) and each uncleared alert's (id, severity, since)."""
    rows = session.execute(
        select(Patient.id, Lesion.id, Lesion.data_version, Lesion.assessed_version)
        .outerjoin(Lesion, Lesion.patient_id == Patient.id)
        .where(Patient.external_id == external_id)
        .order_by(Lesion.id)
    ).all()
    if not rows:
        raise NotFound(f"patient {external_id} does not exist")
    alerts = session.execute(
        select(Alert.id, Alert.severity, Alert.since)
        .join(Lesion, Alert.lesion_id == Lesion.id)
        .where(Lesion.patient_id == rows[0][0], Alert.state != AlertState.CLEARED.value)
        .order_by(Alert.id)
    ).all()
    lesions = tuple((r[1], r[2], r[3]) for r in rows if r[1] is not None)
    return (*lesions, ("alerts",), *((a[0], a[1], a[2].isoformat()) for a in alerts))
