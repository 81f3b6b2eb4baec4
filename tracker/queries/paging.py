"""One page of a long list (patients, the alert worklist, history), with the total it is cut
from; and what keeps a list at millions of rows cheap: keyset (seek) pages and bounded counts.

A keyset page reads `WHERE (k1, k2, k3) > (:k1, :k2, :k3) ORDER BY k1, k2, k3 LIMIT n + 1` on
the index whose columns are the sort: its cost does not grow with the page's depth, and a row
added or removed meanwhile neither repeats nor hides another. The key travels as an opaque
`after` cursor. A count is exact up to `COUNT_LIMIT`, then "10,000+"; on PostgreSQL a count
that takes longer than `COUNT_TIMEOUT_MS` gives way to the planner's estimate ("about N").
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Select, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker.errors import InvalidInput, Problem

T = TypeVar("T")

COUNT_LIMIT = 10_000
COUNT_TIMEOUT_MS = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Count:
    """How many rows a list has: `exact`, `at_least` (more than the bound), or `about` (the
    planner's estimate)."""

    n: int
    kind: Literal["exact", "at_least", "about"] = "exact"

    def __str__(self) -> str:
        if self.kind == "at_least":
            return f"{self.n:,}+"
        if self.kind == "about":
            return f"about {self.n:,}"
        return f"{self.n:,}"


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One page of a keyset list: `after` is the cursor of the next page (None on the last)."""

    items: list[T]
    count: Count
    per_page: int
    after: str | None
    first: bool


def bounded_count(session: Session, query: Select[Any]) -> Count:
    """The rows of `query`, counted up to `COUNT_LIMIT` (never a count of millions per
    request). On PostgreSQL in a transaction of its own under a statement timeout (a timeout
    then costs the page nothing), and past the timeout the planner's estimate."""
    bounded = select(func.count()).select_from(query.limit(COUNT_LIMIT + 1).subquery())
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        n = int(session.scalar(bounded) or 0)
        return Count(COUNT_LIMIT, "at_least") if n > COUNT_LIMIT else Count(n)
    with bind.engine.connect() as conn:
        conn.execute(_TIMEOUT, {"t": f"{COUNT_TIMEOUT_MS}ms"})
        try:
            n = int(conn.scalar(bounded) or 0)
        except OperationalError as exc:
            if "statement timeout" not in str(exc):
                raise
            conn.rollback()  # the setting goes with the transaction
            return Count(_estimate(conn, query), "about")
        conn.rollback()
    return Count(COUNT_LIMIT, "at_least") if n > COUNT_LIMIT else Count(n)


_TIMEOUT = text("SELECT set_config('statement_timeout', :t, true)")


def _estimate(conn: Connection, query: Select[Any]) -> int:
    """The planner's row estimate for `query` (PostgreSQL's EXPLAIN)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                compiled.params).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def encode_cursor(key: tuple[Any, ...]) -> str:
    """A row's sort key as an opaque, URL-safe cursor (dates as ISO text)."""
    raw = json.dumps([v.isoformat() if isinstance(v, date) else v for v in key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...], field: str = "after") -> tuple[Any, ...]:
    """A cursor back into its key, each part checked against its type: a damaged or forged
    cursor is bad input (400), never a database error."""
    bad = InvalidInput([Problem(field, "is not a cursor this list gave out")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(parts, list) or len(parts) != len(types):
        raise bad
    key: list[Any] = []
    for value, kind in zip(parts, types, strict=True):
        if kind is date and isinstance(value, str):
            try:
                key.append(date.fromisoformat(value))
            except ValueError:
                raise bad from None
        elif kind is int and isinstance(value, int) and not isinstance(value, bool) \
                and -2**31 <= value < 2**31:
            key.append(value)
        else:
            raise bad
    return tuple(key)
