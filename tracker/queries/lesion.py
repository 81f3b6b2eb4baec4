"""The lesion page (and the API's lesion): a lesion with everything it shows, what its cached
chart depends on, the visit a follow-up form compares with, the lesions to choose from."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from tracker.errors import NotFound
from tracker.models import Lesion, Observation
from tracker.queries.lookup import by_id


def everything_of_a_lesion() -> tuple[_AbstractLoad, ...]:
    """What a page shows of a lesion: observations (features, assessment), treatments,
    transitions and alerts (also loaded for each lesion of a patient's timeline)."""
    return (
        selectinload(Lesion.observations).options(
            selectinload(Observation.feature_rows),
            selectinload(Observation.assessment),
        ),
        selectinload(Lesion.treatments),
        selectinload(Lesion.transitions),
        selectinload(Lesion.alerts),
    )


def lesion_with_everything(session: Session, lesion_id: int) -> Lesion:
    """A lesion with its patient, observations (features, assessment), treatments, transitions
    and alerts."""
    return by_id(session, Lesion, lesion_id, selectinload(Lesion.patient),
                 *everything_of_a_lesion())


def lesion_versions(session: Session, lesion_id: int) -> tuple[int, int | None]:
    """(data_version, assessed_version): what a cached chart of the lesion depends on."""
    row = session.execute(
        select(Lesion.data_version, Lesion.assessed_version).where(Lesion.id == lesion_id)
    ).first()
    if row is None:
        raise NotFound(f"lesion {lesion_id} does not exist")
    return int(row[0]), row[1]


def patient_lesions(session: Session, patient_id: int) -> list[Lesion]:
    """The patient's lesions (no observations), for choosing one."""
    return list(session.scalars(select(Lesion).where(Lesion.patient_id == patient_id)
                                .order_by(Lesion.external_id)))


def previous_visit(session: Session, lesion_id: int, before: date,
                   exclude: int | None = None) -> Observation | None:
    """The lesion's last observation dated before `before` (the follow-up form's reference)."""
    query = (
        select(Observation)
        .where(Observation.lesion_id == lesion_id, Observation.date < before)
        .options(selectinload(Observation.feature_rows))
        .order_by(Observation.date.desc())
        .limit(1)
    )
    if exclude is not None:
        query = query.where(Observation.id != exclude)
    return session.scalar(query)
