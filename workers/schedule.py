"""All of beat, in one dict that reads top to bottom.

Overlap is harmless: services lock the lesions they write and the open-alert unique index
forbids duplicates. Periodic tasks expire, so a backlog of sweeps never piles up while the
workers are down.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from tracker.config import Settings
from workers.names import (
    PACS_SYNC,
    REASSESS_STALE,
    REFIT_PROGNOSIS,
    SCAN_ALERTS,
    SEND_DIGEST,
    SEND_WRITE_BACKS,
    SWEEP_PENDING,
)

SWEEP_SECONDS = 30.0
WRITE_BACK_SECONDS = 60.0
DIGEST_DELAY_MINUTES = 30  # after the scan, so the digest includes what the scan opened
REFIT_DELAY_MINUTES = 90  # after the scan's assessments, so the refit reads them


def _pacs(settings: Settings) -> dict[str, dict[str, Any]]:
    """The PACS link's entries: none without DICOMWEB_URL."""
    if not settings.dicomweb_url:
        return {}
    poll = settings.pacs_poll_minutes * 60.0
    entries: dict[str, dict[str, Any]] = {
        # New measurement reports in the PACS (and every report still pending).
        "pacs-sync": {"task": PACS_SYNC, "schedule": poll, "options": {"expires": poll}},
    }
    if settings.pacs_write_back:
        # The write-back outbox: readings the PACS does not have yet (each row's back-off).
        entries["pacs-write-back"] = {"task": SEND_WRITE_BACKS, "schedule": WRITE_BACK_SECONDS,
                                      "options": {"expires": WRITE_BACK_SECONDS}}
    return entries


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    digest_at = settings.scan_hour * 60 + settings.scan_minute + DIGEST_DELAY_MINUTES
    refit_at = settings.scan_hour * 60 + settings.scan_minute + REFIT_DELAY_MINUTES
    return {
        # Time-dependent alerts (no resolution, HO not maturing, follow-up overdue), snoozes.
        "scan-alerts-daily": {
            "task": SCAN_ALERTS,
            "schedule": crontab(hour=settings.scan_hour, minute=settings.scan_minute),
            "options": {"expires": 6 * 3600},
        },
        # Re-send assessments whose task was lost (outbox marks older than the grace period).
        "sweep-pending": {
            "task": SWEEP_PENDING,
            "schedule": SWEEP_SECONDS,
            "options": {"expires": SWEEP_SECONDS},
        },
        # New urgent alerts to ALERT_EMAILS, once each.
        "send-digest-daily": {
            "task": SEND_DIGEST,
            "schedule": crontab(hour=(digest_at // 60) % 24, minute=digest_at % 60),
            "options": {"expires": 6 * 3600},
        },
        # The prognosis models refitted on the day's assessments (a new version if changed).
        "refit-prognosis-nightly": {
            "task": REFIT_PROGNOSIS,
            "schedule": crontab(hour=(refit_at // 60) % 24, minute=refit_at % 60),
            "options": {"expires": 12 * 3600},
        },
        # A new engine version, or anything the outbox missed.
        "reassess-stale-hourly": {
            "task": REASSESS_STALE,
            "schedule": crontab(minute=17),
            "options": {"expires": 3600},
        },
        # With DICOMWEB_URL: new reports every PACS_POLL_MINUTES, the write-back outbox.
        **_pacs(settings),
    }
