"""The PACS tasks (only scheduled when DICOMWEB_URL is set): reading new measurement reports
every PACS_POLL_MINUTES, and sending the write-back outbox every minute (PACS_WRITE_BACK=1).

A PACS that cannot be reached fails the sync, which is retried with back-off (and beat starts
another at the next poll: two at once never import a report twice). The outbox rows carry
their own back-off, so the send task never retries: the next minute's run takes what is due."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tracker.config import from_env
from tracker.db import session_scope
from tracker.pacs.client import PacsClient, PacsUnavailable
from tracker.pacs.outbox import send_write_backs
from tracker.pacs.sync import sync_reports
from workers.app import RETRY_BACKOFF_MAX, celery
from workers.dispatch import request_assessment
from workers.names import PACS_SYNC, SEND_WRITE_BACKS
from workers.tasks import DB_ERRORS

log = logging.getLogger(__name__)


@celery.task(name=PACS_SYNC, acks_late=True, autoretry_for=(PacsUnavailable, *DB_ERRORS),
             retry_backoff=True, retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=3)
def pacs_sync_task() -> dict[str, Any] | None:
    """Read the reports written since the last sync; queue the assessments of what changed."""
    settings = from_env()
    client = PacsClient.from_settings(settings)
    if client is None:
        return None
    with client, session_scope(settings.database_url) as session:
        report = sync_reports(session, client, today=date.today())
    request_assessment(report.changed_lesion_ids)
    return report.as_dict()


@celery.task(name=SEND_WRITE_BACKS, acks_late=True, autoretry_for=DB_ERRORS, max_retries=0)
def send_write_backs_task() -> dict[str, Any] | None:
    """Store the due write-back SRs in the PACS."""
    settings = from_env()
    client = PacsClient.from_settings(settings) if settings.pacs_write_back else None
    if client is None:
        return None
    with client, session_scope(settings.database_url) as session:
        try:
            return send_write_backs(session, client).as_dict()
        except PacsUnavailable as exc:  # noted on the row; the next run tries again
            log.info("write-back deferred: %s", exc)
            return {"unavailable": True}
