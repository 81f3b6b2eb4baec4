"""The alert worklist across patients, and acknowledging or snoozing an alert (audited)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request
from werkzeug.wrappers import Response

from tracker.errors import CalcitrackError
from tracker.queries import WORKLIST_STATES, WorklistFilter, worklist
from tracker.services.alerts import acknowledge_alert, snooze_alert
from tracker.vocabulary import AlertKind, Region, Role, Severity, label
from web.auth import actor, requires
from web.clock import today
from web.db import get_session
from web.views.auth import safe_next
from web.views.patients import page_arg

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
PER_PAGE = 50


def _choice(name: str, allowed: set[str]) -> str | None:
    value = request.args.get(name, "")
    return value if value in allowed else None


@bp.get("", endpoint="worklist")
@requires(Role.CLINICIAN)
def worklist_page() -> str:
    flt = WorklistFilter(
        kind=_choice("kind", {k.value for k in AlertKind}),
        severity=_choice("severity", {s.value for s in Severity}),
        region=_choice("region", {r.value for r in Region}),
        state=_choice("state", set(WORKLIST_STATES)) or "active",
    )
    page = worklist(get_session(), flt, today=today(), page=page_arg(), per_page=PER_PAGE)
    return render_template(
        "alerts/worklist.html", page=page, flt=flt, today=today(),
        kinds=[(k.value, label(k.value).capitalize()) for k in AlertKind],
        severities=[s.value for s in Severity],
        regions=[(r.value, label(r.value)) for r in Region],
        states=list(WORKLIST_STATES),
    )


def _back() -> str:
    return safe_next(request.form.get("next"))


@bp.post("/<int:alert_id>/acknowledge")
@requires(Role.CLINICIAN)
def acknowledge(alert_id: int) -> Response:
    try:
        alert = acknowledge_alert(get_session(), alert_id, actor=actor(),
                                  reason=request.form.get("reason"))
    except CalcitrackError as exc:
        flash(f"Alert not acknowledged: {exc}", "error")
        return redirect(_back())
    flash(f"Alert “{label(alert.kind)}” acknowledged.", "success")
    return redirect(_back())


@bp.post("/<int:alert_id>/snooze")
@requires(Role.CLINICIAN)
def snooze(alert_id: int) -> Response:
    try:
        alert = snooze_alert(get_session(), alert_id, request.form.get("until"), actor=actor(),
                             reason=request.form.get("reason"), today=today())
    except CalcitrackError as exc:
        flash(f"Alert not snoozed: {exc}", "error")
        return redirect(_back())
    flash(f"Alert “{label(alert.kind)}” snoozed until {alert.snoozed_until}.", "success")
    return redirect(_back())
