"""Shared fixtures: a migrated throwaway database on SQLite and on PostgreSQL.

PostgreSQL and Redis are real servers on loopback. Outside CI a missing server skips its tests
with the reason; with CI=true it fails the run, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
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


def fresh_postgres_database() -> Iterator[str]:
    """Create a throwaway database, yield its URL, drop it afterwards."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"calcitrack_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        engine_for(url).dispose()
        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database; each test using it runs on both engines."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/test.sqlite"
        upgrade(url)
        yield url
        engine_for(url).dispose()
        return
    gen = fresh_postgres_database()
    url = next(gen)
    upgrade(url)
    yield url
    gen.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty, migrated PostgreSQL database (for tests that need PostgreSQL only)."""
    gen = fresh_postgres_database()
    url = next(gen)
    upgrade(url)
    yield url
    gen.close()


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
