"""`/api/v1`: the JSON API for machine clients (bearer token) and the browser (session + CSRF).

Request bodies are validated by the same code as the forms and `tracker import`; errors answer
400/404/409 with `{"errors": [{"path", "message"}]}`. The OpenAPI document is generated from the
routes and the pydantic models, and the docs page loads Swagger UI from this app (no CDN).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from apiflask import APIBlueprint, APIFlask
from flask import (
    abort,
    current_app,
    jsonify,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.wrappers import Response

from tracker import export
from tracker.db import session_scope
from tracker.errors import InvalidInput, NotFound, Problem, StaleVersion
from tracker.interop import sr
from tracker.interop.fhir import bundle_json, patient_bundle
from tracker.interop.viewer import images_url
from tracker.queries.lesion import lesion_with_everything
from tracker.queries.lookup import alert_with_lesion, load_lesion, load_observation, load_treatment
from tracker.queries.patient_list import patient_list
from tracker.queries.show import alert_json, lesion_json, patient_record
from tracker.queries.worklist import WorklistFilter, worklist
from tracker.services import identity, imports, interop, records, treatments
from tracker.services.alerts import acknowledge_alert, snooze_alert
from tracker.services.identity import parse_prefer
from tracker.timeline.models import ObservationIn, Timeline, TreatmentIn
from tracker.timeline.problems import check_dates
from tracker.timeline.stream import PatientStream
from tracker.vocabulary import Compartment, Role
from web import schemas, validation
from web.auth import actor, csrf, requires, user
from web.clock import today
from web.db import get_session
from web.errors import errors_json
from workers import dispatch

validation.install()  # before any @bp.input below: how APIFlask validates request input

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="calcitrack")


# --------------------------------------------------------------------------- OpenAPI

# Every operation needs a user (bearer token, or a signed-in session with the CSRF header):
# APIFlask adds the 401 response for an operation with `security`.
SECURITY = "bearerAuth"
FORBIDDEN: Any = {403: "Your role does not allow this"}
SAME_DAY: Any = {409: "The lesion already has an observation on that date"}
CONDITIONAL: Any = {
    400: "Invalid input, or If-Match is not one ETag as GET sends it",
    412: "If-Match is not the current version: nothing changed; the body has the current "
         "value (`current`) and the ETag header its version",
    428: "If-Match is missing: send the ETag of GET /observations/{id}",
}
SAME_KIND_DAY: Any = {409: "The lesion already has a treatment of that kind on that date"}


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


def with_images(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add `images_url` (the viewer link) where VIEWER_URL_TEMPLATE is set and a study known."""
    template = current_app.config.get("VIEWER_URL_TEMPLATE")
    for obs in observations:
        url = images_url(template, obs.get("study_uid"), obs.get("accession"))
        if url:
            obs["images_url"] = url
    return observations



@bp.get("/patients")
@requires(Role.CLINICIAN)
@bp.input(schemas.PatientQuery, location="query", arg_name="query")
@bp.output(schemas.PatientListOut)
@bp.doc(tags=["patients"], summary="List patients, those needing attention first",
        security=SECURITY, responses=FORBIDDEN)
def list_patients(query: schemas.PatientQuery) -> dict[str, Any]:
    page = patient_list(get_session(), today=today(), search=query.q, page=query.page,
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
    record = patient_record(get_session(), external_id)
    for lesion in record["lesions"]:
        with_images(lesion["observations"])
    return record


TIMELINE_OUT: Any = {200: {"description": "lesion-timeline/1 document",
                      "content": {"application/json":
                                  {"schema": {"$ref": "#/components/schemas/Timeline"}}}}}


@bp.get("/patients/<external_id>/timeline")
@requires(Role.CLINICIAN)
@bp.doc(tags=["timelines"], summary="Export one patient as lesion-timeline/1",
        security=SECURITY, responses={**TIMELINE_OUT, **FORBIDDEN})
def export_patient(external_id: str) -> dict[str, Any]:
    return export.export_timeline(get_session(), external_id)


@bp.get("/patients/<external_id>/fhir")
@requires(Role.CLINICIAN)
@bp.doc(tags=["patients"], summary="Export one patient as a FHIR R5 collection Bundle",
        description="Patient, a BodyStructure per lesion, Observations (measurements and "
                    "stages), ImagingStudy, Flags (open alerts), ServiceRequests (next "
                    "follow-up). Content type application/fhir+json.", security=SECURITY,
        responses={200: {"description": "A FHIR R5 Bundle (type collection)",
                         "content": {"application/fhir+json": {"schema": {"type": "object"}}}},
                   **FORBIDDEN})
def export_patient_fhir(external_id: str) -> Response:
    bundle = bundle_json(patient_bundle(patient_record(get_session(), external_id)))
    return current_app.response_class(json.dumps(bundle, ensure_ascii=False),
                                      mimetype="application/fhir+json")


# --------------------------------------------------------------------------- lesions


@bp.get("/lesions/<int:lesion_id>")
@requires(Role.CLINICIAN)
@bp.output(schemas.LesionOut)
@bp.doc(tags=["lesions"], summary="A lesion with its observations and assessment",
        security=SECURITY, responses=FORBIDDEN)
def get_lesion(lesion_id: int) -> dict[str, Any]:
    doc = lesion_json(lesion_with_everything(get_session(), lesion_id))
    with_images(doc["observations"])
    return doc


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
        {k: o[k] for k in ("id", "date", "stage", "confidence", "evidence", "classifications",
                           "response") if k in o}
        for o in doc["observations"]
    ]
    return {**doc["assessment"], "lesion_id": lesion.id, "stages": stages,
            "transitions": doc["transitions"], "alerts": doc["alerts"]}


