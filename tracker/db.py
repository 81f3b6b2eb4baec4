"""Declarative base, naming convention and session factory. Plain SQLAlchemy: the CLI and the
workers need no Flask app context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The last item of the `__table_args__` of a table whose row ids reach URLs, ETags or the
# audit: on SQLite such an id is never given again after its row is deleted (AUTOINCREMENT;
# migration 0016), as PostgreSQL's sequences never give one again.
NEVER_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """SQLite enforces foreign keys (and so ON DELETE) only when asked, per connection."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def normalize_url(url: str) -> str:
    """Operators write postgresql://...; we drive it with psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# The database cannot be reached, or dropped the connection: nothing was done, retry later.
UNAVAILABLE = (OperationalError, InterfaceError)


def safe_url(url: str) -> str:
    """A database URL fit for a message: no password."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def unavailable_reason(exc: BaseException) -> str:
    """The driver's first line ("connection refused", "unable to open database file"): never
    the statement or its parameters, nor the detail lines a server may add."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist (None otherwise): opening it
    would silently create an empty database in whatever folder the command runs from."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(str(parsed.database).removeprefix("file:"))  # uri=true form
    return None if path.exists() else str(path)


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """One engine (connection pool) per database URL per process."""
    url = normalize_url(url)
    # hide_parameters: a failed statement's message (logs, tracebacks) never carries the
    # values it bound, which are patient data.
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def insert_of(bind: Session | Connection, table: Any) -> Any:
    """The INSERT of the session's or connection's dialect (PostgreSQL's or SQLite's), for the
    writes that skip or update a row whose unique key exists (`on_conflict_do_nothing`,
    `on_conflict_do_update`): a concurrent writer's row is waited for, never duplicated."""
    from sqlalchemy.dialects import postgresql, sqlite

    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


_IN_SNAPSHOT = "calcitrack.read_snapshot"


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that rolls back whatever its user did not commit."""
    session = session_factory(url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def begin_read_snapshot(session: Session) -> None:
    """Make every read of `session` until it ends see one consistent state of the database,
    however many statements a streamed read takes (an export reads 200 patients at a time):
    PostgreSQL, one REPEATABLE READ READ ONLY transaction; SQLite, one read transaction (the
    driver would otherwise run each SELECT on its own). The isolation of a transaction is
    chosen before its first statement, so a transaction the session holds is ended first: it
    may only have read (a pending change is a caller's mistake, refused)."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read snapshot cannot start with changes pending")
    if session.in_transaction():
        session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ",
                                              "postgresql_readonly": True})
    else:
        session.connection().exec_driver_sql("BEGIN")


@contextmanager
def read_snapshot(session: Session) -> Iterator[None]:
    """Every read of `session` within sees one state of the database (`begin_read_snapshot`),
    ended (rolled back) on the way out. Within another `read_snapshot` of the same session it
    joins that one, so a caller can make several readers (a check, then the export it
    describes) read the same moment."""
    if session.info.get(_IN_SNAPSHOT):
        yield
        return
    begin_read_snapshot(session)
    session.info[_IN_SNAPSHOT] = True
    try:
        yield
    finally:
        del session.info[_IN_SNAPSHOT]
        session.rollback()  # it wrote nothing


def lock_against_writers(session: Session, table: str) -> None:
    """No other transaction writes `table` until this one ends (a repair reading the whole
    table and writing from it): PostgreSQL's SHARE lock; SQLite has one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
