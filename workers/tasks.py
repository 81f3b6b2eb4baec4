"""Thin tasks: ids and ISO dates in, one session, one service call, then side effects.

Every task has an explicit name (the web layer and beat send by name). None passes an ORM
object, none waits for another task's result. Assessment is idempotent, so `acks_late` makes
a killed worker cost a rerun, not a lost assessment; only transient database and network
errors are retried, with exponential backoff capped at `RETRY_BACKOFF_MAX`.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import requests
from sqlalchemy.exc import DBAPIError, OperationalError

from tracker.config import from_env
from tracker.db import session_scope
from tracker.errors import NotFound
from tracker.queries.to_assess import stale_lesions
from tracker.services import notifications, prognosis
from tracker.services.assessment import assess, scan, sweep
from workers.app import RETRY_BACKOFF_MAX, celery
from workers.dispatch import broker_holds_nothing, send_assessments
from workers.names import (
    ASSESS_LESION,
    ASSESS_LESIONS,
    NOOP,
    POST_WEBHOOK,
    REASSESS_STALE,
    REFIT_PROGNOSIS,
    SCAN_ALERTS,
    SEND_DIGEST,
    SWEEP_PENDING,
)

log = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, DBAPIError)


def _as_of(value: str | None) -> date:
    return date.today() if value is None else date.fromisoformat(value)


def _announce(alert_ids: list[int] | tuple[int, ...]) -> None:
    """New urgent alerts go to the webhook, one task each (each retried on its own)."""
    if alert_ids and from_env().webhook_url:
        for alert_id in alert_ids:
            celery.send_task(POST_WEBHOOK, args=[alert_id])


@celery.task(name=ASSESS_LESION, acks_late=True, autoretry_for=DB_ERRORS, retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=10)
def assess_lesion_task(lesion_id: int, as_of: str | None = None) -> dict[str, Any] | None:
    """Assess one lesion (the message of earlier releases; senders now send batches)."""
    with session_scope(from_env().database_url) as session:
        try:
            outcome = assess.assess_lesion(session, lesion_id, _as_of(as_of))
        except NotFound:
            log.info("lesion %s is gone; nothing to assess", lesion_id)
            return None
    _announce(outcome.urgent_alert_ids)
    return {"lesion_id": lesion_id, "changed": outcome.changed, "current": outcome.current}


@celery.task(name=ASSESS_LESIONS, acks_late=True, autoretry_for=DB_ERRORS, retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=10)
def assess_lesions_task(lesion_ids: list[int], as_of: str | None = None) -> dict[str, Any]:
    """Assess a batch of lesions (after changes, or a slice of the daily scan): one
    transaction per chunk, so a rerun after a killed worker redoes at most the chunk it was
    in and finds the others already current."""
    with session_scope(from_env().database_url) as session:
        report = assess.assess_lesions(session, lesion_ids, _as_of(as_of))
    _announce(report.urgent_alert_ids)
    return report.as_dict()


@celery.task(name=SCAN_ALERTS, acks_late=True, autoretry_for=DB_ERRORS,
             retry_backoff=True, retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=5)
def scan_alerts_task(as_of: str | None = None) -> dict[str, Any]:
    """Daily: select what is due (`recheck_on <= as_of`, ended snoozes, stale) from the index
    and fan it out as batch tasks, so every worker shares a large day."""
    when = _as_of(as_of)
    with session_scope(from_env().database_url) as session:
        ids = scan.due_lesions(session, when)
    sent = send_assessments(ids, as_of=when)
    log.info("alert scan %s: %d lesion(s) due, sent in batches", when, sent)
    return {"as_of": when.isoformat(), "due": len(ids), "sent": sent}


# Acknowledged when it starts (a lost sweep is the next one 30 s later): its own message must
# not count as one the broker still holds.
@celery.task(name=SWEEP_PENDING, autoretry_for=DB_ERRORS, max_retries=0, acks_late=False)
def sweep_pending_task() -> int:
    """Every 30 s: re-send assessments whose task was lost. A broker holding no message at
    all has lost whatever it was handed and is still unassessed: that is re-sent once past
    the grace period (SWEEP_GRACE_SECONDS), not after RESEND_AFTER_SECONDS."""
    settings = from_env()
    resend = settings.resend_after_seconds
    if broker_holds_nothing():
        resend = min(resend, settings.sweep_grace_seconds)
    with session_scope(settings.database_url) as session:
        ids = sweep.sweep_pending(session, settings.sweep_grace_seconds, resend)
    if ids:
        log.info("re-sending %d pending assessment(s)", len(ids))
    return send_assessments(ids)


@celery.task(name=REASSESS_STALE, acks_late=True, autoretry_for=DB_ERRORS,
             retry_backoff=True, retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=5)
def reassess_stale_task(as_of: str | None = None) -> dict[str, Any]:
    """Hourly: lesions assessed by another engine version, or never, assessed in-process."""
    with session_scope(from_env().database_url) as session:
        ids = stale_lesions(session)
        report = assess.assess_lesions(session, ids, _as_of(as_of))
    _announce(report.urgent_alert_ids)
    return report.as_dict()


@celery.task(name=SEND_DIGEST, acks_late=True,
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


@celery.task(name=REFIT_PROGNOSIS, acks_late=True, autoretry_for=DB_ERRORS,
             retry_backoff=True, retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=3)
def refit_prognosis_task() -> list[dict[str, Any]]:
    """Nightly: every family's prognosis model refitted on the stored assessments; a new
    version is stored only when the fit changed (a rerun stores nothing)."""
    with session_scope(from_env().database_url) as session:
        results = prognosis.refit(session)
    return [{"family": r.family, "version": r.version, "stored": r.stored,
             "usable": r.usable, "n": r.n, "events": r.events} for r in results]


@celery.task(name=NOOP, ignore_result=False)
def noop_task() -> str:
    """Does nothing: the broker round trip `make bench` compares an assessment's latency with."""
    return "ok"
