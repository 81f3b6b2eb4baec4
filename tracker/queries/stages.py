"""A stored stage, or `pending` until an assessment that saw the lesion's current data is
stored; and a lesion's uncleared alerts in the order every page lists them. On loaded rows: no
statement of its own."""

from __future__ import annotations

from datetime import date
from typing import Any

from tracker.models import Alert, Assessment, Lesion, Observation
from tracker.vocabulary import SEVERITY_RANK, AlertState, Severity

PENDING = "pending"


def shown_assessment(obs: Observation, current: bool) -> Assessment | None:
    """An observation's stored assessment, if it saw the lesion's current data (else pending)."""
    return obs.assessment if current else None


def observation_stage(obs: Observation, current: bool) -> str:
    a = shown_assessment(obs, current)
    return a.stage if a is not None else PENDING


def lesion_stage(lesion: Lesion) -> str | None:
    """The lesion's stored stage, or `pending` until an assessment that saw its data is stored."""
    return lesion.current_stage if lesion.assessment_current else PENDING


def assessment_status(current: bool) -> str:
    return "current" if current else PENDING


def open_alerts_of(lesion: Lesion) -> list[Alert]:
    """Uncleared alerts (open, acknowledged or snoozed), most severe first."""
    alive = [a for a in lesion.alerts if a.state != AlertState.CLEARED.value]
    return sorted(alive, key=alert_order)


def alert_order(alert: Any) -> tuple[int, date, str]:
    """The order every page lists a lesion's alerts in: most severe, then oldest, then rule
    (an Alert or a row with its severity, since and rule)."""
    return SEVERITY_RANK[Severity(alert.severity)], alert.since, alert.rule
