"""Upload a lesion-timeline/1 file or DICOM SR files: validated whole like `tracker import`;
nothing is written unless every part is valid."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from tracker.errors import InvalidInput, Problem, assessment_deferred
from tracker.services import imports
from tracker.timeline.stream import stream_timeline
from tracker.vocabulary import Compartment, Role
from web.api.sr import import_sr_files, uploaded_files
from web.auth import actor, requires
from web.clock import today
from web.db import get_session
from workers import dispatch

bp = Blueprint("imports", __name__, url_prefix="/import")
COMPARTMENTS = [c.value for c in Compartment]


def _page(status: int = 200, **kw: Any) -> tuple[str, int]:
    values = {"problems": [], "summary": None, "sr_problems": [], "sr_summary": None,
              "compartments": COMPARTMENTS, **kw}
    return render_template("imports/upload.html", **values), status


@bp.route("", methods=["GET", "POST"])
@requires(Role.RADIOLOGIST)
def upload() -> tuple[str, int]:
    if request.method != "POST":
        return _page()
    file = request.files.get("file")
    limit = int(current_app.config["MAX_TIMELINE_BYTES"])
    if file is None or not file.filename:
        problems = [Problem("file", "choose a lesion-timeline/1 JSON file to upload")]
        return _page(400, problems=problems)
    data = file.read(limit + 1)
    try:
        stream = stream_timeline(data, today=today(), max_bytes=limit)
        summary = imports.import_stream(get_session(), stream, actor=actor())
    except InvalidInput as exc:
        return _page(400, problems=exc.problems, filename=file.filename, total=exc.total,
                     note=exc.omitted_note)
    changed = len(summary.changed_lesion_ids)
    queued = dispatch.request_assessment(summary.changed_lesion_ids)
    deferred = assessment_deferred(changed - queued) if queued < changed else None
    return _page(summary=summary.as_dict(), changed=changed, queued=queued, deferred=deferred,
                 filename=file.filename)


@bp.post("/sr")
@requires(Role.RADIOLOGIST)
def upload_sr() -> tuple[str, int]:
    """DICOM SR measurement reports: converted, then imported like a timeline (all or nothing)."""
    compartment = request.form.get("compartment") or None
    try:
        files = uploaded_files()
        result = import_sr_files(files, compartment)
    except InvalidInput as exc:
        return _page(400, sr_problems=exc.problems, compartment=compartment)
    return _page(sr_summary=result, compartment=compartment)
