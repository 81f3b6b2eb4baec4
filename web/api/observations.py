"""`/api/v1/observations`: record, read, correct and remove one visit's finding. Corrections
are conditional: the ETag is the observation's version, and PUT and DELETE must send it back
as If-Match (412 with the current value when it is not the current one, 428 without it)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from flask import jsonify, request, url_for
from werkzeug.wrappers import Response

from tracker.errors import InvalidInput, NotFound, Problem, StaleVersion
from tracker.models import Observation
from tracker.queries.lookup import load_lesion, load_observation
from tracker.services import records
from tracker.services.users import Permission
from tracker.timeline.models import ObservationIn
from web import schemas
from web.api.blueprint import bp, check_against, operation, stored_part, with_images
from web.auth import actor
from web.db import get_session
from web.errors import errors_json
from workers import dispatch

SAME_DAY: Any = {409: "The lesion already has an observation on that date"}
CONDITIONAL: Any = {
    400: "Invalid input, or If-Match is not one ETag as GET sends it",
    412: "If-Match is not the current version: nothing changed; the body has the current "
         "value (`current`) and the ETag header its version",
    428: "If-Match is missing: send the ETag of GET /observations/{id}",
}
# What `@doc` cannot say (added to the document by `wiring`): the If-Match header of the
# conditional writes.
CONDITIONAL_WRITES = {("/api/v1/observations/{observation_id}", "put"),
                      ("/api/v1/observations/{observation_id}", "delete")}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
            "description": 'The ETag of the version you read (e.g. "3", or `*`); a write based '
                           "on an older version answers 412 and changes nothing.",
            "schema": {"type": "string"}}


def _observation_out(observation_id: int) -> dict[str, Any]:
    """The observation as stored now, read from the lesion that holds it now (a split or merge
    may have moved it since the caller last looked)."""
    return with_images([stored_part("observations", Observation, observation_id)])[0]


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
    with suppress(NotFound):  # removed since: the client sees that on its next GET
        current = _observation_out(observation_id)
    body = {**errors_json([Problem("If-Match", str(exc))]), "current": current}
    response = jsonify(body)
    response.status_code = 412
    response.headers.update(etag(exc.current_version))
    return response


@operation("GET", "/observations/<int:observation_id>", Permission.READ,
           "observations", "One observation; its ETag is its version",
           "Send the ETag back as If-Match to PUT or DELETE it.",
           gives=schemas.ObservationOut, headers=schemas.ETagHeader)
def get_observation(observation_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    out = _observation_out(observation_id)
    return out, 200, etag(out["version"])


@operation("POST", "/lesions/<int:lesion_id>/observations", Permission.RECORD,
           "observations", "Record one visit's finding",
           "Validated like an observation inside a timeline. The stage is `pending` until the "
           "assessment runs (poll the lesion or its assessment).", SAME_DAY,
           takes=ObservationIn, arg="observation", gives=schemas.ObservationOut, status=201,
           headers=schemas.ETagHeader)
def create_observation(lesion_id: int, observation: ObservationIn
                       ) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    check_against(load_lesion(session, lesion_id), observation)
    row = records.record_observation(session, lesion_id, observation, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_observation", observation_id=row.id)
    out = _observation_out(row.id)
    return out, 201, {"Location": location, **etag(out["version"])}


@operation("PUT", "/observations/<int:observation_id>", Permission.CORRECT_OWN,
           "observations", "Correct an observation (replaces every field)",
           "Conditional: the If-Match header must carry the ETag of the version you corrected (`*` "
           "for any); if someone changed it since, nothing is written and 412 shows its current "
           "value; without If-Match, 428.", {**SAME_DAY, **CONDITIONAL},
           takes=ObservationIn, entry="observation", arg="observation",
           gives=schemas.ObservationOut, headers=schemas.ETagHeader)
def update_observation(observation_id: int, observation: ObservationIn
                       ) -> tuple[dict[str, Any], int, dict[str, str]]:
    version = expected_version()
    session = get_session()
    check_against(load_observation(session, observation_id).lesion, observation)
    # The lesion that holds it is the one read under the service's lock: a split or merge
    # committed between the lookup above and that lock has moved it.
    row = records.update_observation(session, observation_id, observation, actor=actor(),
                                     expected_version=version)
    dispatch.request_assessment([row.lesion_id])
    out = _observation_out(observation_id)
    return out, 200, etag(out["version"])


@operation("DELETE", "/observations/<int:observation_id>", Permission.CORRECT_OWN,
           "observations", "Remove an observation recorded in error",
           "Conditional like PUT (If-Match). A lesion keeps at least one observation: deleting its "
           "last one is a 409. `reason` (query), when given, is kept in the audit (a blank one is "
           "a 400 and nothing removed); the page's form requires it.",
           {**CONDITIONAL, 409: "It is the lesion's only observation: a lesion keeps at least one, "
                                "so correct it instead"},
           takes=schemas.RemovalQuery, entry="observation", location="query", arg="query",
           gives={}, status=204)
def delete_observation(observation_id: int, query: schemas.RemovalQuery) -> tuple[str, int]:
    version = expected_version()
    lesion_id = records.delete_observation(get_session(), observation_id, actor=actor(),
                                           reason=query.reason, expected_version=version)
    dispatch.request_assessment([lesion_id])
    return "", 204
