"""The alert worklist across patients, and acknowledging or snoozing an alert (audited)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request
from werkzeug.wrappers import Response

from reporting.words import code_label
from tracker.engine import RULE_IDS
from tracker.errors import CalcitrackError, InvalidInput, Problem
from tracker.models import Alert
from tracker.queries.lookup import alert_with_lesion
from tracker.queries.prognosis import alert_standings
from tracker.queries.worklist import WORKLIST_STATES, WorklistFilter, alert_rules, worklist
from tracker.services.alerts import (
    acknowledge_alert,
    decide_alerts,
    snooze_alert,
)
from tracker.services.users import Permission
from tracker.vocabulary import AlertKind, Entity, Region, Severity, Stage, label
from web.auth import actor, requires
from web.clock import today
from web.db import get_session
from web.schemas import WorklistQuery
from web.validation import query_args
from web.views.auth import safe_next

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@bp.get("", endpoint="worklist")
@requires(Permission.READ)
def worklist_page() -> str:
    session = get_session()
    rules = alert_rules(session)
    query = query_args(WorklistQuery)
    if query.rule is not None and query.rule not in RULE_IDS and query.rule not in rules:
        raise InvalidInput([Problem("rule", f"no alert is raised under rule {query.rule!r}")])
    flt = WorklistFilter(
        kind=query.kind, severity=query.severity, region=query.region, state=query.state,
        rule=query.rule, entity=query.entity, stage=query.stage, overdue=query.overdue,
        unassessed_morphology=query.unassessed, patient=query.patient,
    )
    page = worklist(session, flt, today=today(), after=query.after, page=query.page,
                    per_page=query.per_page)
    return render_template(
        "alerts/worklist.html", page=page, flt=flt, today=today(),
        standings=alert_standings(session, page.items),
        kinds=[(k.value, code_label(k.value)) for k in AlertKind],
        severities=[s.value for s in Severity],
        regions=[(r.value, code_label(r.value)) for r in Region],
        entities=[(e.value, code_label(e.value)) for e in Entity],
        stages=[(s.value, code_label(s.value)) for s in Stage],
        rules=rules,
        states=list(WORKLIST_STATES),
    )


@bp.post("/bulk")
@requires(Permission.ACT_ON_ALERTS)
def bulk() -> Response:
    """Acknowledge or snooze the chosen alerts with one reason (one transaction)."""
    ids = [int(v) for v in request.form.getlist("alert")
           if v.isascii() and v.isdigit() and len(v) < 10]
    snooze = request.form.get("action") == "snooze"
    until = _until()
    try:
        result = decide_alerts(get_session(), ids, snooze=snooze, until=until, actor=actor(),
                               reason=request.form.get("reason"), today=today())
    except CalcitrackError as exc:
        flash(f"No alert changed: {exc}", "error")
        return redirect(_back())
    verb = f"snoozed until {until}" if snooze else "acknowledged"
    message = f"{len(result.done)} alert(s) {verb}: {_named(result.done)}."
    if result.skipped:
        message += f" {len(result.skipped)} were cleared meanwhile and left as they are."
    flash(message, "success")
    return redirect(_back())


def _back() -> str:
    return safe_next(request.form.get("next"))


def _until() -> str | None:
    """The snooze's date: typed (YYYY-MM-DD) if given, else the preset chosen."""
    typed = (request.form.get("until_date") or "").strip()
    return typed or request.form.get("until")


def _whose(alert: Alert) -> str:
    """Which patient and lesion an alert is about, as a confirmation names them."""
    return f"patient {alert.lesion.patient.external_id}, lesion {alert.lesion.external_id}"


SHOWN_IN_CONFIRMATION = 5


def _named(alert_ids: list[int]) -> str:
    """The patients and lesions of a bulk action (the first few, then how many more)."""
    session = get_session()
    shown = [_whose(alert_with_lesion(session, i)) for i in alert_ids[:SHOWN_IN_CONFIRMATION]]
    more = len(alert_ids) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")


@bp.post("/<int:alert_id>/acknowledge")
@requires(Permission.ACT_ON_ALERTS)
def acknowledge(alert_id: int) -> Response:
    try:
        alert = acknowledge_alert(get_session(), alert_id, actor=actor(),
                                  reason=request.form.get("reason"))
    except CalcitrackError as exc:
        flash(f"Alert not acknowledged: {exc}", "error")
        return redirect(_back())
    alert = alert_with_lesion(get_session(), alert.id)
    flash(f"Alert “{label(alert.kind)}” of {_whose(alert)} acknowledged.", "success")
    return redirect(_back())


@bp.post("/<int:alert_id>/snooze")
@requires(Permission.ACT_ON_ALERTS)
def snooze(alert_id: int) -> Response:
    try:
        alert = snooze_alert(get_session(), alert_id, _until(), actor=actor(),
                             reason=request.form.get("reason"), today=today())
    except CalcitrackError as exc:
        flash(f"Alert not snoozed: {exc}", "error")
        return redirect(_back())
    alert = alert_with_lesion(get_session(), alert.id)
    flash(f"Alert “{label(alert.kind)}” of {_whose(alert)} snoozed until "
          f"{alert.snoozed_until}.", "success")
    return redirect(_back())
