"""How imports share the database: they take turns (one advisory lock on PostgreSQL), wait a
bounded time for each other, and retry a deadlock with a writer of single lesions; what an
import says when it is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tracker.errors import Conflict

# PostgreSQL advisory lock (transaction scope) that an import takes before it reads what is
# stored: files list patients in any order, so two imports locking the same rows in opposite
# orders would deadlock, and one judging rows unchanged before the other committed would mix
# the two files. They take turns instead. Edits and assessments lock single lesions and go on.
IMPORT_LOCK = 0x43414C43  # "CALC"
# How long an import waits for another one to finish; then it is refused (Conflict), which a
# web request must be before its server's timeout (gunicorn: 30 s).
IMPORT_WAIT_SECONDS = 20
# Attempts of an import that deadlocked with a writer of single lesions (an edit, the
# assessment worker): each attempt is the whole file again, in one transaction.
DEADLOCK_ATTEMPTS = 3

T = TypeVar("T")


def refusal_of(exc: DBAPIError) -> Exception:
    """What an import that could not take its turn, or lost to a concurrent writer, says:
    PostgreSQL's lock timeout, deadlock or serialization failure; SQLite's writer held the
    database past the busy timeout. Anything else is raised as it is."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == "55P03":  # lock_timeout in take_turn
        return Conflict(
            f"another import has been running for over {IMPORT_WAIT_SECONDS} s; nothing was"
            " imported, import the file again when it has finished"
        )
    if sqlstate in ("40P01", "40001") or "database is locked" in str(exc.orig):
        return Conflict(
            "another import changed the same patients at the same time; nothing was"
            " imported, import the file again"
        )
    return exc


def take_turn(session: Session) -> None:
    """Wait, at most IMPORT_WAIT_SECONDS, for any other import's transaction to end
    (PostgreSQL; SQLite has one writer). The limit is for this wait only."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"SET LOCAL lock_timeout = '{IMPORT_WAIT_SECONDS}s'"))
    session.execute(select(func.pg_advisory_xact_lock(IMPORT_LOCK)))
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def retrying_deadlocks(attempt: Callable[[], T], *, again: Callable[[], None]) -> T:
    """`attempt` (one whole transaction) again after a deadlock with a writer of single lesions
    (an edit, the assessment worker), up to DEADLOCK_ATTEMPTS times: PostgreSQL undid the
    transaction, so the file is read again, after `again` forgets what the last attempt found.
    A refusal is said as `refusal_of` says it."""
    for n in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return attempt()
        except DBAPIError as exc:
            if (getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001")
                    or n == DEADLOCK_ATTEMPTS):
                refusal = refusal_of(exc)
                if refusal is exc:
                    raise
                raise refusal from exc
            again()
    raise AssertionError("unreachable")
