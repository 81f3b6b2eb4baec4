"""Real `celery worker` processes on Redis + PostgreSQL (and on the embedded SQLite broker):
every accepted change gets assessed, whatever happens to the broker or the worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from testkit.factories import make_lesion, make_patient, obs
from tests.conftest import _port_open
from tests.workers.conftest import SESSION_QUEUE, holding, sweep_now, wait_for
from tracker.db import session_factory, session_scope
from tracker.engine import RULES_REVISION
from tracker.migrate import upgrade
from tracker.models import Alert, Assessment, Lesion
from tracker.queries.to_assess import stale_lesions
from tracker.services.assessment.assess import assess_lesions
from tracker.services.records import record_observation
from tracker.timeline.models import ObservationIn
from workers import dispatch
from workers.app import make_celery

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

PERSISTENT = [obs("2024-01-10", 12), obs("2024-04-12", 12.5), obs("2024-07-15", 12)]
NEXT_VISIT = {"date": "2025-01-20", "modality": "XR", "size_mm": [12.5], "density": "dense",
              "margin": "well_defined", "texture": "homogeneous", "pattern": "nodular"}
MIHC: dict[str, Any] = {"density": "moderate", "margin": "ill_defined",
                        "texture": "heterogeneous", "pattern": "cloud"}


def assessed(url: str, lesion_id: int) -> bool:
    with session_scope(url) as s:
        lesion = s.get(Lesion, lesion_id)
        return bool(lesion and lesion.assessed_version == lesion.data_version
                    and lesion.assessment_due_at is None)


def row_counts(url: str, lesion_id: int) -> tuple[int, int]:
    with session_scope(url) as s:
        stages = s.scalar(select(func.count()).where(Assessment.lesion_id == lesion_id))
        alerts = s.scalar(select(func.count()).where(Alert.lesion_id == lesion_id))
        return int(stages or 0), int(alerts or 0)


def new_lesion(url: str, observations: list[dict[str, Any]] = PERSISTENT, **kw: Any) -> int:
    with session_factory(url)() as s:
        return make_lesion(s, observations=observations, **kw).id


def test_recorded_observation_is_assessed_by_a_worker(
    worker_env: dict[str, str], start_worker: Any
) -> None:
    url = worker_env["DATABASE_URL"]
    start_worker(worker_env)
    lesion_id = new_lesion(url)
    with session_factory(url)() as s:
        record_observation(s, lesion_id, ObservationIn.model_validate(NEXT_VISIT), actor="test")

    assert dispatch.request_assessment([lesion_id]) == 1

    wait_for(lambda: assessed(url, lesion_id), 30, what="the assessment")
    with session_scope(url) as s:
        stage = s.scalar(select(Lesion.current_stage).where(Lesion.id == lesion_id))
        since = s.scalar(select(Alert.since).where(Alert.lesion_id == lesion_id,
                                                   Alert.kind == "no_resolution"))
    assert stage == "resting"
    assert since == date(2024, 7, 15)


def test_broker_down_commits_fast_and_the_sweep_sends_everything_later(
    worker_env: dict[str, str], start_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = worker_env["DATABASE_URL"]
    with session_factory(url)() as s:
        patient = make_patient(s)
        ids = [make_lesion(s, patient=patient, external_id=f"L{i}", observations=PERSISTENT).id
               for i in range(50)]
        closed = "redis://127.0.0.1:1/14"
        assert not _port_open("127.0.0.1", 1)
        monkeypatch.setenv("REDIS_URL", closed)
        started = time.monotonic()
        for lesion_id in ids:
            record_observation(s, lesion_id, ObservationIn.model_validate(NEXT_VISIT),
                               actor="test")
            assert dispatch.request_assessment([lesion_id]) == 0
        elapsed = time.monotonic() - started
    assert elapsed < 15, f"50 records took {elapsed:.1f}s with the broker down"
    with session_scope(url) as s:
        pending = s.scalar(select(func.count()).where(Lesion.assessment_due_at.is_not(None)))
    assert pending == 50

    monkeypatch.setenv("REDIS_URL", worker_env["REDIS_URL"])
    start_worker(worker_env)
    assert sweep_now() == {"pending": 50, "queued": 50}

    wait_for(lambda: all(assessed(url, i) for i in ids), 90, interval=0.5,
             what="all 50 assessments")


def test_two_workers_on_one_lesion_store_one_consistent_result(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    url = worker_env["DATABASE_URL"]
    hold, paused = holding(tmp_path, "before_lock")
    env = {**worker_env, **paused}
    workers = [start_worker(env, "a", wait=False), start_worker(env, "b", wait=False)]
    for w in workers:
        w.wait_ready()
    lesion_id = new_lesion(url)

    assert dispatch.request_assessment([lesion_id]) == 1
    assert dispatch.request_assessment([lesion_id]) == 1  # two tasks for one lesion
    wait_for(lambda: len(list(hold.glob("started-*"))) == 2, 30,
             what="both workers to hold the same task")
    (hold / "release").touch()  # both go for the lesion at once

    wait_for(lambda: sum(len(w.succeeded()) for w in workers) == 2, 30, what="both tasks")
    lines = [ln for w in workers for ln in w.succeeded()]
    assert sorted("'changed': 1" in ln for ln in lines) == [False, True]
    assert assessed(url, lesion_id)
    assert row_counts(url, lesion_id) == (3, 2)


def test_embedded_default_sqlite_broker_and_database(
    start_worker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "instance"
    db_url = f"sqlite:///{instance / 'calcitrack.sqlite'}"
    upgrade(db_url)
    for key in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "RESULT_BACKEND"):
        monkeypatch.delenv(key, raising=False)
    queue = f"{SESSION_QUEUE}-embedded"
    # The worker gets only the instance folder (the embedded default); this process names the
    # same files explicitly, as its settings module read the instance folder at import.
    start_worker({"CALCITRACK_INSTANCE": str(instance), "CALCITRACK_QUEUE": queue})
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BROKER_URL", f"sqla+sqlite:///{instance / 'broker.sqlite'}")
    monkeypatch.setenv("CALCITRACK_QUEUE", queue)
    lesion_id = new_lesion(db_url)

    assert dispatch.request_assessment([lesion_id]) == 1

    wait_for(lambda: assessed(db_url, lesion_id), 30, what="the assessment via SQLite")


# --------------------------------------------------------------------------- notifications


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]  # a free loopback port
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


class Hook:
    """A webhook receiver that answers 503 to the first `failures` POSTs."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.received: list[dict[str, Any]] = []


