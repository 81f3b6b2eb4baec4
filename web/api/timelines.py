"""`/api/v1/timelines`: lesion-timeline/1 in (an import, read patient by patient) and out (one
patient, or every patient streamed)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from flask import current_app
from werkzeug.wrappers import Response

from tracker import export
from tracker.db import read_snapshot, session_scope
from tracker.queries.check import stored_problems
from tracker.services import imports
from tracker.services.users import Permission
from tracker.timeline.models import Timeline
from tracker.timeline.stream import PatientStream
from web import schemas
from web.api.blueprint import operation
from web.auth import actor
from web.clock import today
from web.db import get_session
from workers import dispatch

# Set when stored rows (changed by hand) would make the export refused by an import.
EXPORT_WARNING = "X-Export-Warning"
TIMELINE_OUT: Any = {200: {"description": "lesion-timeline/1 document",
                      "content": {"application/json":
                                  {"schema": {"$ref": "#/components/schemas/Timeline"}}}}}


@operation("GET", "/patients/<external_id>/timeline", Permission.READ,
           "timelines", "Export one patient as lesion-timeline/1", responses=TIMELINE_OUT)
def export_patient(external_id: str) -> dict[str, Any]:
    """Read from one snapshot, through a session of its own (the request's has read already)."""
    with session_scope(current_app.config["DATABASE_URL"]) as session:
        return export.export_timeline(session, external_id)


@operation("POST", "/timelines", Permission.IMPORT,
           "timelines", "Import a lesion-timeline/1 document",
           "Validated whole, like `tracker import`: on any problem nothing is written and every "
           "problem is listed with its path. Read patient by patient.",
           takes=Timeline, arg="timeline", gives=schemas.ImportOut)
def import_timeline(timeline: PatientStream) -> dict[str, Any]:
    summary = imports.import_stream(get_session(), timeline, actor=actor())
    queued = dispatch.request_assessment(summary.changed_lesion_ids)
    return {**summary.as_dict(), "assessments_queued": queued}


@operation("GET", "/timelines", Permission.READ,
           "timelines", "Export every patient as lesion-timeline/1", responses=TIMELINE_OUT)
def export_timeline() -> Response:
    """Streamed patient by patient (`tracker export`'s text): memory does not grow with the
    database. The stream outlives the request's context, so it reads through a session of its
    own, closed with the response (sent, or abandoned); the warning header and the body are
    read from one snapshot."""
    held = ExitStack()  # the session and its snapshot, until the response is closed
    try:
        session = held.enter_context(session_scope(current_app.config["DATABASE_URL"]))
        held.enter_context(read_snapshot(session))
        # judged before sending (headers come first), from the snapshot the body is read from
        bad = sum(1 for _ in stored_problems(session, today=today()))
    except BaseException:
        held.close()
        raise
    response = Response(export.export_text(session), mimetype="application/json")
    response.call_on_close(held.close)
    if bad:
        response.headers[EXPORT_WARNING] = (
            f"{bad} problem(s) in stored rows: this export would not import again; "
            "`tracker check` names each bad row")
    return response
