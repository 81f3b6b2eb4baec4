"""Thin tasks: ids and ISO dates in, one session, one service call, then side effects.

Every task has an explicit name (the web layer and beat send by name). None passes an ORM
object, none waits for another task's result. Assessment is idempotent, so `acks_late` makes
a killed worker cost a rerun, not a lost assessment; only transient database and network
errors are retried, with exponential backoff capped at `RETRY_BACKOFF_MAX`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.exc import DBAPIError, OperationalError

from tracker.config import from_env
from tracker.db import session_scope
from tracker.errors import NotFound
from tracker.services import assessment, notifications
from workers.app import RETRY_BACKOFF_MAX, celery
from workers.dispatch import ASSESS_BATCH, send_assessments

log = logging.getLogger(__name__)

ASSESS = "calcitrack.assess_lesion"
POST_WEBHOOK = "calcitrack.post_webhook"
DB_ERRORS = (OperationalError, DBAPIError)


def _as_of(value: str | None) -> date:
    return date.today() if value is None else date.fromisoformat(value)


def _test_hold(point: str) -> None:
    """Test hook, inert unless CALCITRACK_TEST_HOLD_DIR is set: at the named point
    (CALCITRACK_TEST_HOLD_AT), say so with a file and wait until the test creates `release`.
    Lets a test kill a worker mid-assessment or start two assessments at the same moment."""
    folder = os.environ.get("CALCITRACK_TEST_HOLD_DIR")
    if not folder or os.environ.get("CALCITRACK_TEST_HOLD_AT", "after_lock") != point:
        return
    hold = Path(folder)
    (hold / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 300
    while not (hold / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _hook(point: str) -> Callable[[], None]:
    return lambda: _test_hold(point)


def _announce(alert_ids: list[int] | tuple[int, ...]) -> None:
    """New urgent alerts go to the webhook, one task each (each retried on its own)."""
    if alert_ids and from_env().webhook_url:
        for alert_id in alert_ids:
            celery.send_task(POST_WEBHOOK, args=[alert_id])


@celery.task(name=ASSESS, acks_late=True, autoretry_for=DB_ERRORS, retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=10)
def assess_lesion_task(lesion_id: int, as_of: str | None = None) -> dict[str, Any] | None:
    """Assess one lesion (the message of earlier releases; senders now send batches)."""
    _test_hold("before_lock")
    with session_scope(from_env().database_url) as session:
        try:
            outcome = assessment.assess_lesion(
                session, lesion_id, _as_of(as_of), after_lock=_hook("after_lock")
            )
        except NotFound:
            log.info("lesion %s is gone; nothing to assess", lesion_id)
            return None
    _announce(outcome.urgent_alert_ids)
    return {"lesion_id": lesion_id, "changed": outcome.changed, "current": outcome.current}


@celery.task(name=ASSESS_BATCH, acks_late=True, autoretry_for=DB_ERRORS, retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=10)
def assess_lesions_task(lesion_ids: list[int], as_of: str | None = None) -> dict[str, Any]:
    """Assess a batch of lesions (after changes, or a slice of the daily scan): one
    transaction per chunk, so a rerun after a killed worker redoes at most the chunk it was
    in and finds the others already current."""
    _test_hold("before_lock")
    with session_scope(from_env().database_url) as session:
        report = assessment.assess_lesions(
            session, lesion_ids, _as_of(as_of), after_lock=_hook("after_lock")
        )
    _announce(report.urgent_alert_ids)
    return report.as_dict()


@celery.task(name="calcitrack.scan_alerts", acks_late=True, autoretry_for=DB_ERRORS,
             retry_backoff=True, retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=5)
def scan_alerts_task(as_of: str | None = None) -> dict[str, Any]:
    """Daily: select what is due (`recheck_on <= as_of`, ended snoozes, stale) from the index
    and fan it out as batch tasks, so every worker shares a large day."""
    when = _as_of(as_of)
    with session_scope(from_env().database_url) as session:
        ids = assessment.due_lesions(session, when)
    sent = send_assessments(ids, as_of=when)
    log.info("alert scan %s: %d lesion(s) due, sent in batches", when, sent)
    return {"as_of": when.isoformat(), "due": len(ids), "sent": sent}


@celery.task(name="calcitrack.sweep_pending", autoretry_for=DB_ERRORS, max_retries=0)
def sweep_pending_task() -> int:
    """Every 30 s: re-send assessments whose task was lost."""
    settings = from_env()
    with session_scope(settings.database_url) as session:
        ids = assessment.sweep_pending(
            session, settings.sweep_grace_seconds, settings.resend_after_seconds
        )
    if ids:
        log.info("re-sending %d pending assessment(s)", len(ids))
    return send_assessments(ids)


@celery.task(name="calcitrack.reassess_stale", acks_late=True, autoretry_for=DB_ERRORS,
             retry_backoff=True, retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=5)
def reassess_stale_task(as_of: str | None = None) -> dict[str, Any]:
    """Hourly: lesions assessed by another engine version, or never, assessed in-process."""
    with session_scope(from_env().database_url) as session:
        ids = assessment.stale_lesions(session)
        report = assessment.assess_lesions(session, ids, _as_of(as_of))
    _announce(report.urgent_alert_ids)
    return report.as_dict()


@celery.task(name="calcitrack.send_digest", acks_late=True,
             autoretry_for=(*DB_ERRORS, OSError), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=8)
def send_digest_task() -> int:
    """Daily: new urgent alerts by e-mail to ALERT_EMAILS (smtplib errors are OSErrors)."""
    settings = from_env()
    with session_scope(settings.database_url) as session:
        return notifications.send_digest(session, settings).alerts


@celery.task(name=POST_WEBHOOK, acks_late=True,
             autoretry_for=(requests.RequestException, *DB_ERRORS), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, retry_jitter=True, max_retries=8)
def post_webhook_task(alert_id: int) -> int | None:
    """POST a new urgent alert to ALERT_WEBHOOK_URL; retried with backoff until it answers."""
    settings = from_env()
    if not settings.webhook_url:
        return None
    with session_scope(settings.database_url) as session:
        payload = notifications.alert_payload(session, alert_id)
    if payload is None:
        return None
    return notifications.post_alert(settings.webhook_url, payload)


@celery.task(name="calcitrack.noop", ignore_result=False)
def noop_task() -> str:
    """Does nothing: the broker round trip `make bench` compares an assessment's latency with."""
    return "ok"
