"""The patient list's maintained rows (`patient_summaries`): one owner for what they hold and how
they are kept exact.

Every transaction that changes a patient's lesions, observations or alerts calls
`refresh_patient_summaries` with the patients it touched, as its last statements before commit.
It locks those patients' summary rows (in id order: two writers cannot deadlock on them), then
recomputes them from the stored rows in one INSERT ... SELECT ... ON CONFLICT DO UPDATE. The
recompute starts once the locks are granted, so under READ COMMITTED it sees what the previous
holder committed: no lost update, whatever the writers did (cascades included), and a row is
right again after any refresh. SQLite has one writer at a time and needs no row lock.

"Open alerts" here are alerts in state `open`: a snooze counts again once the daily scan has
reopened it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from tracker.db import insert_of
from tracker.models import Alert, Lesion, Observation, Patient, PatientSummary
from tracker.vocabulary import AlertState, Severity

S = cast(Table, PatientSummary.__table__)
COUNTED = ("urgent", "warning", "info", "lesions", "pending", "last_visit", "next_follow_up")


def summary_rows(patient_ids: Iterable[int] | None = None) -> Select[Any]:
    """What each patient's summary holds, computed from the stored rows (all patients, or
    these): the writer's recompute and the check that compares."""
    lesions = select(func.count(Lesion.id)).where(Lesion.patient_id == Patient.id)
    pending = lesions.where(~Lesion.assessment_current)
    follow_up = select(func.min(Lesion.next_follow_up)).where(Lesion.patient_id == Patient.id)
    visit = (select(func.max(Observation.date)).join(Lesion, Lesion.id == Observation.lesion_id)
             .where(Lesion.patient_id == Patient.id))

    def open_alerts(severity: Severity) -> Any:
        return (select(func.count(Alert.id)).join(Lesion, Lesion.id == Alert.lesion_id)
                .where(Lesion.patient_id == Patient.id, Alert.state == AlertState.OPEN.value,
                       Alert.severity == severity.value).scalar_subquery())

    query = select(
        Patient.id.label("patient_id"), Patient.external_id.label("external_id"),
        open_alerts(Severity.URGENT).label("urgent"),
        open_alerts(Severity.WARNING).label("warning"),
        open_alerts(Severity.INFO).label("info"),
        lesions.scalar_subquery().label("lesions"),
        pending.scalar_subquery().label("pending"),
        visit.scalar_subquery().label("last_visit"),
        follow_up.scalar_subquery().label("next_follow_up"),
    )
    if patient_ids is not None:
        query = query.where(Patient.id.in_(sorted(set(patient_ids))))
    return query


def _upsert(session: Session, rows: Select[Any]) -> Insert:
    stmt = insert_of(session, S).from_select(["patient_id", "external_id", *COUNTED], rows)
    return cast(Insert, stmt.on_conflict_do_update(
        index_elements=[S.c.patient_id],
        set_={k: stmt.excluded[k] for k in COUNTED},
    ))


def refresh_patient_summaries(session: Session, patient_ids: Iterable[int]) -> None:
    """Recompute these patients' summaries, under their row locks, in the caller's
    transaction (the caller commits). Call it after the transaction's other writes."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # A new patient's row first (a concurrent creator's insert is waited for, not
        # overwritten with what this snapshot saw), then every row locked in id order.
        session.execute(postgresql.insert(S).from_select(
            ["patient_id", "external_id"],
            select(Patient.id, Patient.external_id).where(Patient.id.in_(ids))
            .order_by(Patient.id)).on_conflict_do_nothing())
        session.execute(select(S.c.patient_id).where(S.c.patient_id.in_(ids))
                        .order_by(S.c.patient_id).with_for_update())
    session.execute(_upsert(session, summary_rows(ids)))


def rebuild_patient_summaries(session: Session) -> int:
    """Every patient's summary recomputed (after rows were written around the services: a
    bulk load, a restore); the caller commits. Returns the number of patients."""
    session.execute(S.delete())
    session.execute(S.insert().from_select(["patient_id", "external_id", *COUNTED],
                                           summary_rows()))
    return int(session.scalar(select(func.count()).select_from(S)) or 0)


def patients_of_lesions(session: Session, lesion_ids: Iterable[int]) -> set[int]:
    """The patients these lesions belong to (one statement)."""
    ids = sorted(set(lesion_ids))
    if not ids:
        return set()
    return set(session.scalars(select(Lesion.patient_id).where(Lesion.id.in_(ids)).distinct()))


def summary_differences(session: Session) -> list[tuple[Any, ...]]:
    """Every patient whose stored summary is missing or differs from a recount (the check
    `tracker check` and the tests run): (patient id, stored values, recounted values)."""
    recount = {r.patient_id: tuple(r[1:]) for r in session.execute(summary_rows())}
    stored = {r.patient_id: tuple(r[1:]) for r in session.execute(
        select(S.c.patient_id, S.c.external_id, *(S.c[k] for k in COUNTED)))}
    return [(pid, stored.get(pid), want) for pid, want in sorted(recount.items())
            if stored.get(pid) != want] + [
        (pid, row, None) for pid, row in sorted(stored.items()) if pid not in recount]
