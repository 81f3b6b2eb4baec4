"""Which lesions to assess: stale ones (the hourly job, `tracker assess --stale`), a patient's,
every one. Lists of ids, in id order."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from tracker.engine import ENGINE_VERSION, RULES_REVISION
from tracker.models import Lesion
from tracker.queries.lookup import find_patient


def stale_condition() -> ColumnElement[bool]:
    """A stale lesion: never assessed, assessed by another engine version or under another
    revision of the clinical rules, or whose stored assessment saw older data than it holds.
    One definition for the hourly job and the daily scan's due index."""
    return or_(
        Lesion.engine_version.is_(None),
        Lesion.engine_version != ENGINE_VERSION,
        Lesion.rules_revision.is_(None),
        Lesion.rules_revision != RULES_REVISION,
        ~Lesion.assessment_current,
    )


def stale_lesions(session: Session) -> list[int]:
    """Stale lesions (`stale_condition`): a safety net for anything the outbox mark missed."""
    return list(session.scalars(select(Lesion.id).where(stale_condition()).order_by(Lesion.id)))


def lesions_of_patient(session: Session, patient_external_id: str) -> list[int]:
    patient = find_patient(session, patient_external_id)
    return list(
        session.scalars(
            select(Lesion.id).where(Lesion.patient_id == patient.id).order_by(Lesion.id)
        )
    )


def all_lesions(session: Session) -> list[int]:
    return list(session.scalars(select(Lesion.id).order_by(Lesion.id)))
