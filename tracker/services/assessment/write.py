"""Assessment, step three: a chunk's plan sent as one statement (or one executemany) per kind
of change, none for a kind with nothing to change; then the caller's identity map told what
changed under it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import String, Table, bindparam, case, cast, delete, insert, literal, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import Delete, Insert, Update

from tracker.alert_columns import sync_alert_columns
from tracker.audit import SYSTEM_ACTOR, audit_rows
from tracker.models import Alert, Assessment, Lesion, Transition
from tracker.services.assessment.load import ALERTS, ASSESSMENTS, IDS, LESIONS, TRANSITIONS, Loaded
from tracker.services.assessment.plan import Plan
from tracker.vocabulary import AlertState, Severity, snooze_over

# A lesion's columns (not its relationships), expired in a caller's identity map after an
# assessment: it writes the results, and the load no longer refreshes the caller's objects.
_LESION_COLUMN_KEYS = [c.key for c in Lesion.__mapper__.column_attrs]


@cache
def _by_id(table: Table, keys: tuple[str, ...]) -> Update:
    """An executemany UPDATE keyed by `b_id`, setting each other key's column from its
    parameter (every row of one plan list has the same keys). Built once per table and keys."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({k: bindparam(k) for k in keys if not k.startswith("b_")})
    )


@cache
def _delete_by_ids(table: Table) -> Delete:
    return delete(table).where(table.c.id.in_(IDS))


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


@cache
def _update_lesions(keys: tuple[str, ...]) -> Update:
    """The lesions' results by `b_id`; the outbox mark goes only if no change arrived after
    the version we read (`b_seen`)."""
    return (
        update(LESIONS)
        .where(LESIONS.c.id == bindparam("b_id"))
        .values({
            **{k: bindparam(k) for k in keys if not k.startswith("b_")},
            "assessment_due_at": case(
                (LESIONS.c.data_version == bindparam("b_seen"), None),
                else_=LESIONS.c.assessment_due_at,
            ),
        })
    )


_CLEAR_ALERTS: Update = (
    update(ALERTS)
    .where(ALERTS.c.id.in_(IDS))
    .values(state=AlertState.CLEARED.value, cleared_at=bindparam("b_at"))
)
_REOPEN_ALERTS: Update = (
    update(ALERTS)
    .where(
        ALERTS.c.id.in_(IDS),
        ALERTS.c.state == AlertState.SNOOZED.value,
        snooze_over(ALERTS.c.snoozed_until, bindparam("b_as_of")),
    )
    .values(
        state=AlertState.OPEN.value,
        state_by=SYSTEM_ACTOR,
        state_at=bindparam("b_at"),
        state_reason=literal("snooze ended ") + cast(ALERTS.c.snoozed_until, String),
        snoozed_until=None,
    )
)
_INSERT_ALERTS: Insert = insert(ALERTS).returning(ALERTS.c.id, ALERTS.c.severity)


def write_plan(
    session: Session, conn: Connection, plan: Plan, as_of: date, at: datetime
) -> list[int]:
    """Send the plan: one statement (or one executemany) per kind of change, none for a kind
    with nothing to change. Returns the ids of newly opened urgent alerts."""
    _write_rows(conn, ASSESSMENTS, plan.assessment_deletes, plan.assessment_updates,
                plan.assessment_inserts)
    _write_rows(conn, TRANSITIONS, plan.transition_deletes, plan.transition_updates,
                plan.transition_inserts)
    # Clears first: the partial unique index allows one uncleared alert per lesion and kind.
    if plan.alert_clears:
        conn.execute(_CLEAR_ALERTS, {"b_ids": plan.alert_clears, "b_at": at})
    if plan.alert_refreshes:
        # Engine-owned columns only: a clinician's concurrent acknowledgement is never undone.
        conn.execute(_by_id(ALERTS, tuple(plan.alert_refreshes[0])), plan.alert_refreshes)
    if plan.alert_reopens:
        conn.execute(_REOPEN_ALERTS, {"b_ids": plan.alert_reopens, "b_as_of": as_of, "b_at": at})
    urgent: list[int] = []
    if plan.alert_inserts:
        rows = conn.execute(_INSERT_ALERTS, plan.alert_inserts)
        urgent = sorted(r.id for r in rows if r.severity == Severity.URGENT.value)
    audit_rows(session, plan.reopen_events)
    if plan.lesion_updates:
        conn.execute(_update_lesions(tuple(plan.lesion_updates[0])), plan.lesion_updates)
        # the worklist's copies of the lesions' values, on their (new) uncleared alerts
        sync_alert_columns(conn, sorted(plan.changed_lesions))
    return urgent


def _write_rows(conn: Connection, table: Table, deletes: list[int],
                updates: list[dict[str, Any]], inserts: list[dict[str, Any]]) -> None:
    """A table's deletes, in-place updates and inserts (stages, transitions), in that order."""
    if deletes:
        conn.execute(_delete_by_ids(table), {"b_ids": deletes})
    if updates:
        conn.execute(_by_id(table, tuple(updates[0])), updates)
    if inserts:
        conn.execute(_insert(table), inserts)


def forget(session: Session, lesions: Sequence[Loaded]) -> None:
    """Core writes bypass the identity map: expire what the caller's session holds of the rows
    they may have changed, so reading through it gives the stored result, not an older one.
    A fresh session (a worker's) holds nothing, and this costs nothing."""
    held = session.identity_map
    if not len(held):
        return
    for lesion in lesions:
        keys = [
            *(identity_key(Alert, (r.id,)) for r in lesion.alerts),
            *(identity_key(Transition, (r.id,)) for r in lesion.transitions),
            *(identity_key(Assessment, (o.assessment.id,))
              for o in lesion.observations if o.assessment is not None),
        ]
        row = held.get(identity_key(Lesion, (lesion.id,)))
        if row is not None:
            session.expire(row, _LESION_COLUMN_KEYS)
        for key in keys:
            obj = held.get(key)
            if obj is not None:
                session.expire(obj)