def _observation_out(lesion_id: int, observation_id: int) -> dict[str, Any]:
    session = get_session()
    session.expire_all()  # the service's session still holds the lesion as it loaded it
    doc = lesion_json(lesion_with_everything(session, lesion_id))
    return with_images([o for o in doc["observations"] if o["id"] == observation_id])[0]


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def expected_version() -> int | None:
    """The version the client read, from If-Match (required on PUT and DELETE, so that no
    client overwrites a change it never saw); None for `If-Match: *` (any version)."""
    if "If-Match" not in request.headers:
        raise _PreconditionRequired()
    tags = request.if_match
    if tags.star_tag:
        return None
    every = list(tags.as_set(include_weak=True))
    tag = every[0] if len(every) == 1 and not tags.is_weak(every[0]) else None
    if not (isinstance(tag, str) and tag.isascii() and tag.isdigit() and len(tag) < 10):
        raise InvalidInput([Problem("If-Match", 'expected one ETag as sent by GET, e.g. "3"')])
    return int(tag)


class _PreconditionRequired(Exception):
    """No If-Match on a conditional write (answered 428)."""


@bp.errorhandler(_PreconditionRequired)
def _precondition_required(_exc: _PreconditionRequired) -> Response:
    response = jsonify(errors_json([Problem("If-Match", "is required: send the ETag of GET "
                                                        "/api/v1/observations/{id}")]))
    response.status_code = 428
    return response


@bp.errorhandler(StaleVersion)
def _stale(exc: StaleVersion) -> Response:
    """412 with the current value, so the client can show it and decide again."""
    observation_id = int((request.view_args or {}).get("observation_id", 0))
    session = get_session()
    session.rollback()  # release the lock before reading for the answer
    current: dict[str, Any] | None = None
    try:
        row = load_observation(session, observation_id)
        current = _observation_out(row.lesion_id, observation_id)
    except NotFound:  # removed since: the client sees that on its next GET
        pass
    body = {**errors_json([Problem("If-Match", str(exc))]), "current": current}
    response = jsonify(body)
    response.status_code = 412
    response.headers.update(etag(exc.current_version))
    return response


@bp.get("/observations/<int:observation_id>")
@requires(Role.CLINICIAN)
@bp.output(schemas.ObservationOut, headers=schemas.ETagHeader)
@bp.doc(tags=["observations"], summary="One observation; its ETag is its version",
        description="Send the ETag back as If-Match to PUT or DELETE it.", security=SECURITY,
        responses=FORBIDDEN)
