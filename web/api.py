"""`/api/v1`: the JSON API for machine clients (bearer token) and the browser (session + CSRF).

Request bodies are validated by the same code as the forms and `tracker import`; errors answer
400/404/409 with `{"errors": [{"path", "message"}]}`. The OpenAPI document is generated from the
routes and the pydantic models, and the docs page loads Swagger UI from this app (no CDN).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import swagger_ui_bundle
from apiflask import APIBlueprint, APIFlask
from flask import abort, current_app, jsonify, request, send_from_directory, url_for
from pydantic import BaseModel
from werkzeug.wrappers import Response

from tracker import export
from tracker.errors import InvalidInput, NotFound, Problem, StaleVersion
from tracker.interop import sr
from tracker.interop.fhir import bundle_json, patient_bundle
from tracker.interop.viewer import images_url
from tracker.queries import (
    WORKLIST_STATES,
    WorklistFilter,
    alert_json,
    alert_with_lesion,
    lesion_json,
    lesion_with_everything,
    load_lesion,
    load_observation,
    load_treatment,
    patient_list,
    patient_record,
    worklist,
)
from tracker.services import identity, imports, interop, records, treatments
from tracker.services.alerts import acknowledge_alert, snooze_alert
from tracker.services.identity import parse_prefer
from tracker.timeline import (
    ObservationIn,
    Timeline,
    TreatmentIn,
    parse_json,
    stream_timeline,
    validate_model,
    validate_observation,
    validate_treatment,
)
from tracker.vocabulary import AlertKind, Compartment, Region, Role, Severity
from web import schemas
from web.auth import actor, csrf, requires, user
from web.clock import today
from web.db import get_session
from web.errors import errors_json
from workers import dispatch

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="calcitrack")
F = TypeVar("F", bound=Callable[..., Any])
MAX_PER_PAGE = 200


# --------------------------------------------------------------------------- spec helpers


def body(model: type[BaseModel], description: str) -> Callable[[F], F]:
    """Document a JSON request body (validated by the view itself, with our error paths)."""

    def mark(fn: F) -> F:
        fn._calcitrack_body = (model, description)  # type: ignore[attr-defined]
        return fn

    return mark


def fails(*codes: int) -> Callable[[F], F]:
    """Document the error statuses a route answers with the Errors shape."""

    def mark(fn: F) -> F:
        fn._calcitrack_errors = codes  # type: ignore[attr-defined]
        return fn

    return mark


def conditional(fn: F) -> F:
    """Document optimistic concurrency: If-Match required, 412 with the current value, 428."""
    fn._calcitrack_conditional = True  # type: ignore[attr-defined]
    return fn


def returns_timeline(fn: F) -> F:
    fn._calcitrack_timeline = True  # type: ignore[attr-defined]
    return fn


def _schema_ref(spec: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    schemas_ = spec.setdefault("components", {}).setdefault("schemas", {})
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in generated.pop("$defs", {}).items():
        schemas_.setdefault(name, sub)
    schemas_.setdefault(model.__name__, generated)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


ERROR_TEXT = {400: "Invalid input: every problem with its JSON path", 401: "Not signed in",
              403: "Role does not allow this", 404: "Not found",
              409: "Conflict (e.g. an observation on that date, or a treatment of that kind on "
                   "that date, exists)",
              412: "If-Match is not the current version: nothing changed; the body has the "
                   "current value and the ETag header its version",
              428: "If-Match is missing: send the ETag of GET /observations/{id}"}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
            "description": 'The ETag of the version you read (e.g. "3"); a write based on an '
                           "older version answers 412 and changes nothing.",
            "schema": {"type": "string"}}
ETAG_HEADER = {"ETag": {"description": "the observation's version, for If-Match",
                        "schema": {"type": "string"}}}


def _complete_spec(spec: Any) -> Any:
    """Add what APIFlask cannot infer: request bodies, error responses, bearer security."""
    app: APIFlask = current_app  # type: ignore[assignment]
    errors_ref = _schema_ref(spec, schemas.Errors)
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        path = spec.get("paths", {}).get(_openapi_path(rule.rule))
        if path is None:
            continue
        for method in rule.methods or ():
            op = path.get(method.lower())
            if op is None:
                continue
            op["security"] = [{"bearerAuth": []}]
            found = getattr(view, "_calcitrack_body", None)
            if found is not None:
                model, description = found
                op["requestBody"] = {"required": True, "description": description,
                                     "content": {"application/json":
                                                 {"schema": _schema_ref(spec, model)}}}
            responses = op.setdefault("responses", {})
            for code in (401, 403, *getattr(view, "_calcitrack_errors", ())):
                responses[str(code)] = {"description": ERROR_TEXT[code],
                                        "content": {"application/json": {"schema": errors_ref}}}
            if getattr(view, "_calcitrack_conditional", False):
                _conditional_spec(spec, op, method)
            if getattr(view, "_calcitrack_timeline", False):
                responses["200"] = {"description": "lesion-timeline/1 document",
                                    "content": {"application/json":
                                                {"schema": _schema_ref(spec, Timeline)}}}
    return spec


def _conditional_spec(spec: dict[str, Any], op: dict[str, Any], method: str) -> None:
    responses = op.setdefault("responses", {})
    for status in ("200", "201"):
        if status in responses:
            responses[status].setdefault("headers", {}).update(ETAG_HEADER)
    if method in ("PUT", "DELETE"):
        op.setdefault("parameters", []).append(IF_MATCH)
        responses["412"] = {"description": ERROR_TEXT[412], "headers": ETAG_HEADER,
                            "content": {"application/json":
                                        {"schema": _schema_ref(spec, schemas.StaleErrors)}}}


# --------------------------------------------------------------------------- request helpers


def json_body() -> Any:
    return parse_json(request.get_data(), max_bytes=int(current_app.config["MAX_TIMELINE_BYTES"]),
                      what="request body")


def int_arg(name: str, default: int, *, low: int = 1, high: int = 10**6) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput([Problem(name, f"{raw!r} is not a whole number")]) from None
    if not low <= value <= high:
        raise InvalidInput([Problem(name, f"{value} is not within {low}..{high}")])
    return value


def choice_arg(name: str, allowed: set[str]) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in allowed:
        raise InvalidInput([Problem(name, f"{raw!r} is not one of: {', '.join(sorted(allowed))}")])
    return raw


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
@bp.output(schemas.PatientListOut)
@bp.doc(tags=["patients"], summary="List patients, those needing attention first",
        description="Query: q (id contains), page, per_page (max 200).")
@fails(400)
@requires(Role.CLINICIAN)
def list_patients() -> dict[str, Any]:
    per_page = int_arg("per_page", 50, high=MAX_PER_PAGE)
    page = patient_list(get_session(), today=today(), search=request.args.get("q", "")[:64],
                        page=int_arg("page", 1), per_page=per_page)
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
@bp.output(schemas.PatientRecordOut)
@bp.doc(tags=["patients"], summary="A patient's lesions, stages, transitions and open alerts")
@fails(404)
@requires(Role.CLINICIAN)
def get_patient(external_id: str) -> dict[str, Any]:
    record = patient_record(get_session(), external_id)
    for lesion in record["lesions"]:
        with_images(lesion["observations"])
    return record


@bp.get("/patients/<external_id>/timeline")
@bp.doc(tags=["timelines"], summary="Export one patient as lesion-timeline/1")
@returns_timeline
@fails(404)
@requires(Role.CLINICIAN)
def export_patient(external_id: str) -> dict[str, Any]:
    return export.export_timeline(get_session(), external_id)


@bp.get("/patients/<external_id>/fhir")
@bp.doc(tags=["patients"], summary="Export one patient as a FHIR R5 collection Bundle",
        description="Patient, a BodyStructure per lesion, Observations (measurements and "
                    "stages), ImagingStudy, Flags (open alerts), ServiceRequests (next "
                    "follow-up). Content type application/fhir+json.")
@fails(404)
@requires(Role.CLINICIAN)
def export_patient_fhir(external_id: str) -> Response:
    bundle = bundle_json(patient_bundle(patient_record(get_session(), external_id)))
    return current_app.response_class(json.dumps(bundle, ensure_ascii=False),
                                      mimetype="application/fhir+json")


# --------------------------------------------------------------------------- lesions


@bp.get("/lesions/<int:lesion_id>")
@bp.output(schemas.LesionOut)
@bp.doc(tags=["lesions"], summary="A lesion with its observations and assessment")
@fails(404)
@requires(Role.CLINICIAN)
def get_lesion(lesion_id: int) -> dict[str, Any]:
    doc = lesion_json(lesion_with_everything(get_session(), lesion_id))
    with_images(doc["observations"])
    return doc


@bp.get("/lesions/<int:lesion_id>/assessment")
@bp.output(schemas.AssessmentDetailOut)
@bp.doc(tags=["assessments"], summary="The lesion's latest assessment, stage per observation",
        description="`status` is `pending` while the data changed since the last assessment; "
                    "stages are then `pending` too.")
@fails(404)
@requires(Role.CLINICIAN)
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
    strong = tags.as_set()
    if len(strong) != 1 or not next(iter(strong)).isascii() or not next(iter(strong)).isdigit():
        raise InvalidInput([Problem("If-Match", 'expected one ETag as sent by GET, e.g. "3"')])
    return int(next(iter(strong)))


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
@bp.output(schemas.ObservationOut)
@bp.doc(tags=["observations"], summary="One observation; its ETag is its version",
        description="Send the ETag back as If-Match to PUT or DELETE it.")
@conditional
@fails(404)
@requires(Role.CLINICIAN)
def get_observation(observation_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    row = load_observation(get_session(), observation_id)
    out = _observation_out(row.lesion_id, observation_id)
    return out, 200, etag(out["version"])


@bp.post("/lesions/<int:lesion_id>/observations")
@bp.output(schemas.ObservationOut, status_code=201)
@bp.doc(tags=["observations"], summary="Record one visit's finding",
        description="Validated like an observation inside a timeline. The stage is `pending` "
                    "until the assessment runs (poll the lesion or its assessment).")
@body(ObservationIn, "One observation of lesion-timeline/1")
@fails(400, 404, 409)
@requires(Role.RADIOLOGIST)
def create_observation(lesion_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    obs = validate_observation(json_body(), today=today(), birth_year=lesion.patient.birth_year,
                               event_date=lesion.event_date)
    row = records.record_observation(session, lesion_id, obs, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_observation", observation_id=row.id)
    out = _observation_out(lesion_id, row.id)
    return out, 201, {"Location": location, **etag(out["version"])}


@bp.put("/observations/<int:observation_id>")
@bp.output(schemas.ObservationOut)
@bp.doc(tags=["observations"], summary="Correct an observation (replaces every field)",
        description="Conditional: If-Match must carry the ETag of the version you corrected; "
                    "if someone changed it since, nothing is written and 412 shows its "
                    "current value.")
@body(ObservationIn, "The corrected observation, whole")
@conditional
@fails(400, 404, 409, 428)
@requires(Role.RADIOLOGIST)
def update_observation(observation_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    version = expected_version()
    session = get_session()
    lesion = load_observation(session, observation_id).lesion
    obs = validate_observation(json_body(), today=today(), birth_year=lesion.patient.birth_year,
                               event_date=lesion.event_date)
    records.update_observation(session, observation_id, obs, actor=actor(),
                               expected_version=version)
    dispatch.request_assessment([lesion.id])
    out = _observation_out(lesion.id, observation_id)
    return out, 200, etag(out["version"])


@bp.delete("/observations/<int:observation_id>")
@bp.output({}, status_code=204)
@bp.doc(tags=["observations"], summary="Remove an observation recorded in error",
        description="Conditional like PUT (If-Match). A lesion keeps at least one "
                    "observation: deleting its last one is a 409.")
@conditional
@fails(400, 404, 409, 428)
@requires(Role.RADIOLOGIST)
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
@bp.output(schemas.TreatmentOut, status_code=201)
@bp.doc(tags=["treatments"], summary="Record a treatment of the lesion",
        description="Validated like a treatment inside a timeline (date not in the future, not "
                    "before the birth year or the event date). One treatment of a kind per "
                    "lesion per day (409). The lesion is re-assessed: stages are `pending` "
                    "until then.")
@body(TreatmentIn, "One treatment of lesion-timeline/1")
@fails(400, 404, 409)
@requires(Role.RADIOLOGIST)
def create_treatment(lesion_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    treatment = validate_treatment(json_body(), today=today(),
                                   birth_year=lesion.patient.birth_year,
                                   event_date=lesion.event_date)
    row = treatments.record_treatment(session, lesion_id, treatment, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_lesion", lesion_id=lesion_id)
    return _treatment_out(lesion_id, row.id), 201, {"Location": location}


@bp.put("/treatments/<int:treatment_id>")
@bp.output(schemas.TreatmentOut)
@bp.doc(tags=["treatments"], summary="Correct a treatment (replaces every field)")
@body(TreatmentIn, "The corrected treatment, whole")
@fails(400, 404, 409)
@requires(Role.RADIOLOGIST)
def update_treatment(treatment_id: int) -> dict[str, Any]:
    session = get_session()
    lesion = load_treatment(session, treatment_id).lesion
    treatment = validate_treatment(json_body(), today=today(),
                                   birth_year=lesion.patient.birth_year,
                                   event_date=lesion.event_date)
    treatments.update_treatment(session, treatment_id, treatment, actor=actor())
    dispatch.request_assessment([lesion.id])
    return _treatment_out(lesion.id, treatment_id)


@bp.delete("/treatments/<int:treatment_id>")
@bp.output({}, status_code=204)
@bp.doc(tags=["treatments"], summary="Remove a treatment recorded in error")
@fails(404)
@requires(Role.RADIOLOGIST)
def delete_treatment(treatment_id: int) -> tuple[str, int]:
    lesion_id = treatments.delete_treatment(get_session(), treatment_id, actor=actor())
    dispatch.request_assessment([lesion_id])
    return "", 204


@bp.post("/lesions/<int:lesion_id>/merge")
@bp.output(schemas.LesionOut)
@bp.doc(tags=["lesions"], summary="Merge another lesion of the patient into this one",
        description="Observations combined; for each date both lesions have a visit, `prefer` "
                    "says which stays (409 lists the dates when it does not). Audited with "
                    "everything needed to undo it; both re-assessed.")
@body(schemas.MergeIn, "The lesion to merge in, choices for same-date visits, a reason")
@fails(400, 404, 409)
@requires(Role.RADIOLOGIST)
def merge_lesion(lesion_id: int) -> dict[str, Any]:
    data = validate_model(schemas.MergeIn, json_body())
    session = get_session()
    identity.merge_lesions(session, lesion_id, data.other, prefer=parse_prefer(data.prefer),
                           actor=actor(), reason=data.reason)
    dispatch.request_assessment([lesion_id])
    return lesion_json(lesion_with_everything(session, lesion_id))


@bp.post("/lesions/<int:lesion_id>/split")
@bp.output(schemas.LesionOut, status_code=201)
@bp.doc(tags=["lesions"], summary="Move chosen observations to a new lesion",
        description="The new lesion has the same patient, site and entity. Audited; both "
                    "re-assessed.")
@body(schemas.SplitIn, "The observations to move, the new lesion's id, a reason")
@fails(400, 404, 409)
@requires(Role.RADIOLOGIST)
def split_lesion(lesion_id: int) -> tuple[dict[str, Any], int]:
    data = validate_model(schemas.SplitIn, json_body())
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
@bp.output(schemas.AlertListOut)
@bp.doc(tags=["alerts"], summary="Uncleared alerts, most severe then oldest first",
        description="Filters: kind, severity, region, state (active = open, acknowledged and "
                    "expired snoozes; or open, acknowledged, snoozed, uncleared); page, per_page.")
@fails(400)
@requires(Role.CLINICIAN)
def list_alerts() -> dict[str, Any]:
    flt = WorklistFilter(
        kind=choice_arg("kind", {k.value for k in AlertKind}),
        severity=choice_arg("severity", {s.value for s in Severity}),
        region=choice_arg("region", {r.value for r in Region}),
        state=choice_arg("state", set(WORKLIST_STATES)) or "active",
    )
    page = worklist(get_session(), flt, today=today(), page=int_arg("page", 1),
                    per_page=int_arg("per_page", 50, high=MAX_PER_PAGE))
    return {"items": [worklist_json(a) for a in page.items], "total": page.total,
            "page": page.page, "per_page": page.per_page}


def _alert_body(model: type[BaseModel]) -> dict[str, Any]:
    raw = json_body()
    if not isinstance(raw, dict):
        raise InvalidInput([Problem("", "expected a JSON object")])
    allowed = set(model.model_fields)
    unknown = [Problem(k, f"unknown key {k!r}") for k in raw if k not in allowed]
    if unknown:
        raise InvalidInput(unknown)
    return raw


@bp.post("/alerts/<int:alert_id>/acknowledge")
@bp.output(schemas.WorklistAlertOut)
@bp.doc(tags=["alerts"], summary="Acknowledge an alert (audited)")
@body(schemas.AcknowledgeIn, "An optional reason")
@fails(400, 404, 409)
@requires(Role.CLINICIAN)
def acknowledge(alert_id: int) -> dict[str, Any]:
    raw = _alert_body(schemas.AcknowledgeIn)
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput([Problem("reason", "is not text")])
    session = get_session()
    acknowledge_alert(session, alert_id, actor=actor(), reason=reason)
    return worklist_json(alert_with_lesion(session, alert_id))


@bp.post("/alerts/<int:alert_id>/snooze")
@bp.output(schemas.WorklistAlertOut)
@bp.doc(tags=["alerts"], summary="Snooze an alert until a date, with a reason (audited)")
@body(schemas.SnoozeIn, "Until when, and why")
@fails(400, 404, 409)
@requires(Role.CLINICIAN)
def snooze(alert_id: int) -> dict[str, Any]:
    raw = _alert_body(schemas.SnoozeIn)
    until = raw.get("until")
    session = get_session()
    snooze_alert(session, alert_id, until if isinstance(until, str) else None,
                 actor=actor(), reason=raw.get("reason"), today=today())
    return worklist_json(alert_with_lesion(session, alert_id))


# --------------------------------------------------------------------------- timelines


@bp.post("/timelines")
@bp.output(schemas.ImportOut)
@bp.doc(tags=["timelines"], summary="Import a lesion-timeline/1 document",
        description="Validated whole, like `tracker import`: on any problem nothing is written "
                    "and every problem is listed with its path.")
@body(Timeline, "A lesion-timeline/1 document")
@fails(400)
@requires(Role.RADIOLOGIST)
def import_timeline() -> dict[str, Any]:
    limit = int(current_app.config["MAX_TIMELINE_BYTES"])
    stream = stream_timeline(request.get_data(), today=today(), max_bytes=limit)
    summary = imports.import_stream(get_session(), stream, actor=actor())
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
@bp.output(schemas.ImportOut)
@bp.doc(tags=["timelines"], summary="Import DICOM SR measurement reports (TID 1500)",
        description="multipart/form-data: one or more `file` parts, and `compartment` for new "
                    "lesions outside the spine. Converted to lesion-timeline/1 and imported like "
                    "`tracker import-sr`: on any problem (named by file and measurement group) "
                    "nothing is written.")
@fails(400)
@requires(Role.RADIOLOGIST)
def import_sr() -> dict[str, Any]:
    return import_sr_files(uploaded_files(), request.form.get("compartment") or None)


@bp.get("/timelines")
@bp.doc(tags=["timelines"], summary="Export every patient as lesion-timeline/1")
@returns_timeline
@requires(Role.CLINICIAN)
def export_timeline() -> dict[str, Any]:
    return export.export_timeline(get_session())


# --------------------------------------------------------------------------- wiring

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


def init_app(app: APIFlask) -> None:
    csrf.exempt(bp)  # checked in _csrf_for_browser_sessions unless a bearer token is used
    app.config["AUTO_404_RESPONSE"] = False
    app.config["SWAGGER_UI_CONFIG"] = {"validatorUrl": None, "tryItOutEnabled": False}
    app.register_blueprint(bp)
    app.spec_processor(_complete_spec)

    @app.get("/api/v1/docs/assets/<path:filename>")
    @app.doc(hide=True)
    def swagger_assets(filename: str) -> Response:
        """Swagger UI from the installed swagger-ui-bundle package (works offline)."""
        return send_from_directory(SWAGGER_DIR, filename, max_age=86400)
