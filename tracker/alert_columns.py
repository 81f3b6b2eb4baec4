"""The lesion's columns the worklist filters by, copied onto its uncleared alerts.

Each worklist filter (patient, region, entity, stage, overdue) is then an index on the alerts
alone, led by the filter's column and followed by the sort, instead of a join of every
candidate alert to its lesion. The one writer of the copies: called, in the writer's
transaction, wherever a lesion's values change (the assessment chunk, a site correction, an
import's lesion update, a split or merge), by the migration's backfill and by `tracker db
worklist --repair` (rows written around the services).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, Update, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.orm import Session

from tracker.db import lock_against_writers
from tracker.models import Alert, Lesion
from tracker.vocabulary import AlertState

ALERTS: Table = Alert.__table__  # type: ignore[assignment]
LESIONS: Table = Lesion.__table__  # type: ignore[assignment]


# What each copied column holds: `entity` is the filter's meaning (the clinician's entity,
# else the assessed one).
COPIES: dict[str, Any] = {
    "patient_id": LESIONS.c.patient_id,
    "region": LESIONS.c.region,
    "entity": func.coalesce(LESIONS.c.entity, LESIONS.c.assessed_entity),
    "stage": LESIONS.c.current_stage,
    "next_follow_up": LESIONS.c.next_follow_up,
}


def _copying(*where: ColumnElement[bool]) -> Update:
    """UPDATE ... FROM (both engines): each uncleared alert joined to its lesion once."""
    return (update(ALERTS)
            .where(ALERTS.c.lesion_id == LESIONS.c.id,
                   ALERTS.c.state != AlertState.CLEARED.value, *where)
            .values(COPIES))


_SYNC = _copying(LESIONS.c.id.in_(bindparam("b_ids", expanding=True)))


def _differs() -> ColumnElement[bool]:
    """An uncleared alert whose copies are not its lesion's values (joined on lesion_id)."""
    return or_(*(ALERTS.c[name].is_distinct_from(value) for name, value in COPIES.items()))


def copy_differences(conn: Connection | Session) -> tuple[int, int | None]:
    """How many uncleared alerts hold other values than their lesion's, and the first
    (lowest alert id): one scan of the uncleared alerts, as the repair's."""
    found = conn.execute(
        select(func.count(), func.min(ALERTS.c.id))
        .select_from(ALERTS.join(LESIONS, ALERTS.c.lesion_id == LESIONS.c.id))
        .where(ALERTS.c.state != AlertState.CLEARED.value, _differs())
    ).one()
    return int(found[0]), found[1]


def repair_copies(session: Session) -> int:
    """Copy every lesion's current values onto those of its uncleared alerts that differ (rows
    written around the services, e.g. a bulk SQL load); how many alerts were mended.

    On PostgreSQL the lesions are locked against writers until the caller commits: a worker
    changing a lesion meanwhile would otherwise have its alerts' new copies overwritten with
    the values the UPDATE's snapshot joined (PostgreSQL re-reads a locked alert row, not the
    lesion it was joined to)."""
    lock_against_writers(session, "lesions")
    mended: CursorResult[Any] = session.execute(_copying(_differs()))  # type: ignore[assignment]
    return int(mended.rowcount)


def sync_alert_columns(conn: Connection | Session, lesion_ids: Sequence[int]) -> None:
    """Copy the lesions' current values onto their uncleared alerts (one statement)."""
    ids = sorted(set(lesion_ids))
    if ids:
        conn.execute(_SYNC, {"b_ids": ids})
