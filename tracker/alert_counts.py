"""How many uncleared alerts there are per severity and state (`alert_counts`), maintained.

The header of every page shows the alerts needing action by severity; counting them in the
alerts table was a scan of every alert per page view. Instead every writer of alerts knows the
before and after of each alert it changes (it holds the row locked), sums them here into
per-(severity, state) deltas (`Delta`), and applies them as the last statement before its
commit (`apply`): an upsert that adds its delta to the committed value, so concurrent writers
never lose an update; the keys go in a fixed order, so two writers cannot deadlock, and the
counter rows are held for the commit only. Cleared alerts are not counted.

Writers: the assessment chunk (opens, clears, severity refreshes, ended snoozes), a clinician's
acknowledgement or snooze (`tracker.services.alerts`), and a merge, which deletes the merged
lesion and with it its alerts. `recount` is the reference (`tracker check-counts`, the tests).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tracker.db import insert_of, lock_against_writers
from tracker.models import Alert, AlertCount
from tracker.vocabulary import AlertState, Severity, snooze_over

COUNTS: Table = AlertCount.__table__  # type: ignore[assignment]
ALERTS: Table = Alert.__table__  # type: ignore[assignment]

Key = tuple[str, str]  # (severity, state)


class Delta(Counter[Key]):
    """Changes to the counts of one transaction."""

    def move(self, before: Key | None, after: Key | None) -> None:
        """One alert went from `before` to `after` (None: not counted, i.e. absent or
        cleared)."""
        if before == after:
            return
        if before is not None and before[1] != AlertState.CLEARED.value:
            self[before] -= 1
        if after is not None and after[1] != AlertState.CLEARED.value:
            self[after] += 1


def apply(conn: Connection | Session, delta: Delta) -> None:
    """Add the deltas to the stored counts: one upsert, keys in order (call it last before the
    commit: the rows it locks are then held for the commit only)."""
    rows = [{"severity": k[0], "state": k[1], "n": n} for k, n in sorted(delta.items()) if n]
    if not rows:
        return
    stmt = insert_of(conn, COUNTS).values(rows)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[COUNTS.c.severity, COUNTS.c.state],
        set_={"n": COUNTS.c.n + stmt.excluded.n}))


def recount(session: Session) -> dict[Key, int]:
    """The counts from the alerts themselves (a scan: the check's reference, not a page's)."""
    rows = session.execute(
        select(Alert.severity, Alert.state, func.count())
        .where(Alert.state != AlertState.CLEARED.value)
        .group_by(Alert.severity, Alert.state))
    return {(sev, state): int(n) for sev, state, n in rows}


def stored(session: Session) -> dict[Key, int]:
    """The maintained counts (zero rows left out)."""
    return {(r.severity, r.state): r.n
            for r in session.execute(select(COUNTS).where(COUNTS.c.n != 0))}


def needing_action(session: Session, *, today: date) -> dict[str, int]:
    """Alerts needing action now, by severity (the header of every page), in one statement:
    the open ones from the maintained counts, plus snoozes that ran out but that no scan has
    reopened yet (a range of `ix_alerts_snoozed`, empty once the day's scan has run)."""
    ended = (select(Alert.severity, func.count().label("n"))
             .where(Alert.state == AlertState.SNOOZED.value,
                    snooze_over(Alert.snoozed_until, today))
             .group_by(Alert.severity))
    both = select(COUNTS.c.severity, COUNTS.c.n).where(
        COUNTS.c.state == AlertState.OPEN.value).union_all(ended)
    found: Counter[str] = Counter()
    for sev, n in session.execute(both):
        found[sev] += int(n)
    return {s.value: found.get(s.value, 0) for s in Severity}


def uncleared_delta(rows: Iterable[Any]) -> Delta:
    """The delta of deleting these alert rows (each with `severity` and `state`)."""
    delta = Delta()
    for r in rows:
        delta.move((r.severity, r.state), None)
    return delta


def rebuild(session: Session) -> None:
    """Replace the maintained counts by a recount (repair; rows written outside the services,
    as test seeds do). On PostgreSQL the alerts are locked against writers meanwhile."""
    lock_against_writers(session, "alerts")
    session.execute(delete(COUNTS))
    rows = [{"severity": k[0], "state": k[1], "n": n} for k, n in sorted(recount(session).items())]
    if rows:
        session.execute(insert(COUNTS), rows)
