"""The only writer of a lesion's treatments (lavage, ESWT, injection, surgery, radiotherapy,
NSAID): record, correct, remove.

Each function is one transaction: it locks the lesion row, re-checks the treatment against the
stored lesion with the timeline's own date rules, writes the change with its audit event
(before and after, read under the lock) and the lesion's outbox mark, and commits. A treatment
changes the engine's evidence, response and follow-up, so it is re-assessed like an
observation change; the caller queues the assessment after the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tracker.audit import audit, required_reason
from tracker.errors import Conflict, InvalidInput, NotFound
from tracker.export import treatment_snapshot
from tracker.models import Lesion, Treatment
from tracker.services.records import add_to_lesion, mark_for_assessment, sqlite_write_lock
from tracker.summaries import refresh_patient_summaries
from tracker.timeline.models import TreatmentIn
from tracker.timeline.problems import date_problems, same_treatment_message


def lock_lesion(session: Session, lesion_id: int) -> Lesion:
    """The lesion, its patient and its treatments, read after taking the lesion's row lock
    (PostgreSQL: FOR UPDATE; SQLite: the database write lock, taken by a no-op UPDATE as the
    transaction's first statement), so concurrent writers of one lesion queue up."""
    sqlite_write_lock(session, lesion_id)
    lesion = session.scalar(
        select(Lesion)
        .where(Lesion.id == lesion_id)
        .options(selectinload(Lesion.patient), selectinload(Lesion.treatments))
        .with_for_update(of=Lesion)
        .execution_options(populate_existing=True)
    )
    if lesion is None:
        session.rollback()
        raise NotFound(f"lesion {lesion_id} does not exist")
    return lesion


def _lesion_of(session: Session, treatment_id: int) -> int:
    lesion_id = session.scalar(select(Treatment.lesion_id).where(Treatment.id == treatment_id))
    if lesion_id is None:
        session.rollback()
        raise NotFound(f"treatment {treatment_id} does not exist")
    return lesion_id


def _locked_treatment(session: Session, treatment_id: int) -> tuple[Lesion, Treatment]:
    """The treatment under its lesion's lock; a merge that moved it between the lookup and the
    lock is followed to its new lesion (one lock per lesion, never two at once: a merge holds
    both of its lesions' locks, so waiting on one while holding another could deadlock)."""
    for _ in range(3):
        try:
            lesion = lock_lesion(session, _lesion_of(session, treatment_id))
        except NotFound:  # its lesion merged away between the lookup and the lock
            continue
        row = next((t for t in lesion.treatments if t.id == treatment_id), None)
        if row is not None:
            return lesion, row
        session.rollback()  # moved or removed meanwhile: release the lock, look again
    raise NotFound(f"treatment {treatment_id} does not exist")


def _check(session: Session, lesion: Lesion, treatment: TreatmentIn,
           row: Treatment | None = None) -> None:
    """What the treatment alone cannot know: the stored lesion's birth year, event date and
    other treatments. The same rules and words as in a timeline file."""
    problems = list(date_problems(treatment.date, "date",
                                  birth_year=lesion.patient.birth_year,
                                  event_date=lesion.event_date))
    if problems:
        session.rollback()
        raise InvalidInput(problems)
    clash = next((t for t in lesion.treatments if t is not row and t.date == treatment.date
                  and t.kind == treatment.kind.value), None)
    if clash is not None:
        session.rollback()
        raise Conflict(same_treatment_message(
            treatment.date, treatment.kind.value,
            f"a treatment of lesion {lesion.external_id}"))


@contextmanager
def _one_of_a_kind_per_day(session: Session, lesion: Lesion, treatment: TreatmentIn
                           ) -> Iterator[None]:
    """The unique constraint behind `_check`, for a writer that bypassed the lock."""
    try:
        yield
    except IntegrityError as exc:
        session.rollback()
        if "uq_treatments_lesion_id_date_kind" in str(exc.orig) or "treatments." in str(exc.orig):
            raise Conflict(same_treatment_message(
                treatment.date, treatment.kind.value,
                f"a treatment of lesion {lesion.external_id}")) from exc
        raise


def _apply(row: Treatment, treatment: TreatmentIn) -> None:
    row.date = treatment.date
    row.kind = treatment.kind.value
    row.note = treatment.note


def record_treatment(session: Session, lesion_id: int, treatment: TreatmentIn, *,
                     actor: str) -> Treatment:
    lesion = lock_lesion(session, lesion_id)
    _check(session, lesion, treatment)
    row = Treatment(lesion_id=lesion.id)
    _apply(row, treatment)
    add_to_lesion(session, lesion, row, _one_of_a_kind_per_day(session, lesion, treatment),
                  actor=actor, kind="treatment", snapshot=treatment_snapshot)
    return row


def update_treatment(session: Session, treatment_id: int, treatment: TreatmentIn, *,
                     actor: str) -> Treatment:
    """Replace every field of a treatment; nothing is written when nothing changes."""
    lesion, row = _locked_treatment(session, treatment_id)
    _check(session, lesion, treatment, row)
    before = treatment_snapshot(row)
    _apply(row, treatment)
    after = treatment_snapshot(row)
    if before != after:
        mark_for_assessment(lesion)
        audit(session, actor, "treatment.update", "treatment", row.id, before, after)
    with _one_of_a_kind_per_day(session, lesion, treatment):
        if before != after:
            refresh_patient_summaries(session, [lesion.patient_id])
        session.commit()
    return row


def delete_treatment(session: Session, treatment_id: int, *, actor: str,
                     reason: str | None) -> int:
    """Remove a treatment recorded in error; returns its lesion id (to re-assess). A removal
    needs a reason, kept in the audit with what was removed (nothing happens without one)."""
    reason = required_reason(reason, "say briefly why this treatment is removed")
    lesion, row = _locked_treatment(session, treatment_id)
    before = treatment_snapshot(row)
    session.delete(row)
    mark_for_assessment(lesion)
    audit(session, actor, "treatment.delete", "treatment", treatment_id, before, None,
          reason=reason)
    refresh_patient_summaries(session, [lesion.patient_id])
    session.commit()
    return lesion.id
