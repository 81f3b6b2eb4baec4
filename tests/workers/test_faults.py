"""Faults on the real servers: a worker killed with SIGKILL mid-task, the broker (a private
`redis-server` this test starts and stops) going down during writes, and the worker's
PostgreSQL connection terminated mid-transaction. In each case no accepted observation is lost
and every lesion ends up assessed, within the documented bound."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from testkit.factories import make_lesion, make_patient
from tests.conftest import IN_CI, PG_ADMIN_URL, _port_open
from tests.workers.conftest import VISIBILITY_TIMEOUT, held, holding, sweep_now, wait_for
from tests.workers.test_workers import NEXT_VISIT, PERSISTENT, assessed, new_lesion, row_counts
from tracker.db import session_factory, session_scope
from tracker.models import Observation
from tracker.services.records import record_observation
from tracker.timeline.models import ObservationIn
from workers import dispatch
from workers.app import redelivery_bound

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def _holding_a_lesion(start_worker: Any, env: dict[str, str], tmp_path: Path, name: str,
                      **worker_args: Any) -> tuple[Any, Path, int]:
    """A worker paused in the assessment of a new lesion, with the lesion locked: the worker,
    the marker of its paused task (`release` beside it lets it go on) and the lesion's id."""
    hold, paused = holding(tmp_path)
    worker = start_worker(env, name, **worker_args, **paused)
    lesion_id = new_lesion(env["DATABASE_URL"])
    assert dispatch.request_assessment([lesion_id]) == 1
    return worker, held(hold, "the task to hold the locked lesion"), lesion_id


