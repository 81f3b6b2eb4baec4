"""Deliver new urgent alerts outside the web page: a daily e-mail digest and a webhook POST.

Owns `Alert.notified_at` (set once an alert went out in a digest, so it is e-mailed once) and
the shape of what is sent. Standard library `smtplib` and `requests`; never Celery: the task
that calls `post_alert` decides on retries.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from tracker.clock import now
from tracker.config import Settings
from tracker.errors import NotFound
from tracker.models import Alert, Lesion
from tracker.queries.lookup import alert_with_lesion
from tracker.queries.show import alert_json
from tracker.vocabulary import AlertState, Severity

SMTP_TIMEOUT_SECONDS = 10
WEBHOOK_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class DigestResult:
    alerts: int
    recipients: int


def _undelivered(session: Session) -> list[Alert]:
    """Urgent alerts still open and never e-mailed, oldest first. Locked (PostgreSQL) or under
    the write lock (SQLite, via the no-op update), so two digests cannot send one alert twice."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Alert).where(Alert.id < 0).values(notified_at=None)
            .execution_options(synchronize_session=False)
        )
    query = (
        select(Alert)
        .where(
            Alert.severity == Severity.URGENT.value,
            Alert.state == AlertState.OPEN.value,
            Alert.notified_at.is_(None),
        )
        .order_by(Alert.opened_at, Alert.id)
        .options(selectinload(Alert.lesion).selectinload(Lesion.patient))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Alert)
    return list(session.scalars(query))


def digest_message(alerts: list[Alert], settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"calcitrack: {len(alerts)} new urgent alert(s)"
    msg["From"] = settings.smtp_sender
    msg["To"] = ", ".join(settings.alert_emails)
    lines = ["New urgent alerts (open the worklist to acknowledge them):", ""]
    for a in alerts:
        lines.append(
            f"- patient {a.lesion.patient.external_id}, lesion {a.lesion.external_id}: "
            f"{a.kind} since {a.since.isoformat()} ({a.rule})"
        )
        lines.append(f"  {a.reason}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_digest(session: Session, settings: Settings) -> DigestResult:
    """E-mail every undelivered urgent alert in one message, then mark them delivered.

    Sent before the commit: if the commit fails the next digest sends them again (at least
    once, never silently lost). Without SMTP settings or recipients nothing is marked.
    """
    if not settings.smtp_host or not settings.alert_emails:
        session.rollback()
        return DigestResult(0, 0)
    alerts = _undelivered(session)
    if not alerts:
        session.rollback()
        return DigestResult(0, len(settings.alert_emails))
    msg = digest_message(alerts, settings)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(msg)
    session.execute(
        update(Alert)
        .where(Alert.id.in_([a.id for a in alerts]), Alert.notified_at.is_(None))
        .values(notified_at=now())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return DigestResult(len(alerts), len(settings.alert_emails))


def alert_payload(session: Session, alert_id: int) -> dict[str, Any] | None:
    """The webhook body of one alert; None when it is gone or already cleared."""
    try:
        alert = alert_with_lesion(session, alert_id)
    except NotFound:
        return None
    if alert.state == AlertState.CLEARED.value:
        return None
    return {
        "event": "alert.opened",
        "patient": alert.lesion.patient.external_id,
        "lesion": alert.lesion.external_id,
        "lesion_id": alert.lesion_id,
        "alert": alert_json(alert),
    }


def post_alert(url: str, payload: dict[str, Any]) -> int:
    """POST one alert as JSON; raises on a network error or a non-2xx answer (so the caller
    can retry)."""
    response = requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_SECONDS)
    response.raise_for_status()
    return response.status_code
