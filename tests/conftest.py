"""Shared fixtures: a migrated throwaway database on SQLite and on PostgreSQL.

PostgreSQL and Redis are real servers on loopback. Outside CI a missing server skips its tests
with the reason; with CI=true it fails the run, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tracker.db import engine_for, session_factory
from tracker.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
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


def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a throwaway database (a copy of `template` when given), yield its URL, drop it
    afterwards."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"calcitrack_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database; each test using it runs on both engines."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        yield url
        engine_for(url).dispose()
        return
    yield from migrated_postgres(request.getfixturevalue("postgres_template"))


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """An empty, migrated PostgreSQL database (for tests that need PostgreSQL only)."""
    yield from migrated_postgres(postgres_template)


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
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/15"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared spec folder not found at {SHARED}")
    return SHARED
