"""Patient list and patient timeline (every lesion on one time axis)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from tracker.queries import (
    open_alerts_of,
    patient_list,
    patient_versions,
    patient_with_everything,
)
from tracker.vocabulary import Role
from web import charts
from web.auth import requires
from web.clock import today
from web.db import get_session

bp = Blueprint("patients", __name__, url_prefix="/patients")
PER_PAGE = 25
MAX_PAGE = 10**6  # the API's bound; beyond it the offset would overflow the database


def page_arg() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


@bp.get("")
@requires(Role.CLINICIAN)
def index() -> str:
    q = request.args.get("q", "")[:64]
    page = patient_list(get_session(), today=today(), search=q, page=page_arg(),
                        per_page=PER_PAGE)
    return render_template("patients/index.html", page=page, q=q)


@bp.get("/<external_id>")
@requires(Role.CLINICIAN)
def timeline(external_id: str) -> str:
    patient = patient_with_everything(get_session(), external_id)
    lesions = [
        {"lesion": le, "current": le.assessment_current, "alerts": open_alerts_of(le),
         "caption": charts.lesion_caption(le)}
        for le in patient.lesions
    ]
    return render_template("patients/timeline.html", patient=patient, lesions=lesions)


@bp.get("/<external_id>/timeline.<fmt>")
@requires(Role.CLINICIAN)
def timeline_chart(external_id: str, fmt: str) -> Any:
    session = get_session()
    key = ("patient", external_id, patient_versions(session, external_id))
    return charts.serve(
        key,
        lambda: charts.render_timeline(patient_with_everything(session, external_id), fmt),
        fmt, f"timeline-{external_id}", download=request.args.get("download") == "1",
    )