def get_observation(observation_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    row = load_observation(get_session(), observation_id)
    out = _observation_out(row.lesion_id, observation_id)
    return out, 200, etag(out["version"])


@bp.post("/lesions/<int:lesion_id>/observations")
@requires(Role.RADIOLOGIST)
@bp.input(ObservationIn, arg_name="observation")
@bp.output(schemas.ObservationOut, status_code=201, headers=schemas.ETagHeader)
@bp.doc(tags=["observations"], summary="Record one visit's finding",
        description="Validated like an observation inside a timeline. The stage is `pending` "
                    "until the assessment runs (poll the lesion or its assessment).",
        security=SECURITY, responses={**FORBIDDEN, **SAME_DAY})
def create_observation(lesion_id: int, observation: ObservationIn
                       ) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    check_dates(observation, birth_year=lesion.patient.birth_year, event_date=lesion.event_date)
    row = records.record_observation(session, lesion_id, observation, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_observation", observation_id=row.id)
    out = _observation_out(lesion_id, row.id)
    return out, 201, {"Location": location, **etag(out["version"])}


@bp.put("/observations/<int:observation_id>")
@requires(Role.RADIOLOGIST)
@bp.input(ObservationIn, arg_name="observation")
@bp.output(schemas.ObservationOut, headers=schemas.ETagHeader)
@bp.doc(tags=["observations"], summary="Correct an observation (replaces every field)",
        description="Conditional: the If-Match header must carry the ETag of the version you "
                    "corrected (`*` for any); if someone changed it since, nothing is written "
                    "and 412 shows its current value; without If-Match, 428.",
        security=SECURITY, responses={**FORBIDDEN, **SAME_DAY, **CONDITIONAL})
def update_observation(observation_id: int, observation: ObservationIn
                       ) -> tuple[dict[str, Any], int, dict[str, str]]:
    version = expected_version()
    session = get_session()
    lesion = load_observation(session, observation_id).lesion
    check_dates(observation, birth_year=lesion.patient.birth_year, event_date=lesion.event_date)
    records.update_observation(session, observation_id, observation, actor=actor(),
                               expected_version=version)
    dispatch.request_assessment([lesion.id])
    out = _observation_out(lesion.id, observation_id)
    return out, 200, etag(out["version"])


@bp.delete("/observations/<int:observation_id>")
@requires(Role.RADIOLOGIST)
@bp.output({}, status_code=204)
@bp.doc(tags=["observations"], summary="Remove an observation recorded in error",
        description="Conditional like PUT (If-Match). A lesion keeps at least one "
                    "observation: deleting its last one is a 409.", security=SECURITY,
        responses={**FORBIDDEN, **CONDITIONAL,
                   409: "It is the lesion's only observation: a lesion keeps at least one, so "
                        "correct it instead"})
def delete_observation(observation_id: int) -> tuple[str, int]:
    version = expected_version()
    lesion_id = records.delete_observation(get_session(), observation_id, actor=actor(),
                                           expected_version=version)
    dispatch.request_assessment([lesion_id])
    return "", 204


# --------------------------------------------------------------------------- treatments


def _treatment_out(lesion_id: int, treatment_id: int) -> dict[str, Any]:
    session = get_session()
    session.expire_all()
    doc = lesion_json(lesion_with_everything(session, lesion_id))
    return next(t for t in doc["treatments"] if t["id"] == treatment_id)


@bp.post("/lesions/<int:lesion_id>/treatments")
@requires(Role.RADIOLOGIST)
@bp.input(TreatmentIn, arg_name="treatment")
@bp.output(schemas.TreatmentOut, status_code=201)
@bp.doc(tags=["treatments"], summary="Record a treatment of the lesion",
        description="Validated like a treatment inside a timeline (date not in the future, not "
                    "before the birth year or the event date). One treatment of a kind per "
                    "lesion per day (409). The lesion is re-assessed: stages are `pending` "
                    "until then.", security=SECURITY, responses={**FORBIDDEN, **SAME_KIND_DAY})
def create_treatment(lesion_id: int, treatment: TreatmentIn
                     ) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    check_dates(treatment, birth_year=lesion.patient.birth_year, event_date=lesion.event_date)
    row = treatments.record_treatment(session, lesion_id, treatment, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_lesion", lesion_id=lesion_id)
    return _treatment_out(lesion_id, row.id), 201, {"Location": location}


@bp.put("/treatments/<int:treatment_id>")
@requires(Role.RADIOLOGIST)
@bp.input(TreatmentIn, arg_name="treatment")
@bp.output(schemas.TreatmentOut)
@bp.doc(tags=["treatments"], summary="Correct a treatment (replaces every field)",
        security=SECURITY, responses={**FORBIDDEN, **SAME_KIND_DAY})
def update_treatment(treatment_id: int, treatment: TreatmentIn) -> dict[str, Any]:
    session = get_session()
    lesion = load_treatment(session, treatment_id).lesion
    check_dates(treatment, birth_year=lesion.patient.birth_year, event_date=lesion.event_date)
    treatments.update_treatment(session, treatment_id, treatment, actor=actor())
    dispatch.request_assessment([lesion.id])
    return _treatment_out(lesion.id, treatment_id)


@bp.delete("/treatments/<int:treatment_id>")
@requires(Role.RADIOLOGIST)
@bp.output({}, status_code=204)
@bp.doc(tags=["treatments"], summary="Remove a treatment recorded in error", security=SECURITY,
        responses=FORBIDDEN)
def delete_treatment(treatment_id: int) -> tuple[str, int]:
    lesion_id = treatments.delete_treatment(get_session(), treatment_id, actor=actor())
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
                    "and every problem is listed with its path. Read patient by patient.",
        security=SECURITY, responses=FORBIDDEN)
def import_timeline(timeline: PatientStream) -> dict[str, Any]:
    summary = imports.import_stream(get_session(), timeline, actor=actor())
    queued = dispatch.request_assessment(summary.changed_lesion_ids)
    return {**summary.as_dict(), "assessments_queued": queued}


def import_sr_files(files: list[tuple[str, bytes]], compartment: str | None) -> dict[str, Any]:
    """DICOM SR files of one upload (API or import page), imported as one batch."""
    problems: list[Problem] = []
    if compartment and compartment not in {c.value for c in Compartment}:
        problems.append(Problem("compartment", f"{compartment!r} is not a compartment code"
                                f" (one of: {', '.join(c.value for c in Compartment)})"))
    if not files:
        problems.append(Problem("file", "choose one or more DICOM SR files"))
    if problems:
        raise InvalidInput(problems)
    converted = sr.convert([sr.SrInput(name, data) for name, data in files],
                           compartment=Compartment(compartment) if compartment else None)
    summary = interop.import_converted(
        get_session(), converted, actor=actor(), today=today(),
        compartment_hint=" (an SR has none outside the spine): choose a compartment, or"
                         " import the lesion first")
    queued = dispatch.request_assessment(summary.changed_lesion_ids)
    return {**summary.as_dict(), "assessments_queued": queued, "files": len(files)}


def uploaded_files(field: str = "file") -> list[tuple[str, bytes]]:
    limit = int(current_app.config["MAX_TIMELINE_BYTES"])
    out = []
    for f in request.files.getlist(field):
        if not f.filename:
            continue
        data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput([Problem(f.filename, f"is larger than {limit} bytes")])
        out.append((f.filename, data))
    return out


@bp.post("/sr")
@requires(Role.RADIOLOGIST)
@bp.output(schemas.ImportOut)
@bp.doc(tags=["timelines"], summary="Import DICOM SR measurement reports (TID 1500)",
        description="multipart/form-data: one or more `file` parts, and `compartment` for new "
                    "lesions outside the spine. Converted to lesion-timeline/1 and imported like "
                    "`tracker import-sr`: on any problem (named by file and measurement group) "
                    "nothing is written.", security=SECURITY,
        responses={**FORBIDDEN, 400: "Invalid input: every problem named by file and group"})
def import_sr() -> dict[str, Any]:
    return import_sr_files(uploaded_files(), request.form.get("compartment") or None)


@bp.get("/timelines")
@requires(Role.CLINICIAN)
@bp.doc(tags=["timelines"], summary="Export every patient as lesion-timeline/1",
        security=SECURITY, responses={**TIMELINE_OUT, **FORBIDDEN})
def export_timeline() -> Response:
    """Streamed patient by patient (`tracker export`'s text): memory does not grow with the
    database. The stream outlives the request's context, so it reads through a session of its
    own, opened when the server starts sending and closed when it is done (or abandoned)."""
    url = current_app.config["DATABASE_URL"]

    def pieces() -> Iterator[str]:
        with session_scope(url) as session:
            yield from export.export_text(session)

    return Response(pieces(), mimetype="application/json")


# --------------------------------------------------------------------------- wiring

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


CONDITIONAL_WRITES = {("/api/v1/observations/{observation_id}", "put"),
                      ("/api/v1/observations/{observation_id}", "delete")}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
            "description": 'The ETag of the version you read (e.g. "3", or `*`); a write based '
                           "on an older version answers 412 and changes nothing.",
            "schema": {"type": "string"}}


SR_UPLOAD = {
    "required": True,
    "content": {"multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "array", "description": "DICOM SR files (TID 1500), one part each",
                         "items": {"type": "string", "contentMediaType": "application/dicom"}},
                "compartment": {"type": "string", "enum": [c.value for c in Compartment],
                                "description": "Compartment of new lesions outside the spine"},
            },
        },
    }},
}