@pytest.fixture
def webhook() -> Iterator[tuple[str, Hook]]:
    hook = Hook(failures=2)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.attempts += 1
            if hook.attempts <= hook.failures:
                self.send_response(503)
            else:
                hook.received.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", hook
    server.shutdown()
    server.server_close()


def test_new_urgent_alert_goes_to_the_webhook_with_retries_and_to_one_digest(
    worker_env: dict[str, str], start_worker: Any, smtp_server: tuple[int, Mailbox],
    webhook: tuple[str, Hook],
) -> None:
    url = worker_env["DATABASE_URL"]
    port, mailbox = smtp_server
    hook_url, hook = webhook
    env = {**worker_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
           "ALERT_EMAILS": "ward@example.org,oncall@example.org",
           "ALERT_WEBHOOK_URL": hook_url}
    worker = start_worker(env)
    # clinical-rules §8 example 8: rapid progression with new bone lysis (urgent).
    lesion_id = new_lesion(
        url,
        observations=[obs("2024-01-15", 12, **MIHC), obs("2024-03-20", 20, **MIHC,
                                                          features=("bone_lysis",))],
        compartment="articular", region="hip", structure=None,
        entity="rapidly_destructive_arthropathy",
    )
    assert dispatch.request_assessment([lesion_id]) == 1

    wait_for(lambda: hook.received, 40, what="the webhook POST after retries")
    assert hook.attempts == 3
    [payload] = hook.received
    assert payload["lesion_id"] == lesion_id
    assert payload["alert"]["kind"] == "rapid_progression"
    assert payload["alert"]["severity"] == "urgent"

    sender = make_celery()
    sender.send_task("calcitrack.send_digest")
    wait_for(lambda: mailbox.messages, 30, what="the digest e-mail")
    [mail] = mailbox.messages
    assert sorted(mail.rcpt_tos) == ["oncall@example.org", "ward@example.org"]
    assert "rapid_progression" in mail.content.decode()
    with session_scope(url) as s:
        notified = s.scalar(select(Alert.notified_at).where(Alert.kind == "rapid_progression"))
    assert notified is not None

    sender.send_task("calcitrack.send_digest")
    wait_for(lambda: len(worker.succeeded("calcitrack.send_digest")) == 2, 30,
             what="the second digest run")
    assert len(mailbox.messages) == 1  # each alert is e-mailed once


def test_rules_revision_bump_makes_every_lesion_stale_and_the_hourly_job_reassesses_them(
    worker_env: dict[str, str], start_worker: Any
) -> None:
    """Lesions assessed under the previous revision of the clinical rules (as a deployment of
    a new revision finds them) are all picked up by the hourly stale job and stored again under
    the running revision, each stage row included."""
    url = worker_env["DATABASE_URL"]
    ids = [new_lesion(url, external_id=f"L{i}") for i in range(3)]
    with session_factory(url)() as s:
        assess_lesions(s, ids, date(2025, 3, 1))
        assert stale_lesions(s) == []
        s.execute(update(Lesion).values(rules_revision=RULES_REVISION - 1))
        s.execute(update(Assessment).values(rules_revision=RULES_REVISION - 1))
        s.commit()
        assert stale_lesions(s) == ids
    worker = start_worker(worker_env)

    make_celery().send_task("calcitrack.reassess_stale")

    wait_for(lambda: worker.succeeded("calcitrack.reassess_stale"), 30,
             what="the stale job")
    with session_scope(url) as s:
        assert stale_lesions(s) == []
        lesions = set(s.scalars(select(Lesion.rules_revision)))
        stages = set(s.scalars(select(Assessment.rules_revision)))
    assert lesions == stages == {RULES_REVISION}
