"""Upload a lesion-timeline/1 file: validated whole like `tracker import`; nothing is written
unless every part is valid."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from tracker.errors import InvalidInput, Problem, assessment_deferred
from tracker.services import imports
from tracker.timeline import stream_timeline
from tracker.vocabulary import Role
from web.auth import actor, requires
from web.clock import today
from web.db import get_session
from workers import dispatch

bp = Blueprint("imports", __name__, url_prefix="/import")


@bp.route("", methods=["GET", "POST"])
@requires(Role.RADIOLOGIST)
def upload() -> str | tuple[str, int]:
    if request.method != "POST":
        return render_template("imports/upload.html", problems=[], summary=None)
    file = request.files.get("file")
    limit = int(current_app.config["MAX_TIMELINE_BYTES"])
    if file is None or not file.filename:
        problems = [Problem("file", "choose a lesion-timeline/1 JSON file to upload")]
        return render_template("imports/upload.html", problems=problems, summary=None), 400
    data = file.read(limit + 1)
    try:
        stream = stream_timeline(data, today=today(), max_bytes=limit)
        summary = imports.import_stream(get_session(), stream, actor=actor())
    except InvalidInput as exc:
        return render_template("imports/upload.html", problems=exc.problems, summary=None,
                               filename=file.filename), 400
    changed = len(summary.changed_lesion_ids)
    queued = dispatch.request_assessment(summary.changed_lesion_ids)
    deferred = assessment_deferred(changed - queued) if queued < changed else None
    return render_template("imports/upload.html", problems=[], summary=summary.as_dict(),
                           changed=changed, queued=queued, deferred=deferred,
                           filename=file.filename)