def _conditional_spec(spec: Any) -> Any:
    """What `@doc` cannot say: the If-Match header of the conditional writes and their 412
    body (the errors with the current value); the SR upload's multipart body."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    stale = schemas.StaleErrors.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in stale.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault("StaleErrors", stale)
    for path, method in CONDITIONAL_WRITES:
        op = spec.get("paths", {}).get(path, {}).get(method)
        if op is None:
            continue
        op.setdefault("parameters", []).append(IF_MATCH)
        op["responses"]["412"]["content"] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/StaleErrors"}}}
    upload = spec.get("paths", {}).get("/api/v1/sr", {}).get("post")
    if upload is not None:
        upload["requestBody"] = SR_UPLOAD
    return spec


def init_app(app: APIFlask) -> None:
    csrf.exempt(bp)  # checked in _csrf_for_browser_sessions unless a bearer token is used
    app.config["SWAGGER_UI_CONFIG"] = {"validatorUrl": None, "tryItOutEnabled": False}
    app.register_blueprint(bp)
    app.spec_processor(_conditional_spec)

    @app.get("/api/v1/docs/assets/<path:filename>")
    @app.doc(hide=True)
    def swagger_assets(filename: str) -> Response:
        """Swagger UI from the installed swagger-ui-bundle package (works offline)."""
        return send_from_directory(SWAGGER_DIR, filename, max_age=86400)
