"""`/api/v1/sr`: DICOM SR measurement reports uploaded and imported as one batch (the import
page uses the same two functions)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from tracker.errors import InvalidInput, Problem
from tracker.interop import sr
from tracker.services import interop
from tracker.services.users import Permission
from tracker.vocabulary import Compartment
from web import schemas
from web.api.blueprint import bp, doc
from web.auth import actor, requires
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
@requires(Permission.IMPORT)
@bp.output(schemas.ImportOut)
@doc("timelines", "Import DICOM SR measurement reports (TID 1500)",
     "multipart/form-data: one or more `file` parts, and `compartment` for new lesions outside "
     "the spine. Converted to lesion-timeline/1 and imported like `tracker import-sr`: on any "
     "problem (named by file and measurement group) nothing is written.",
     {400: "Invalid input: every problem named by file and group"})
def import_sr() -> dict[str, Any]:
    return import_sr_files(uploaded_files(), request.form.get("compartment") or None)
