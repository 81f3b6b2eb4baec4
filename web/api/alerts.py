"""`/api/v1/alerts`: the worklist, and acknowledging or snoozing an alert."""

from __future__ import annotations

from typing import Any

from tracker.queries.lookup import alert_with_lesion
from tracker.queries.prognosis import alert_standings
from tracker.queries.show import alert_json
from tracker.queries.worklist import WorklistFilter, worklist
from tracker.services.alerts import acknowledge_alert, snooze_alert
from tracker.services.users import Permission
from tracker.vocabulary import AlertKind
from web import schemas
from web.api.blueprint import keyset_page_json, operation
from web.auth import actor
from web.clock import today
from web.db import get_session

ALERT_STATE: Any = {409: "The alert was cleared meanwhile"}


def worklist_json(alert: Any, standing: dict[str, Any] | None = None) -> dict[str, Any]:
    lesion = alert.lesion
    return {**alert_json(alert), "lesion_id": lesion.id, "lesion": lesion.external_id,
            "patient": lesion.patient.external_id, "region": lesion.region,
            "laterality": lesion.laterality, "standing": standing}


def _row(alert: Any, standings: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """An alert's row; a no_resolution one with where its lesion stands (`alert_standings`)."""
    return worklist_json(alert, standings.get(alert.lesion_id)
                         if alert.kind == AlertKind.NO_RESOLUTION.value else None)


def _alert_now(alert_id: int) -> dict[str, Any]:
    """The alert as a clinician's action left it."""
    alert = alert_with_lesion(get_session(), alert_id)
    return _row(alert, alert_standings(get_session(), [alert]))


@operation("GET", "/alerts", Permission.READ,
           "alerts", "Uncleared alerts, most severe then oldest first",
           "Keyset pages: follow `next` as `after` for the next page.",
           takes=schemas.AlertQuery, location="query", arg="query", gives=schemas.AlertListOut)
def list_alerts(query: schemas.AlertQuery) -> dict[str, Any]:
    flt = WorklistFilter(kind=query.kind, severity=query.severity, region=query.region,
                         state=query.state)
    page = worklist(get_session(), flt, today=today(), after=query.after, page=query.page,
                    per_page=query.per_page)
    standings = alert_standings(get_session(), page.items)
    return {**keyset_page_json(page, lambda a: _row(a, standings)), "total_is": page.total_is}


@operation("POST", "/alerts/<int:alert_id>/acknowledge", Permission.ACT_ON_ALERTS,
           "alerts", "Acknowledge an alert (audited)", responses=ALERT_STATE,
           takes=schemas.AcknowledgeIn, arg="body", gives=schemas.WorklistAlertOut)
def acknowledge(alert_id: int, body: schemas.AcknowledgeIn) -> dict[str, Any]:
    acknowledge_alert(get_session(), alert_id, actor=actor(), reason=body.reason)
    return _alert_now(alert_id)


@operation("POST", "/alerts/<int:alert_id>/snooze", Permission.ACT_ON_ALERTS,
           "alerts", "Snooze an alert until a date, with a reason (audited)", responses=ALERT_STATE,
           takes=schemas.SnoozeIn, arg="body", gives=schemas.WorklistAlertOut)
def snooze(alert_id: int, body: schemas.SnoozeIn) -> dict[str, Any]:
    snooze_alert(get_session(), alert_id, body.until, actor=actor(), reason=body.reason,
                 today=today())
    return _alert_now(alert_id)
