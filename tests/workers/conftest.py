"""Real workers for real brokers: `celery -A workers worker` subprocesses, no eager mode.

Each test process gets its own queue name on its own Redis database number (`redis_db(1)`), so
a stray worker from another run or another test process never takes these tasks. Workers run
`--pool=solo`, so the task runs in the process the tests kill. The test process sends through
the same sender the web layer uses, with the same environment as its workers. Nothing sleeps a
fixed time: `wait_for` polls a condition until a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import text

from tests.conftest import REDIS_HOST, REDIS_PORT, migrated_postgres, redis_db, require_server
from tracker.db import engine_for

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = redis_db(1)
VISIBILITY_TIMEOUT = 6  # seconds; production uses 15 minutes (see workers/app.py)
SESSION_QUEUE = f"calcitrack-test-{uuid.uuid4().hex[:10]}"
HOLD_DIR = "CALCITRACK_TEST_HOLD_DIR"

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 30, interval: float = 0.1,
             what: str = "condition") -> T:
    """Poll until `check()` is truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def holding(tmp_path: Path, at: str = "after_lock") -> tuple[Path, dict[str, str]]:
    """The folder and environment of a worker that pauses `at` a moment of each assessment
    (tests/workers/holding.py) until the test creates `release` in that folder."""
    hold = tmp_path / "hold"
    hold.mkdir()
    return hold, {HOLD_DIR: str(hold), "CALCITRACK_TEST_HOLD_AT": at}


def held(hold: Path, what: str) -> Path:
    """The marker of the first task to pause in `hold`, once there is one."""
    return wait_for(lambda: next(hold.glob("started-*"), None), 30, what=what)


def sweep_now() -> dict[str, int]:
    """`tracker sweep --grace-seconds 0`, sending through the workers' sender."""
    from tracker.cli.main import main
    from workers import dispatch

    swept = CliRunner().invoke(main, ["sweep", "--grace-seconds", "0"],
                               obj=dispatch.request_assessment)
    assert swept.exit_code == 0, swept.output
    counts: dict[str, int] = json.loads(swept.output)
    return counts


@dataclass
class Worker:
    name: str
    log: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(repr=False)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.text()}")
            return " ready." in self.text()

        wait_for(ready, timeout, what=f"worker {self.name} to be ready")

    def succeeded(self, task: str = "calcitrack.assess_lesions") -> list[str]:
        lines = self.text().splitlines()
        return [ln for ln in lines if f"Task {task}[" in ln and "succeeded" in ln]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # warm shutdown: unacked tasks go back
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start a worker with the given environment; every one started is stopped afterwards.
    With `CALCITRACK_TEST_HOLD_DIR` set it runs the holding app (tests/workers/holding.py)."""
    started: list[Worker] = []

    def start(env: dict[str, str], name: str = "w", wait: bool = True, pool: str = "solo",
              **extra_env: str) -> Worker:
        full = {**os.environ, **env, **extra_env}
        log = tmp_path / f"{name}-{len(started)}.log"
        app = "tests.workers.holding" if HOLD_DIR in full else "workers"
        concurrency = ["--concurrency=1"] if pool == "prefork" else []
        cmd = [sys.executable, "-m", "celery", "-A", app, "worker", f"--pool={pool}",
               *concurrency,
               "--loglevel=INFO", "-Q", full["CALCITRACK_QUEUE"],
               "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=full, stdout=out,
                                    stderr=subprocess.STDOUT)
        worker = Worker(name, log, proc, full)
        started.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    yield start
    # The test is over: kill what still runs (a warm shutdown took seconds per worker), then
    # empty this process's queue and the broker's unacked set, so nothing a killed worker held
    # reaches the next test's worker. A test that needs a warm shutdown calls `stop()` itself.
    for worker in started:
        if worker.proc.poll() is None:
            worker.kill9()
    clear_queue()


@pytest.fixture(scope="session")
def redis_test_url() -> Iterator[str]:
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    yield url
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    client.delete(SESSION_QUEUE)


@pytest.fixture(scope="module")
def pg_database(postgres_template: str) -> Iterator[str]:
    """One migrated PostgreSQL database per module; tests truncate what they committed."""
    yield from migrated_postgres(postgres_template)


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    yield pg_database
    with engine_for(pg_database).begin() as conn:
        conn.execute(text("TRUNCATE patients, audit_events RESTART IDENTITY CASCADE"))


@pytest.fixture
def worker_env(pg_url: str, redis_test_url: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of the workers, also set in this process (the sender reads it)."""
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_test_url,
        "CALCITRACK_QUEUE": SESSION_QUEUE,
        "CALCITRACK_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CALCITRACK_INSTANCE": str(tmp_path / "instance"),
    }
    for key in ("BROKER_URL", "RESULT_BACKEND", "SMTP_HOST", "ALERT_EMAILS",
                "ALERT_WEBHOOK_URL", HOLD_DIR):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def redis_client() -> Any:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)


def clear_queue() -> None:
    """Delete the session queue's messages and the unacked ones of this process's Redis
    database (the queue's bindings stay)."""
    client = redis_client()
    try:
        keys = [*client.scan_iter(f"{SESSION_QUEUE}*"), *client.scan_iter("unacked*")]
        if keys:
            client.delete(*keys)
    except redis.ConnectionError:
        pass  # the test ran without this Redis (the embedded default): nothing to clear
    finally:
        client.close()
