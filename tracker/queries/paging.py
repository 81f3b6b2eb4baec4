"""One page of a long list (patients, the alert worklist, history), with the total it is cut
from; and, for the lists that grow with the record, keyset pages and bounded counts.

A keyset (seek) page is "the rows after this one in the list's order": the next page's cursor
is the last row's sort key, so page 20,000 costs what page 1 costs, and a row added or removed
between two pages neither repeats nor skips another. The total of such a list is counted up
to COUNT_LIMIT rows (more is shown as "10,000+") or, on PostgreSQL, the planner's estimate.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker.errors import InvalidInput, Problem

T = TypeVar("T")

# A list's total is counted exactly up to this many rows.
COUNT_LIMIT = 10_000
# How long a bounded count may take on PostgreSQL before the planner's estimate is shown.
COUNT_TIMEOUT_MS = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    # False when `total` is a lower bound (COUNT_LIMIT + 1: "10,000+") or an estimate
    total_exact: bool = True
    estimated: bool = False
    # The cursor of the next page (keyset lists), None on the last page
    next_after: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def total_text(self) -> str:
        """The total as a person reads it: 1,234, 10,000+ or about 498,000."""
        if self.estimated:
            return f"about {self.total:,}"
        if not self.total_exact:
            return f"{COUNT_LIMIT:,}+"
        return f"{self.total:,}"


def encode_cursor(key: tuple[Any, ...]) -> str:
    """A row's sort key as an opaque, URL-safe cursor."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...], where: str = "after") -> tuple[Any, ...]:
    """A cursor this list gave, checked (count and types of its values); InvalidInput
    otherwise, naming `where`."""
    bad = InvalidInput([Problem(where, "is not a position this list gave; start from its "
                                       "first page")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(types) or not all(
            type(v) is t for v, t in zip(values, types, strict=True)):
        raise bad
    return tuple(values)


@dataclass(frozen=True)
class Count:
    n: int
    exact: bool
    estimated: bool = False


def bounded_count(session: Session, query: Select[Any], *, estimate: bool = True,
                  timeout: bool = True) -> Count:
    """How many rows `query` gives, counted up to COUNT_LIMIT. On PostgreSQL, with `timeout`,
    the count may take COUNT_TIMEOUT_MS (in a savepoint: a timeout leaves the transaction
    usable); past either bound, the planner's estimate when `estimate` and it is larger."""
    limited = select(func.count()).select_from(query.limit(COUNT_LIMIT + 1).subquery())
    postgres = session.get_bind().dialect.name == "postgresql"
    n: int | None = None
    if not (postgres and timeout):
        n = int(session.scalar(limited) or 0)
    else:
        # The time limit is set in a savepoint, rolled back after the count: that ends the
        # limit, and a count that timed out leaves the transaction usable.
        savepoint = session.begin_nested()
        try:
            session.execute(text("SELECT set_config('statement_timeout', :ms, true)"),
                            {"ms": f"{COUNT_TIMEOUT_MS}ms"})
            n = int(session.scalar(limited) or 0)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "57014":  # not the time limit
                raise
        finally:
            savepoint.rollback()
    if n is not None and n <= COUNT_LIMIT:
        return Count(n, True)
    if postgres and estimate:
        guess = planner_estimate(session, query)
        if guess > COUNT_LIMIT:
            return Count(guess, False, estimated=True)
    return Count(COUNT_LIMIT + 1, False)


def planner_estimate(session: Session, query: Select[Any]) -> int:
    """PostgreSQL's estimate of the rows `query` gives (EXPLAIN, nothing run)."""
    conn = session.connection()
    compiled = query.compile(conn, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                dict(compiled.params)).scalar_one()
    doc = plan if isinstance(plan, list) else json.loads(plan)
    return int(doc[0]["Plan"]["Plan Rows"])
