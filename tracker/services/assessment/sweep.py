"""Lost assessment tasks: which changed lesions to send again (`sweep_pending`), and the stamp
that says a broker accepted a lesion's task (`mark_dispatched`), so that the sweep leaves a task
waiting in a queue alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from tracker.clock import now
from tracker.models import Lesion
from tracker.services.assessment.assess import DEFAULT_CHUNK, chunks
from tracker.services.assessment.load import LESIONS


def sweep_pending(
    session: Session, grace_seconds: int, resend_after_seconds: int | None = None
) -> list[int]:
    """Lesions whose assessment task is really lost: changed more than `grace_seconds` ago,
    still not assessed, and either never handed to a broker since that change
    (`dispatched_at` missing or older than the change: the broker was down) or handed over
    more than `resend_after_seconds` ago (a message a broker lost). A lesion whose task is
    still queued behind a backlog is not re-sent. The caller sends them (which stamps
    `dispatched_at`, see `mark_dispatched`). Read-only."""
    at = now()
    cutoff = at - timedelta(seconds=grace_seconds)
    lost = [Lesion.dispatched_at.is_(None), Lesion.dispatched_at < Lesion.assessment_due_at]
    if resend_after_seconds is not None:
        lost.append(Lesion.dispatched_at <= at - timedelta(seconds=resend_after_seconds))
    ids = list(
        session.scalars(
            select(Lesion.id)
            .where(
                Lesion.assessment_due_at.is_not(None),
                Lesion.assessment_due_at <= cutoff,
                or_(*lost),
            )
            .order_by(Lesion.id)
        )
    )
    session.rollback()
    return ids


_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit TO OFF")


def mark_dispatched(session: Session, lesion_ids: Sequence[int]) -> None:
    """Stamp lesions whose assessment task a broker accepted just now (one statement per
    chunk of ids), so the sweep leaves them alone while their task waits in the queue.

    On PostgreSQL, in a transaction of its own, the commit does not wait for the WAL flush: the
    stamp is a hint (lost in a crash, it costs an early re-send, like a failed stamp), and the
    worker assessing the lesion waits for this row lock (1-3 ms of each task's latency).

    A lesion whose row another transaction holds (the next import, an edit, the worker already
    assessing it) is skipped (PostgreSQL: SKIP LOCKED), never waited for: waiting while holding
    the rows stamped so far deadlocked with an import locking the same lesions, and the import
    could be the one refused. An unstamped lesion only costs a re-send by the sweep, which the
    task, idempotent, absorbs."""
    at = now()
    postgres = session.get_bind().dialect.name == "postgresql"
    if not session.in_transaction() and postgres:
        session.execute(_NO_FLUSH_WAIT)
    for chunk in chunks(sorted(set(lesion_ids)), DEFAULT_CHUNK):
        ids: Any = chunk
        if postgres:
            ids = (select(LESIONS.c.id).where(LESIONS.c.id.in_(chunk)).order_by(LESIONS.c.id)
                   .with_for_update(skip_locked=True, key_share=True))
        session.execute(update(LESIONS).where(LESIONS.c.id.in_(ids)).values(dispatched_at=at))
    session.commit()
