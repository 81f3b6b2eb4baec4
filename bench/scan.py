"""Benchmark: the daily alert scan over 10 000 lesions on the embedded SQLite database (and on
PostgreSQL when it is reachable). Run by `make bench`; prints figures, asserts nothing."""

from __future__ import annotations

import socket
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, event, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.workers.test_scan_scale import bulk_insert  # noqa: E402
from tracker.db import engine_for, session_factory  # noqa: E402
from tracker.migrate import upgrade  # noqa: E402
from tracker.services.assessment import scan_alerts  # noqa: E402

LESIONS = 10_000
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run(label: str, url: str) -> None:
    upgrade(url)
    bulk_insert(url, LESIONS)
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine_for(url), "before_cursor_execute", count)
    for as_of, what in ((date(2024, 10, 15), "first (assesses all)"),
                        (date(2025, 6, 1), "later date"), (date(2025, 6, 1), "rerun")):
        statements = 0
        started = time.perf_counter()
        with session_factory(url)() as s:
            report = scan_alerts(s, as_of)
        took = time.perf_counter() - started
        print(f"{label:10} scan {what:22} {took:6.2f} s  {statements:4d} statements  "
              f"opened {report.opened:5d} cleared {report.cleared:5d} kept {report.kept:5d}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/scan.sqlite")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        print("postgresql not reachable: skipped")
        return
    name = f"calcitrack_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        run("postgresql", url)
    finally:
        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
