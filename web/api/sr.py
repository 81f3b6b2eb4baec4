"""`/api/v1/sr`: DICOM SR measurement reports uploaded and imported as one batch (the import
page uses the same two functions)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from tracker.errors import InvalidInput, Problem
from tracker.pacs.models import ReportSource
from tracker.services import reports
from tracker.services.users import Permission
from tracker.vocabulary import Compartment
from web import schemas
from web.api.blueprint import operation
from web.auth import actor
from web.clock import today
from web.db import get_session
from workers import dispatch

# What `@doc` cannot say: the upload's multipart body (added to the document by `wiring`).
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


def import_sr_files(files: list[tuple[str, bytes]], compartment: str | None) -> dict[str, Any]:
    """DICOM SR files of one upload (API or import page): the invalid refuse the upload; those
    that need a person's input are held in the inbox; the others are imported as one batch."""
    problems: list[Problem] = []
    chosen = None
    try:
        chosen = reports.parse_compartment(compartment)
    except InvalidInput as exc:
        problems += exc.problems
    if not files:
        problems.append(Problem("file", "choose one or more DICOM SR files"))
    if problems:
        raise InvalidInput(problems)
    outcome = reports.import_report_files(
        get_session(), [reports.ReportFile(name, data) for name, data in files],
        actor=actor(), today=today(), source=ReportSource.UPLOAD, hold=True, compartment=chosen,
        hint=" (an SR has none outside the spine): choose a compartment, or import the lesion"
             " first")
    queued = dispatch.request_assessment(outcome.summary.changed_lesion_ids)
    return {**outcome.as_dict(), "assessments_queued": queued, "files": len(files),
            "held": [{"id": i, "inbox": url_for("inbox.show", report_id=i),
                      "api": url_for("api.inbox_report", report_id=i)} for i in outcome.held]}


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


@operation("POST", "/sr", Permission.IMPORT,
           "timelines", "Import DICOM SR measurement reports (TID 1500)",
           "multipart/form-data: one or more `file` parts, and `compartment` for new lesions "
           "outside the spine. Converted to lesion-timeline/1 and imported like `tracker "
           "import-sr`. A file that is invalid refuses the upload (every problem named by file "
           "and measurement group; nothing is written). A report that needs a person's input (a "
           "compartment, which stored lesion it is, a site calcitrack does not map) is held in "
           "the inbox instead: `held` lists them with where to complete them (`/inbox/{id}`, "
           "`/api/v1/inbox/{id}`).",
           {400: "Invalid input: every problem named by file and group"},
           gives=schemas.ImportOut)
def import_sr() -> dict[str, Any]:
    return import_sr_files(uploaded_files(), request.form.get("compartment") or None)
