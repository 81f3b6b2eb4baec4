"""Shared fixtures: a migrated, empty database on SQLite and on PostgreSQL.

PostgreSQL and Redis are real servers on loopback. Outside CI a missing server skips its tests
with the reason; with CI=true it fails the run, so CI can never pass by skipping them.

The suite runs in parallel (pytest-xdist): each test process has its own PostgreSQL databases
and its own Redis database numbers (`redis_db`), so no two processes share state.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from tracker import models  # noqa: F401  (registers every table on Base.metadata)
from tracker.cli.main import main
from tracker.db import Base, engine_for, session_factory
from tracker.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_HOST = "127.0.0.1"
# TEST_REDIS_PORT: another Redis server for a second suite run beside this one (each run uses
# databases 2-15 of its server).
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
# "gw3" under pytest-xdist, absent in a single process.
PROCESS_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED = Path(__file__).resolve().parents[2] / "shared"

# The cheapest argon2 parameters for every password the tests hash (a setting of the product,
# README: PASSWORD_HASH_PROFILE); inherited by the workers the tests start.
os.environ["PASSWORD_HASH_PROFILE"] = "CHEAPEST"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (CI) when a server the test needs is not reachable."""
    if _port_open(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: these tests must run, not skip)")
    pytest.skip(f"{reason}; start it (see README) to run this test")


def redis_db(slot: int) -> int:
    """This test process's Redis database number for `slot` (0: the web layer's rate limiter,
    1: the brokers of the real workers); databases 15, 14, 13, ... down to 2 (0 is Redis's
    default, 1 the benchmarks'): seven test processes at most."""
    number = 15 - 2 * PROCESS_INDEX - slot
    assert number >= 2, "too many test processes: the tests have Redis databases 2-15"
    return number


def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a throwaway database (a copy of `template` when given), yield its URL, drop it
    afterwards."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"calcitrack_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        # A test's commits need not wait for the disk (nothing here survives a server crash,
        # nor needs to); every connection to this database, the workers' too, inherits it.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        engine_for(url).dispose()
        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine_for(url).dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One PostgreSQL database migrated once per session: the template of every test's
    database (CREATE DATABASE ... TEMPLATE copies it; nothing stays connected to it)."""
    gen = fresh_postgres_database()
    url = next(gen)
    upgrade(url)
    engine_for(url).dispose()
    yield url.rsplit("/", 1)[1]
    gen.close()  # type: ignore[attr-defined]


def migrated_postgres(template: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database, copied from the session's template."""
    gen = fresh_postgres_database(template)
    yield next(gen)
    gen.close()  # type: ignore[attr-defined]


_EMPTYING: dict[str, str] = {}


def empty_postgres(url: str) -> None:
    """Return a migrated database to its state after migration: end every other connection
    (a test may leave one), delete every row, restart every sequence. Far cheaper than a new
    database (which copies the catalogs and writes them to the WAL every time); sent as one
    script, one round trip (it runs before every test on PostgreSQL)."""
    engine_for(url).dispose()
    with create_engine(url, poolclass=NullPool).begin() as conn:
        if url not in _EMPTYING:
            tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
            sequences = conn.scalars(text(
                "SELECT sequence_name FROM information_schema.sequences "
                "WHERE sequence_schema = 'public'")).all()
            _EMPTYING[url] = "".join([
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid();",
                *(f'DELETE FROM "{table}";' for table in tables),
                *(f'ALTER SEQUENCE "{sequence}" RESTART;' for sequence in sequences)])
        conn.exec_driver_sql(_EMPTYING[url])


@pytest.fixture(scope="session")
def postgres_database(postgres_template: str) -> Iterator[str]:
    """This test process's PostgreSQL database, emptied before each test that uses it."""
    yield from migrated_postgres(postgres_template)


def _database(request: pytest.FixtureRequest, tmp_path: Path, own: bool) -> Iterator[str]:
    """A migrated, empty database on the engine of the test's parameter: a copy of the SQLite
    template; on PostgreSQL the process's database emptied, or a copy of its own (`own`)."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    elif own:
        yield from migrated_postgres(request.getfixturevalue("postgres_template"))
        return
    else:
        url = request.getfixturevalue("postgres_database")
        empty_postgres(url)
    yield url
    engine_for(url).dispose()


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database; each test using it runs on both engines."""
    yield from _database(request, tmp_path, own=False)


# Pages and the API run on PostgreSQL, the production engine (tests/web, tests/pacs,
# tests/interop/web override `database_url` with it): the SQL beneath them runs on both engines
# in tests/services, tests/cli and tests/interop, and every page is rendered on SQLite, the
# embedded default, by tests/browser (the accessibility walk visits each one at two widths).
PAGE_ENGINES = [pytest.param("postgresql", marks=pytest.mark.postgres)]


def page_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """`database_url` of the page and API tests (PAGE_ENGINES), unless a test names its own."""
    yield from _database(request, tmp_path, own=False)


@pytest.fixture(params=ENGINES)
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own, for a test that changes the schema itself."""
    yield from _database(request, tmp_path, own=True)


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """An empty, migrated PostgreSQL database (for tests that need PostgreSQL only). The same
    database as `database_url`'s on PostgreSQL: a test takes one or the other."""
    empty_postgres(postgres_database)
    yield postgres_database
    engine_for(postgres_database).dispose()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    s = session_factory(database_url)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db(0)}"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared spec folder not found at {SHARED}")
    return SHARED


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`tracker` as a user runs it (in this process), on the test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CALCITRACK_INSTANCE", str(tmp_path))
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke
