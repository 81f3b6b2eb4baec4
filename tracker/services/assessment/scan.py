"""The daily alert scan: re-assess only what is due (`due_lesions`), in chunks; and the
reference it is tested against, every lesion (`reassess_all`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tracker.models import Alert, Lesion
from tracker.queries.to_assess import stale_condition
from tracker.services.assessment.assess import (
    DEFAULT_CHUNK,
    ScanReport,
    assess_chunk,
    assess_lesions,
)
from tracker.vocabulary import AlertState, snooze_over


def due_lesions(session: Session, as_of: date) -> list[int]:
    """What the daily scan must re-assess on `as_of`: lesions whose stored assessment can have
    changed with time (`recheck_on <= as_of`, an index range), whose snooze has ended, or that
    are stale (a change not yet assessed, or `stale_lesions`: never assessed, another engine
    version or rules revision, older data).
    Every other lesion would get exactly its stored result again, so the scan costs what is
    due, not the size of the database."""
    snooze_ended = select(Alert.lesion_id).where(
        Alert.state == AlertState.SNOOZED.value, snooze_over(Alert.snoozed_until, as_of)
    )
    ids = list(
        session.scalars(
            select(Lesion.id)
            .where(
                or_(
                    Lesion.recheck_on <= as_of,
                    Lesion.assessment_due_at.is_not(None),
                    stale_condition(),
                    Lesion.id.in_(snooze_ended),
                )
            )
            .order_by(Lesion.id)
        )
    )
    session.rollback()  # no snapshot held while the chunks run
    return ids


def scan_alerts(session: Session, as_of: date, chunk_size: int = DEFAULT_CHUNK) -> ScanReport:
    """The daily scan in this process (CLI, tests): re-assess what is due on `as_of`
    (`due_lesions`): time-dependent alerts (`hadd.no_resolution`, `ho.not_maturing`,
    `any.follow_up_overdue`, ...), ended snoozes, `next_follow_up`, and any lesion whose change
    was never assessed (a lost task). Each chunk is one transaction with a constant number of
    statements. The workers fan the same ids out as batch tasks instead."""
    return assess_lesions(session, due_lesions(session, as_of), as_of, chunk_size)


def reassess_all(session: Session, as_of: date, chunk_size: int = DEFAULT_CHUNK) -> ScanReport:
    """Re-evaluate every lesion, keyset-paginated by id: what the scan did before it had an
    index, kept as the reference the due index is tested against."""
    total = ScanReport()
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(Lesion.id).where(Lesion.id > last).order_by(Lesion.id).limit(chunk_size)
            )
        )
        session.rollback()  # no snapshot held between chunks
        if not ids:
            return total
        total.add(assess_chunk(session, ids, as_of).report)
        last = ids[-1]
