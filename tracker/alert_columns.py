"""The lesion's columns the worklist filters by, copied onto its uncleared alerts.

Each worklist filter (patient, region, entity, stage, overdue) is then an index on the alerts
alone, led by the filter's column and followed by the sort, instead of a join of every
candidate alert to its lesion. The one writer of the copies: called, in the writer's
transaction, wherever a lesion's values change (the assessment chunk, a site correction, an
import's lesion update, a split or merge) and by the migration's backfill.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

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

# UPDATE ... FROM (both engines): each alert row joined to its lesion once.
_SYNC = (
    update(ALERTS)
    .where(ALERTS.c.lesion_id == LESIONS.c.id, LESIONS.c.id.in_(bindparam("b_ids", expanding=True)),
           ALERTS.c.state != AlertState.CLEARED.value)
    .values(COPIES)
)

def sync_alert_columns(conn: Connection | Session, lesion_ids: Sequence[int]) -> None:
    """Copy the lesions' current values onto their uncleared alerts (one statement)."""
    ids = sorted(set(lesion_ids))
    if ids:
        conn.execute(_SYNC, {"b_ids": ids})
