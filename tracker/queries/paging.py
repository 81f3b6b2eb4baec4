"""One page of a long list (patients, the alert worklist, history), with the total it is cut
from; and what keeps a list at millions of rows cheap: keyset (seek) pages and bounded counts.

A keyset page reads `WHERE (k1, k2, k3) > (:k1, :k2, :k3) ORDER BY k1, k2, k3 LIMIT n + 1` on
the index whose columns are the sort: page 20,000 costs what page 1 costs, and a row added or
removed between two pages neither repeats nor hides another. The key travels as an opaque
`after` cursor. A total is counted exactly up to `COUNT_LIMIT` rows, then "10,000+"; on
PostgreSQL a count that takes longer than `COUNT_TIMEOUT_MS`, or goes past the limit, gives way
to the planner's estimate ("about N") when that is larger.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker.errors import InvalidInput, Problem

T = TypeVar("T")

# A list's total is counted exactly up to this many rows.
COUNT_LIMIT = 10_000
# How long a bounded count may take on PostgreSQL before the planner's estimate is shown.
COUNT_TIMEOUT_MS = 100
CountKind = Literal["exact", "at_least", "about"]


@dataclass(frozen=True)
class Count:
    """How many rows a list has: `exact`, `at_least` (more than COUNT_LIMIT: `n` is
    COUNT_LIMIT + 1) or `about` (the planner's estimate)."""

    n: int
    kind: CountKind = "exact"

    def __str__(self) -> str:
        """As a person reads it: 1,234, 10,000+ or about 498,000."""
        if self.kind == "at_least":
            return f"{COUNT_LIMIT:,}+"
        if self.kind == "about":
            return f"about {self.n:,}"
        return f"{self.n:,}"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    # what `total` is: exact, a lower bound (COUNT_LIMIT + 1: "10,000+") or an estimate
    total_is: CountKind = "exact"
    # The cursor of the next page (keyset lists), None on the last page
    next_after: str | None = None
    # Whether this is the list's first page (not one reached by a cursor or a page number)
    first: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def total_exact(self) -> bool:
        return self.total_is == "exact"

    @property
    def estimated(self) -> bool:
        return self.total_is == "about"

    @property
    def total_text(self) -> str:
        """The total as a person reads it: 1,234, 10,000+ or about 498,000."""
        return str(Count(self.total, self.total_is))


def bounded_count(session: Session, query: Select[Any], *, estimate: bool = True,
                  timeout: bool = True) -> Count:
    """How many rows `query` gives, counted up to COUNT_LIMIT (never a count of millions per
    request). On PostgreSQL, with `timeout`, the count may take COUNT_TIMEOUT_MS (in a
    savepoint: a timeout leaves the transaction usable); past either bound, the planner's
    estimate when `estimate` and it is larger."""
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
        return Count(n)
    if postgres and estimate:
        guess = planner_estimate(session, query)
        if guess > COUNT_LIMIT:
            return Count(guess, "about")
    return Count(COUNT_LIMIT + 1, "at_least")


def planner_estimate(session: Session, query: Select[Any]) -> int:
    """PostgreSQL's estimate of the rows `query` gives (EXPLAIN, nothing run)."""
    conn = session.connection()
    compiled = query.compile(conn, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                dict(compiled.params)).scalar_one()
    doc = plan if isinstance(plan, list) else json.loads(plan)
    return int(doc[0]["Plan"]["Plan Rows"])


def encode_cursor(key: tuple[Any, ...]) -> str:
    """A row's sort key as an opaque, URL-safe cursor (dates as ISO text)."""
    raw = json.dumps([v.isoformat() if isinstance(v, date) else v for v in key],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...], where: str = "after") -> tuple[Any, ...]:
    """A cursor back into its key, each part checked against its type (int, str or date): a
    damaged or forged cursor is bad input naming `where`, never a database error."""
    bad = InvalidInput([Problem(where, "is not a position this list gave; start from its "
                                       "first page")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
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
        elif (kind is int and type(value) is int and -2**31 <= value < 2**31) or (
                kind is str and isinstance(value, str)):
            key.append(value)
        else:
            raise bad
    return tuple(key)
