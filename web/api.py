"""`/api/v1`: the JSON API for machine clients (bearer token) and the browser (session + CSRF).

Request bodies are validated by the same code as the forms and `tracker import`; errors answer
400/404/409 with `{"errors": [{"path", "message"}]}`. The OpenAPI document is generated from the
routes and the pydantic models, and the docs page loads Swagger UI from this app (no CDN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from apiflask import APIBlueprint, APIFlask
from flask import abort, request, send_from_directory, url_for
from werkzeug.wrappers import Response

from tracker import export
from tracker.queries import (
    WorklistFilter,
    alert_json,
    alert_with_lesion,
    lesion_json,
    lesion_with_everything,
    load_lesion,
    load_observation,
    patient_list,
    patient_record,
    worklist,
)
from tracker.services import identity, records
from tracker.services.alerts import acknowledge_alert, snooze_alert
from tracker.services.identity import parse_prefer
from tracker.timeline import ObservationIn, Timeline, check_observation_dates
from tracker.vocabulary import Role
from web import schemas, validation
from web.auth import actor, csrf, requires, user
from web.clock import today
from web.db import get_session
from workers import dispatch

validation.install()  # before any @bp.input below: how APIFlask validates request input

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="calcitrack")


# --------------------------------------------------------------------------- OpenAPI

# Every operation needs a user (bearer token, or a signed-in session with the CSRF header):
# APIFlask adds the 401 response for an operation with `security`.
SECURITY = "bearerAuth"
FORBIDDEN: Any = {403: "Your role does not allow this"}
SAME_DAY: Any = {409: "The lesion already has an observation on that date"}


@bp.before_request
def _csrf_for_browser_sessions() -> None:
    """A bearer token cannot be sent cross-site by a browser; a session cookie can, so a
    cookie-authenticated change must carry the CSRF token (header X-CSRFToken)."""
    u = user()
    if u is None:
        abort(401)  # every route needs a user; say so before asking for a CSRF token
    if request.method not in ("GET", "HEAD", "OPTIONS") and not u.via_token:
        csrf.protect()


# --------------------------------------------------------------------------- patients


@bp.get("/patients")
@requires(Role.CLINICIAN)
@bp.input(schemas.PatientQuery, location="query", arg_name="query")
@bp.output(schemas.PatientListOut)
@bp.doc(tags=["patients"], summary="List patients, those needing attention first",
        security=SECURITY, responses=FORBIDDEN)
def list_patients(query: schemas.PatientQuery) -> dict[str, Any]:
    page = patient_list(get_session(), today=today(), search=query.q[:64], page=query.page,
                        per_page=query.per_page)
    return {
        "items": [
            {"id": r.external_id, "birth_year": r.birth_year, "sex": r.sex, "lesions": r.lesions,
             "open_alerts": {"urgent": r.urgent, "warning": r.warning, "info": r.info},
             "pending_assessments": r.pending,
             "last_visit": r.last_visit.isoformat() if r.last_visit else None,
             "next_follow_up": r.next_follow_up.isoformat() if r.next_follow_up else None}
            for r in page.items
        ],
        "total": page.total, "page": page.page, "per_page": page.per_page,
    }


@bp.get("/patients/<external_id>")
@requires(Role.CLINICIAN)
@bp.output(schemas.PatientRecordOut)
@bp.doc(tags=["patients"], summary="A patient's lesions, stages, transitions and open alerts",
        security=SECURITY, responses=FORBIDDEN)
def get_patient(external_id: str) -> dict[str, Any]:
    return patient_record(get_session(), external_id)


TIMELINE_OUT: Any = {200: {"description": "lesion-timeline/1 document",
                      "content": {"application/json":
                                  {"schema": {"$ref": "#/components/schemas/Timeline"}}}}}


@bp.get("/patients/<external_id>/timeline")
@requires(Role.CLINICIAN)
@bp.doc(tags=["timelines"], summary="Export one patient as lesion-timeline/1",
        security=SECURITY, responses={**TIMELINE_OUT, **FORBIDDEN})
def export_patient(external_id: str) -> dict[str, Any]:
    return export.export_timeline(get_session(), external_id)


# --------------------------------------------------------------------------- lesions


@bp.get("/lesions/<int:lesion_id>")
@requires(Role.CLINICIAN)
@bp.output(schemas.LesionOut)
@bp.doc(tags=["lesions"], summary="A lesion with its observations and assessment",
        security=SECURITY, responses=FORBIDDEN)
def get_lesion(lesion_id: int) -> dict[str, Any]:
    return lesion_json(lesion_with_everything(get_session(), lesion_id))


@bp.get("/lesions/<int:lesion_id>/assessment")
@requires(Role.CLINICIAN)
@bp.output(schemas.AssessmentDetailOut)
@bp.doc(tags=["assessments"], summary="The lesion's latest assessment, stage per observation",
        description="`status` is `pending` while the data changed since the last assessment; "
                    "stages are then `pending` too.", security=SECURITY, responses=FORBIDDEN)
def get_assessment(lesion_id: int) -> dict[str, Any]:
    lesion = lesion_with_everything(get_session(), lesion_id)
    doc = lesion_json(lesion)
    stages = [
        {k: o[k] for k in ("id", "date", "stage", "confidence", "evidence", "classifications")
         if k in o}
        for o in doc["observations"]
    ]
    return {**doc["assessment"], "lesion_id": lesion.id, "stages": stages,
            "transitions": doc["transitions"], "alerts": doc["alerts"]}


def _observation_out(lesion_id: int, observation_id: int) -> dict[str, Any]:
    session = get_session()
    session.expire_all()  # the service's session still holds the lesion as it loaded it
    doc = lesion_json(lesion_with_everything(session, lesion_id))
    return next(o for o in doc["observations"] if o["id"] == observation_id)


@bp.post("/lesions/<int:lesion_id>/observations")
@requires(Role.RADIOLOGIST)
@bp.input(ObservationIn, arg_name="observation")
@bp.output(schemas.ObservationOut, status_code=201)
@bp.doc(tags=["observations"], summary="Record one visit's finding",
        description="Validated like an observation inside a timeline. The stage is `pending` "
                    "until the assessment runs (poll the lesion or its assessment).",
        security=SECURITY, responses={**FORBIDDEN, **SAME_DAY})
def create_observation(lesion_id: int, observation: ObservationIn
                       ) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    check_observation_dates(observation, birth_year=lesion.patient.birth_year,
                            event_date=lesion.event_date)
    row = records.record_observation(session, lesion_id, observation, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_lesion", lesion_id=lesion_id)
    return _observation_out(lesion_id, row.id), 201, {"Location": location}


@bp.put("/observations/<int:observation_id>")
@requires(Role.RADIOLOGIST)
@bp.input(ObservationIn, arg_name="observation")
@bp.output(schemas.ObservationOut)
@bp.doc(tags=["observations"], summary="Correct an observation (replaces every field)",
        security=SECURITY, responses={**FORBIDDEN, **SAME_DAY})
def update_observation(observation_id: int, observation: ObservationIn) -> dict[str, Any]:
    session = get_session()
    lesion = load_observation(session, observation_id).lesion
    check_observation_dates(observation, birth_year=lesion.patient.birth_year,
                            event_date=lesion.event_date)
    records.update_observation(session, observation_id, observation, actor=actor())
    dispatch.request_assessment([lesion.id])
    return _observation_out(lesion.id, observation_id)


@bp.delete("/observations/<int:observation_id>")
@requires(Role.RADIOLOGIST)
@bp.output({}, status_code=204)
@bp.doc(tags=["observations"], summary="Remove an observation recorded in error",
        security=SECURITY,
        responses={**FORBIDDEN, 409: "It is the lesion's only observation: a lesion keeps at "
                                     "least one, so correct it instead"})
def delete_observation(observation_id: int) -> tuple[str, int]:
    lesion_id = records.delete_observation(get_session(), observation_id, actor=actor())
    dispatch.request_assessment([lesion_id])
    return "", 204


@bp.post("/lesions/<int:lesion_id>/merge")
@requires(Role.RADIOLOGIST)
@bp.input(schemas.MergeIn, arg_name="data")
@bp.output(schemas.LesionOut)
@bp.doc(tags=["lesions"], summary="Merge another lesion of the patient into this one",
        description="Observations combined; for each date both lesions have a visit, `prefer` "
                    "says which stays (409 lists the dates when it does not). Audited with "
                    "everything needed to undo it; both re-assessed.", security=SECURITY,
        responses={**FORBIDDEN, 409: "Same-date visits without a choice, or lesions of "
                                     "different patients"})
def merge_lesion(lesion_id: int, data: schemas.MergeIn) -> dict[str, Any]:
    session = get_session()
    identity.merge_lesions(session, lesion_id, data.other, prefer=parse_prefer(data.prefer),
                           actor=actor(), reason=data.reason)
    dispatch.request_assessment([lesion_id])
    return lesion_json(lesion_with_everything(session, lesion_id))


@bp.post("/lesions/<int:lesion_id>/split")
@requires(Role.RADIOLOGIST)
@bp.input(schemas.SplitIn, arg_name="data")
@bp.output(schemas.LesionOut, status_code=201)
@bp.doc(tags=["lesions"], summary="Move chosen observations to a new lesion",
        description="The new lesion has the same patient, site and entity. Audited; both "
                    "re-assessed.", security=SECURITY,
        responses={**FORBIDDEN, 409: "The new lesion id is taken, or every observation "
                                     "would move"})
def split_lesion(lesion_id: int, data: schemas.SplitIn) -> tuple[dict[str, Any], int]:
    session = get_session()
    new = identity.split_lesion(session, lesion_id, data.observations,
                                new_external_id=data.new_lesion, actor=actor(),
                                reason=data.reason)
    dispatch.request_assessment([lesion_id, new.id])
    return lesion_json(lesion_with_everything(session, new.id)), 201


# --------------------------------------------------------------------------- alerts


def worklist_json(alert: Any) -> dict[str, Any]:
    lesion = alert.lesion
    return {**alert_json(alert), "lesion_id": lesion.id, "lesion": lesion.external_id,
            "patient": lesion.patient.external_id, "region": lesion.region,
            "laterality": lesion.laterality}


@bp.get("/alerts")
@requires(Role.CLINICIAN)
@bp.input(schemas.AlertQuery, location="query", arg_name="query")
@bp.output(schemas.AlertListOut)
@bp.doc(tags=["alerts"], summary="Uncleared alerts, most severe then oldest first",
        security=SECURITY, responses=FORBIDDEN)
def list_alerts(query: schemas.AlertQuery) -> dict[str, Any]:
    flt = WorklistFilter(kind=query.kind, severity=query.severity, region=query.region,
                         state=query.state)
    page = worklist(get_session(), flt, today=today(), page=query.page, per_page=query.per_page)
    return {"items": [worklist_json(a) for a in page.items], "total": page.total,
            "page": page.page, "per_page": page.per_page}


ALERT_STATE: Any = {409: "The alert was cleared meanwhile"}


@bp.post("/alerts/<int:alert_id>/acknowledge")
@requires(Role.CLINICIAN)
@bp.input(schemas.AcknowledgeIn, arg_name="body")
@bp.output(schemas.WorklistAlertOut)
@bp.doc(tags=["alerts"], summary="Acknowledge an alert (audited)", security=SECURITY,
        responses={**FORBIDDEN, **ALERT_STATE})
def acknowledge(alert_id: int, body: schemas.AcknowledgeIn) -> dict[str, Any]:
    session = get_session()
    acknowledge_alert(session, alert_id, actor=actor(), reason=body.reason)
    return worklist_json(alert_with_lesion(session, alert_id))


@bp.post("/alerts/<int:alert_id>/snooze")
@requires(Role.CLINICIAN)
@bp.input(schemas.SnoozeIn, arg_name="body")
@bp.output(schemas.WorklistAlertOut)
@bp.doc(tags=["alerts"], summary="Snooze an alert until a date, with a reason (audited)",
        security=SECURITY, responses={**FORBIDDEN, **ALERT_STATE})
def snooze(alert_id: int, body: schemas.SnoozeIn) -> dict[str, Any]:
    session = get_session()
    snooze_alert(session, alert_id, body.until, actor=actor(), reason=body.reason,
                 today=today())
    return worklist_json(alert_with_lesion(session, alert_id))


# --------------------------------------------------------------------------- timelines


@bp.post("/timelines")
@requires(Role.RADIOLOGIST)
@bp.input(Timeline, arg_name="timeline")
@bp.output(schemas.ImportOut)
@bp.doc(tags=["timelines"], summary="Import a lesion-timeline/1 document",
        description="Validated whole, like `tracker import`: on any problem nothing is written "
                    "and every problem is listed with its path.", security=SECURITY,
        responses=FORBIDDEN)
def import_timeline(timeline: Timeline) -> dict[str, Any]:
    summary = records.import_timeline(get_session(), timeline, actor=actor())
    queued = dispatch.request_assessment(summary.changed_lesion_ids)
    return {**summary.as_dict(), "assessments_queued": queued}


@bp.get("/timelines")
@requires(Role.CLINICIAN)
@bp.doc(tags=["timelines"], summary="Export every patient as lesion-timeline/1",
        security=SECURITY, responses={**TIMELINE_OUT, **FORBIDDEN})
def export_timeline() -> dict[str, Any]:
    return export.export_timeline(get_session())


# --------------------------------------------------------------------------- wiring

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


def init_app(app: APIFlask) -> None:
    csrf.exempt(bp)  # checked in _csrf_for_browser_sessions unless a bearer token is used
    app.config["SWAGGER_UI_CONFIG"] = {"validatorUrl": None, "tryItOutEnabled": False}
    app.register_blueprint(bp)

    @app.get("/api/v1/docs/assets/<path:filename>")
    @app.doc(hide=True)
    def swagger_assets(filename: str) -> Response:
        """Swagger UI from the installed swagger-ui-bundle package (works offline)."""
        return send_from_directory(SWAGGER_DIR, filename, max_age=86400)
