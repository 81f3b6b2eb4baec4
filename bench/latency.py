"""Benchmark: record -> stored assessment latency through Redis and a real worker on PostgreSQL.

Run by `make bench` (needs PostgreSQL and Redis on loopback); prints p50/p95, asserts nothing.
Records ~200 observations at a steady pace (one per lesion, through the real writer and the
one sender, as the web layer does) and measures, per record, the time from its
commit to the `assessed_at` the worker stored. The worker runs `--pool=prefork -c 2`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.factories import make_lesion, make_patient, obs  # noqa: E402
from tracker.db import engine_for, session_factory  # noqa: E402
from tracker.migrate import upgrade  # noqa: E402
from tracker.models import Lesion  # noqa: E402
from tracker.services.records import record_observation  # noqa: E402
from tracker.timeline import ObservationIn  # noqa: E402
from workers import dispatch  # noqa: E402

RECORDS = int(os.environ.get("BENCH_RECORDS", "200"))
PACE_SECONDS = 0.05
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = "redis://127.0.0.1:6379/13"
VISIT = {"date": "2025-01-20", "modality": "XR", "size_mm": [12.5], "density": "dense",
         "margin": "well_defined", "texture": "homogeneous", "pattern": "nodular"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    name = f"calcitrack_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    queue = f"calcitrack-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS, "CALCITRACK_QUEUE": queue}
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "CALCITRACK_QUEUE")})
    worker = None
    try:
        upgrade(url)
        with session_factory(url)() as s:
            patient = make_patient(s)
            ids = [
                make_lesion(s, patient=patient, external_id=f"L{i}",
                            observations=[obs("2024-01-10", 12), obs("2024-04-12", 12.5),
                                          obs("2024-07-15", 12)]).id
                for i in range(RECORDS)
            ]
        with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool=prefork",
                 "-c", "2", "-Q", queue, "--loglevel=INFO", "--without-gossip",
                 "--without-mingle", "--without-heartbeat"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while " ready." not in Path(log.name).read_text(errors="replace"):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the worker did not start:\n" + Path(log.name).read_text())
            time.sleep(0.1)

        committed: dict[int, datetime] = {}
        sessions = session_factory(url)
        for lesion_id in ids:
            with sessions() as s:
                record_observation(s, lesion_id, ObservationIn.model_validate(VISIT),
                                   actor="bench")
            committed[lesion_id] = datetime.now().astimezone()
            dispatch.request_assessment([lesion_id])
            time.sleep(PACE_SECONDS)

        done: dict[int, datetime] = {}
        deadline = time.monotonic() + 120
        while len(done) < len(ids) and time.monotonic() < deadline:
            with sessions() as s:
                rows = s.execute(
                    select(Lesion.id, Lesion.assessed_at).where(
                        Lesion.assessed_version == Lesion.data_version,
                        Lesion.assessment_due_at.is_(None),
                    )
                ).all()
            done = {r.id: r.assessed_at for r in rows if r.assessed_at is not None}
            time.sleep(0.2)
        latencies = [(done[i] - committed[i]).total_seconds() * 1000 for i in ids if i in done]
        print(f"record -> assessment latency over {len(latencies)}/{len(ids)} records "
              f"(Redis + PostgreSQL, 1 worker, prefork -c 2, one record every "
              f"{PACE_SECONDS * 1000:.0f} ms):")
        print(f"  p50 {percentile(latencies, 0.50):7.1f} ms")
        print(f"  p95 {percentile(latencies, 0.95):7.1f} ms")
        print(f"  max {max(latencies):7.1f} ms   mean {statistics.mean(latencies):.1f} ms")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
