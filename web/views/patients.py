"""Patient list and patient timeline (every lesion on one time axis)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from reporting.charts import render_timeline
from reporting.report import PageLinks, report_html
from reporting.report import report_pdf as render_report_pdf
from reporting.words import lesion_caption, stage_label
from tracker.queries.history import history
from tracker.queries.lookup import exact_patient, find_patient, stored_patient_id
from tracker.queries.patient_list import patient_list
from tracker.queries.patient_timeline import patient_versions, patient_with_everything
from tracker.queries.timeline_page import patient_visits, timeline_page
from tracker.services.users import Permission
from tracker.timepoints import ROW_ORDERS, timepoint_table
from web import charts
from web.auth import requires
from web.clock import today
from web.db import get_session
from web.filters import day
from web.pacs import thumbnails
from web.schemas import ChartQuery, PageNumber, PatientSearch, TimepointsQuery
from web.validation import query_args

bp = Blueprint("patients", __name__, url_prefix="/patients")
PER_PAGE = 25


@bp.get("")
@requires(Permission.READ)
def index() -> str | WerkzeugResponse:
    """The patient list; a search naming one patient's id exactly (ignoring case) opens that
    patient's timeline."""
    query = query_args(PatientSearch)
    session = get_session()
    if query.q.strip() and query.after is None and query.page == 1:
        found = exact_patient(session, query.q.strip())
        if found is not None:
            return redirect(url_for("patients.timeline", external_id=found))
    page = patient_list(session, search=query.q, after=query.after, page=query.page,
                        per_page=PER_PAGE)
    return render_template("patients/index.html", page=page, q=query.q)


@bp.get("/<external_id>")
@requires(Permission.READ)
def timeline(external_id: str) -> str:
    """Every lesion of the patient on one page. Its rows are built once here, as the strings
    the template prints (the "as a table" block has a row per visit of every lesion), and each
    lesion's link once (its card and each of its alerts link to it)."""
    patient = timeline_page(get_session(), external_id)
    captions = [lesion_caption(le) for le in patient.lesions]
    lesions = [{"lesion": le, "current": le.current, "alerts": le.alerts, "caption": caption,
                "url": url_for("lesions.show", lesion_id=le.id)}
               for le, caption in zip(patient.lesions, captions, strict=True)]
    rows = [(caption, day(v.date), v.modality, str(v.size1_mm) if v.visible else "not seen",
             stage_label(v.stage, v.resolution))
            for le, caption in zip(patient.lesions, captions, strict=True) for v in le.visits]
    return render_template("patients/timeline.html", patient=patient, lesions=lesions,
                           rows=rows)


@bp.get("/<external_id>/timepoints")
@requires(Permission.READ)
def timepoints(external_id: str) -> str:
    """Lesions x visits: size, % change from baseline, nadir and previous, stage, response."""
    patient = patient_visits(get_session(), external_id)
    table = timepoint_table(patient.lesions)
    sort = query_args(TimepointsQuery).sort.value
    table.rows.sort(key=ROW_ORDERS[sort])
    return render_template("patients/timepoints.html", patient=patient, table=table,
                           sort=sort, sorts=list(ROW_ORDERS),
                           caption=lesion_caption)


@bp.get("/<external_id>/history")
@requires(Permission.READ)
def patient_history(external_id: str) -> str:
    """Every audited change to the patient, its lesions, observations and alerts."""
    session = get_session()
    patient = find_patient(session, stored_patient_id(session, external_id))
    page = history(session, patient_id=patient.id, page=query_args(PageNumber).page,
                   per_page=PER_PAGE * 2)
    return render_template("history.html", page=page, patient=patient, lesion=None,
                           endpoint="patients.patient_history")


@bp.get("/<external_id>/report")
@requires(Permission.READ)
def report(external_id: str) -> str:
    """The printable report (print stylesheet); the same content as the PDF."""
    return report_page(get_session(), external_id, today=today())


def report_page(session: Session, external_id: str, *, today: date) -> str:
    """The report with the page's toolbar (print, PDF, back to the timeline)."""
    def links(stored_id: str) -> PageLinks:
        return PageLinks(
            favicon=url_for("static", filename="favicon.svg"),
            script=url_for("static", filename="app.js"),
            pdf=url_for("patients.report_pdf", external_id=stored_id),
            timeline=url_for("patients.timeline", external_id=stored_id))

    return report_html(session, external_id, today=today, links=links,
                       institution=current_app.config.get("REPORT_INSTITUTION"),
                       images=thumbnails(), chart=charts.cached_lesion_svg)


@bp.get("/<external_id>/report.pdf")
@requires(Permission.READ)
def report_pdf(external_id: str) -> Response:
    pdf = render_report_pdf(get_session(), external_id, today=today(),
                            institution=current_app.config.get("REPORT_INSTITUTION"),
                            images=thumbnails(), chart=charts.cached_lesion_svg)
    name = f"calcitrack-report-{external_id}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"})


@bp.get("/<external_id>/timeline.<fmt>")
@requires(Permission.READ)
def timeline_chart(external_id: str, fmt: str) -> Any:
    session = get_session()
    q = query_args(ChartQuery)
    key = ("patient", external_id, patient_versions(session, external_id), today(), q.narrow)
    return charts.serve(
        key,
        lambda: render_timeline(patient_with_everything(session, external_id), fmt, today(),
                                narrow=q.narrow),
        fmt, f"timeline-{external_id}", download=q.download,
    )