def test_worker_killed_mid_task_is_redelivered_to_a_running_worker_within_the_bound(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    """SIGKILL of the worker holding a lesion's lock: the transaction dies with it, and the
    other (already running) worker gets the task back within the visibility timeout plus its
    restore interval, without beat's sweep (no beat runs here), and assesses it once."""
    url = worker_env["DATABASE_URL"]
    doomed, _, lesion_id = _holding_a_lesion(start_worker, worker_env, tmp_path, "doomed")
    survivor = start_worker(worker_env, "survivor")

    doomed.kill9()
    assert not assessed(url, lesion_id)  # its transaction died with it

    bound = redelivery_bound(VISIBILITY_TIMEOUT)
    wait_for(lambda: assessed(url, lesion_id), bound + 20,
             what=f"the redelivered assessment (bound {bound} s + time to run it)")
    wait_for(lambda: survivor.succeeded(), 10, what="the task's success line")
    assert len(survivor.succeeded()) == 1
    assert "'changed': 1" in survivor.succeeded()[0]
    # one stage per observation; no_resolution and follow_up_overdue (as of today), once each
    assert row_counts(url, lesion_id) == (3, 2)


def test_killed_pool_process_returns_its_task_at_once(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    """SIGKILL of the pool process running a task (out of memory, say) while its worker lives:
    `task_reject_on_worker_lost` puts the task back on the queue at once, long before the
    visibility timeout (set to ten minutes here, so only the rejection can bring it back)."""
    url = worker_env["DATABASE_URL"]
    worker, marker, lesion_id = _holding_a_lesion(
        start_worker, {**worker_env, "CALCITRACK_VISIBILITY_TIMEOUT": "600"}, tmp_path,
        "prefork", pool="prefork")
    child = int(marker.name.split("-")[1])  # the pool process, not the worker
    assert child != worker.proc.pid
    os.kill(child, signal.SIGKILL)
    (marker.parent / "release").touch()  # the redelivered run goes through

    wait_for(lambda: assessed(url, lesion_id), 60, what="the rejected task's new run")
    assert "WorkerLostError" in worker.text()
    assert row_counts(url, lesion_id) == (3, 2)


# --------------------------------------------------------------------------- broker down


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateRedis:
    """A `redis-server` of our own (the shared one is never stopped), without persistence:
    what is queued when it stops is gone, as after a real broker crash."""

    exe: str
    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _port_open("127.0.0.1", self.port), 15, what="redis-server to listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    exe = shutil.which("redis-server")
    if exe is None:
        if IN_CI:
            pytest.fail("redis-server is not installed (CI=true: this test must run)")
        pytest.skip("redis-server is not installed; install it to run this test")
    server = PrivateRedis(exe, _free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def test_broker_stopped_during_writes_loses_no_observation(
    worker_env: dict[str, str], start_worker: Any, private_redis: PrivateRedis,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve visits recorded while the broker goes down after four and comes back after
    eight: every one is stored (writes never wait for the broker), the worker reconnects on
    its own, and once the sweep has re-sent what the broker lost every lesion is assessed."""
    env = {**worker_env, "REDIS_URL": private_redis.url}
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    url = env["DATABASE_URL"]
    worker = start_worker(env)
    with session_factory(url)() as s:
        patient = make_patient(s)
        ids = [make_lesion(s, patient=patient, external_id=f"L{i}", observations=PERSISTENT).id
               for i in range(12)]
    sent = []
    for i, lesion_id in enumerate(ids):
        if i == 4:
            private_redis.stop()
        if i == 8:
            private_redis.start()
            wait_for(lambda: worker.text().count("Connected to redis://") >= 2, 60,
                     what="the worker to reconnect to the restarted broker")
        with session_factory(url)() as s:
            record_observation(s, lesion_id, ObservationIn.model_validate(NEXT_VISIT),
                               actor="test")
        sent.append(dispatch.request_assessment([lesion_id]))
    assert sent[4:8] == [0, 0, 0, 0], sent  # the broker was down: deferred, not failed
    assert worker.proc.poll() is None  # the worker survived the outage

    with session_scope(url) as s:
        stored = s.scalar(select(func.count()).select_from(Observation))
    assert stored == 12 * (len(PERSISTENT) + 1)  # nothing accepted was lost

    # Messages the stopped broker held (it keeps nothing on disk) were handed over before the
    # outage: the sweep re-sends those once RESEND_AFTER_SECONDS has passed (here at once).
    monkeypatch.setenv("RESEND_AFTER_SECONDS", "0")
    sweep_now()
    wait_for(lambda: all(assessed(url, i) for i in ids), 90, interval=0.5,
             what="all 12 assessments")
    for lesion_id in ids:
        assert row_counts(url, lesion_id)[0] == len(PERSISTENT) + 1


# --------------------------------------------------------------------------- database down


def test_worker_database_connection_terminated_mid_task_is_retried(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    """`pg_terminate_backend` on the worker's connection while it holds the lesion's lock:
    the task fails with a transient database error, is retried on a new connection, and the
    lesion is assessed."""
    url = worker_env["DATABASE_URL"]
    worker, marker, lesion_id = _holding_a_lesion(start_worker, worker_env, tmp_path, "w")

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            killed = conn.scalar(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = :db AND state = 'idle in transaction'"),
                {"db": make_url(url).database})
    finally:
        admin.dispose()
    assert killed == 1
    (marker.parent / "release").touch()

    wait_for(lambda: assessed(url, lesion_id), 60, what="the retried assessment")
    assert "Retry in" in worker.text()
    assert "[parameters:" not in worker.text()  # the logged error carries no bound values
    assert row_counts(url, lesion_id) == (3, 2)


def test_a_broker_that_loses_its_queue_loses_no_assessment(
    worker_env: dict[str, str], start_worker: Any, private_redis: PrivateRedis,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five batches queued with no worker running, then the broker loses everything (a restart
    without persistence: FLUSHALL here). The beat's sweep, with no operator, sees a broker
    holding no message and re-sends what is still unassessed once past the grace period (not
    an hour later): a worker started then assesses every lesion."""
    from workers.tasks import sweep_pending_task

    env = {**worker_env, "REDIS_URL": private_redis.url}
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    monkeypatch.setenv("ASSESS_BATCH_SIZE", "2")
    monkeypatch.setenv("SWEEP_GRACE_SECONDS", "0")
    url = env["DATABASE_URL"]
    with session_factory(url)() as s:
        patient = make_patient(s)
        ids = [make_lesion(s, patient=patient, external_id=f"L{i}", observations=PERSISTENT).id
               for i in range(10)]
    assert dispatch.request_assessment(ids) == 10  # five batches, handed over and stamped
    client = redis.Redis.from_url(private_redis.url)
    assert client.llen(env["CALCITRACK_QUEUE"]) == 5
    client.flushall()
    assert sweep_pending_task() == 10  # re-sent now, not after RESEND_AFTER_SECONDS
    start_worker({**env, "ASSESS_BATCH_SIZE": "2", "SWEEP_GRACE_SECONDS": "0"})
    wait_for(lambda: all(assessed(url, i) for i in ids), 60, interval=0.5,
             what="all 10 assessments")
    assert sweep_pending_task() == 0  # nothing left to re-send
