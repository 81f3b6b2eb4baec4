"""All of beat, in one dict that reads top to bottom.

Overlap is harmless: services lock the lesions they write and the open-alert unique index
forbids duplicates. Periodic tasks expire, so a backlog of sweeps never piles up while the
workers are down.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from tracker.config import Settings
from workers.names import REASSESS_STALE, SCAN_ALERTS, SEND_DIGEST, SWEEP_PENDING

SWEEP_SECONDS = 30.0
DIGEST_DELAY_MINUTES = 30  # after the scan, so the digest includes what the scan opened


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    digest_at = settings.scan_hour * 60 + settings.scan_minute + DIGEST_DELAY_MINUTES
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
        # A new engine version, or anything the outbox missed.
        "reassess-stale-hourly": {
            "task": REASSESS_STALE,
            "schedule": crontab(minute=17),
            "options": {"expires": 3600},
        },
    }
