"""Finding one stored record by its id, or saying that it does not exist (`NotFound`).

The read side (`tracker.queries`) is shared by the CLI, the API, the pages and the services:
nouns, no writes. Every query loads what it shows in a fixed number of statements
(selectinload), whatever the number of lesions and observations. Nothing here commits or rolls
back: the caller's session scope ends the read transaction. Imports the models, never
`tracker.services`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from tracker.errors import Conflict, NotFound
from tracker.models import Alert, Lesion, Observation, Patient, Treatment

R = TypeVar("R")
Row = TypeVar("Row", Lesion, Observation, Treatment, Alert)


def one(session: Session, query: Select[tuple[R]], missing: str) -> R:
    """The one row a query finds, or NotFound saying what is missing."""
    row = session.scalar(query)
    if row is None:
        raise NotFound(missing)
    return row


def by_id(session: Session, model: type[Row], row_id: int, *options: ORMOption) -> Row:
    """A lesion, observation, treatment or alert by id, with what `options` load; NotFound
    names it (`lesion 7 does not exist`)."""
    query: Select[tuple[Any]] = select(model).where(model.id == row_id).options(*options)
    found: Row = one(session, query, f"{model.__name__.lower()} {row_id} does not exist")
    return found


def load_lesion(session: Session, lesion_id: int) -> Lesion:
    """A lesion with its patient and observations (and their features) loaded."""
    return by_id(session, Lesion, lesion_id, selectinload(Lesion.patient),
                 selectinload(Lesion.observations).selectinload(Observation.feature_rows))


def load_observation(session: Session, observation_id: int) -> Observation:
    """An observation with its features, and its lesion with the patient. The lesion is read
    in the observation's own statement (a join): read after it, a merge committed in between
    could have deleted the lesion the observation was read with."""
    return by_id(session, Observation, observation_id, selectinload(Observation.feature_rows),
                 joinedload(Observation.lesion, innerjoin=True)
                 .joinedload(Lesion.patient, innerjoin=True))


def load_treatment(session: Session, treatment_id: int) -> Treatment:
    """A treatment with its lesion and the lesion's patient (for forms)."""
    return by_id(session, Treatment, treatment_id,
                 joinedload(Treatment.lesion, innerjoin=True)
                 .joinedload(Lesion.patient, innerjoin=True))  # one statement, as above


def alert_with_lesion(session: Session, alert_id: int) -> Alert:
    return by_id(session, Alert, alert_id,
                 selectinload(Alert.lesion).selectinload(Lesion.patient))


def patient_exists(session: Session, external_id: str) -> bool:
    return session.scalar(select(Patient.id).where(Patient.external_id == external_id)) is not None


def stored_patient_id(session: Session, external_id: str) -> str:
    """The stored id for what a person typed: the exact id, else the one id that equals it
    ignoring case (`demo-001` finds `DEMO-001`); ids differing only in case are ambiguous."""
    exact = session.scalar(select(Patient.external_id).where(Patient.external_id == external_id))
    if exact is not None:
        return exact
    matches = list(session.scalars(
        select(Patient.external_id)
        .where(func.lower(Patient.external_id) == external_id.lower())
        .order_by(Patient.external_id).limit(5)
    ))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise Conflict(f"patient {external_id} is ambiguous: {', '.join(matches)} differ only "
                       "in case; give the exact id")
    raise NotFound(f"patient {external_id} does not exist")


def exact_patient(session: Session, typed: str) -> str | None:
    """The stored id a search names exactly, as `stored_patient_id` finds it (the exact id,
    else the one id equal ignoring case), or None when it names none or several: one
    statement (by the btree on `lower(external_id)`)."""
    found = list(session.scalars(
        select(Patient.external_id).where(func.lower(Patient.external_id) == typed.lower())
        .order_by(Patient.external_id).limit(5)))
    if typed in found:
        return typed
    return found[0] if len(found) == 1 else None


def find_patient(session: Session, external_id: str) -> Patient:
    return one(session, select(Patient).where(Patient.external_id == external_id),
               f"patient {external_id} does not exist")


def patient_ids(session: Session) -> list[str]:
    """Every patient's id, in id order (exports that go patient by patient)."""
    return list(session.scalars(select(Patient.external_id).order_by(Patient.external_id)))
