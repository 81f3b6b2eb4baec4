"""The inbox (radiologists): measurement reports held until a person completes them, from the
PACS or an upload. Completing one imports it and queues its assessment; rejecting one keeps it
out, with the reason. Both audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.errors import Conflict, InvalidInput
from tracker.queries.inbox import held_reports, lesion_choices, lesions_asked, needs, report
from tracker.services import reports
from tracker.services.users import Permission
from tracker.vocabulary import Compartment
from web.auth import actor, requires
from web.clock import today
from web.db import get_session
from workers import dispatch

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
ACCEPT_HINT = " (an SR has none outside the spine): choose one, or the stored lesion it is"
LESION_FIELD = "lesion:"


@bp.get("")
@requires(Permission.IMPORT)
def index() -> str:
    rows = held_reports(get_session())
    return render_template("inbox/index.html", reports=[(r, needs(r)) for r in rows])


def _page(report_id: int, status: int = 200, **kw: Any) -> tuple[str, int]:
    session = get_session()
    row = report(session, report_id)
    choices = lesion_choices(session, [row.patient or ""])[row.patient or ""]
    return render_template("inbox/report.html", report=row, needs=needs(row),
                           asked=lesions_asked(row), choices=choices,
                           compartments=[c.value for c in Compartment],
                           form=request.form, **kw), status


@bp.get("/<int:report_id>")
@requires(Permission.IMPORT)
def show(report_id: int) -> tuple[str, int]:
    return _page(report_id)


@bp.post("/<int:report_id>/accept")
@requires(Permission.IMPORT)
def accept(report_id: int) -> Response | tuple[str, int]:
    lesions = {k.removeprefix(LESION_FIELD): v for k, v in request.form.items()
               if k.startswith(LESION_FIELD) and v}
    try:
        done = reports.accept_report(get_session(), report_id, actor=actor(), today=today(),
                                     compartment=request.form.get("compartment") or None,
                                     lesions=lesions, hint=ACCEPT_HINT)
    except InvalidInput as exc:
        return _page(report_id, 400, problems=exc.problems)
    except Conflict as exc:
        flash(str(exc), "error")
        return redirect(url_for("inbox.index"))
    queued = dispatch.request_assessment(done.summary.changed_lesion_ids)
    summary = done.summary
    flash(f"Report {report_id} imported: {summary.observations_created} observation(s) created,"
          f" {summary.observations_updated} updated; assessment "
          f"{'queued' if queued else 'deferred (the task queue is unreachable)'}.", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:report_id>/reject")
@requires(Permission.IMPORT)
def reject(report_id: int) -> Response | tuple[str, int]:
    try:
        reports.reject_report(get_session(), report_id, reason=request.form.get("reason", ""),
                              actor=actor())
    except InvalidInput as exc:
        return _page(report_id, 400, reject_problems=exc.problems)
    except Conflict as exc:
        flash(str(exc), "error")
        return redirect(url_for("inbox.index"))
    flash(f"Report {report_id} rejected; it will not be imported.", "success")
    return redirect(url_for("inbox.index"))
