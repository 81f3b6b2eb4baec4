"""Upload a lesion-timeline/1 file, DICOM SR files or a CSV spreadsheet: validated like
`tracker import`, `import-sr` and `import-csv`; nothing is written unless every part is valid
(or, for a CSV with "skip bad rows", every row imported is). A file of another kind is sent to
the page that reads it."""

from __future__ import annotations

import io
from pathlib import PurePath
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from tracker.errors import InvalidInput, Problem, assessment_deferred
from tracker.interop import csv_rows
from tracker.interop.uploads import BOM, FileKind, kind_of
from tracker.services import imports, interop
from tracker.services.users import Permission
from tracker.timeline.stream import stream_timeline
from tracker.vocabulary import Compartment
from web.api.sr import import_sr_files, uploaded_files
from web.auth import actor, requires, user
from web.clock import today
from web.db import get_session
from workers import dispatch

bp = Blueprint("imports", __name__, url_prefix="/import")
COMPARTMENTS = [c.value for c in Compartment]


def _elsewhere(kind: FileKind | None, here: FileKind) -> tuple[str, str] | None:
    """(what the file is, the page that reads it) when it is not for this page."""
    if kind is None or kind == here:
        return None
    target = {FileKind.TIMELINE: url_for("imports.upload"),
              FileKind.CSV: url_for("imports.upload_csv"),
              FileKind.DICOM: url_for("imports.upload") + "#sr-h"}[kind]
    return kind.value, target


def _page(status: int = 200, **kw: Any) -> tuple[str, int]:
    values = {"problems": [], "summary": None, "sr_problems": [], "sr_summary": None,
              "compartments": COMPARTMENTS, **kw}
    return render_template("imports/upload.html", **values), status


@bp.route("", methods=["GET", "POST"])
@requires(Permission.IMPORT)
def upload() -> tuple[str, int]:
    if request.method != "POST":
        return _page()
    file = request.files.get("file")
    limit = int(current_app.config["MAX_TIMELINE_BYTES"])
    if file is None or not file.filename:
        problems = [Problem("file", "choose a lesion-timeline/1 JSON file to upload")]
        return _page(400, problems=problems)
    data = file.read(limit + 1)
    elsewhere = _elsewhere(kind_of(file.filename, data), FileKind.TIMELINE)
    if elsewhere is not None:
        return _page(400, elsewhere=elsewhere, filename=file.filename)
    try:
        # JSON may begin with a byte order mark (RFC 8259, 8.1), as Windows editors write it
        stream = stream_timeline(data.removeprefix(BOM), today=today(), max_bytes=limit)
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
@requires(Permission.IMPORT)
def upload_sr() -> tuple[str, int]:
    """DICOM SR measurement reports: converted, then imported like a timeline (all or nothing)."""
    compartment = request.form.get("compartment") or None
    try:
        files = uploaded_files()
        result = import_sr_files(files, compartment)
    except InvalidInput as exc:
        return _page(400, sr_problems=exc.problems, compartment=compartment)
    return _page(sr_summary=result, compartment=compartment)


def _csv_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    me = user()
    assert me is not None
    values = {"problems": [], "summary": None, "skip_bad": False,
              "rejects": interop.rejects_of(get_session(), me.principal.id),
              "columns": csv_rows.COLUMNS, "required": csv_rows.REQUIRED, **kw}
    return render_template("imports/csv.html", **values), status


@bp.route("/csv", methods=["GET", "POST"])
@requires(Permission.IMPORT)
def upload_csv() -> tuple[str, int]:
    """A spreadsheet, one row per observation (the columns of `tracker import-csv`)."""
    if request.method != "POST":
        return _csv_page()
    file = request.files.get("file")
    skip_bad = request.form.get("mode") == "skip_bad"
    limit = int(current_app.config["MAX_TIMELINE_BYTES"])
    if file is None or not file.filename:
        return _csv_page(400, problems=[Problem("file", "choose a CSV file to upload")],
                         skip_bad=skip_bad)
    name = file.filename
    data = file.read(limit + 1)
    if len(data) > limit:
        return _csv_page(400, problems=[Problem(name, f"is larger than {limit} bytes")],
                         skip_bad=skip_bad, filename=name)
    elsewhere = _elsewhere(kind_of(name, data), FileKind.CSV)
    if elsewhere is not None:
        return _csv_page(400, elsewhere=elsewhere, filename=name, skip_bad=skip_bad)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem(name, f"is not UTF-8 text (byte {exc.start}): save it from the"
                                ' spreadsheet as "CSV UTF-8"')
        return _csv_page(400, problems=[problem], skip_bad=skip_bad, filename=name)
    me = user()
    assert me is not None
    try:
        done = interop.import_csv_text(get_session(), text, filename=name,
                                       user_id=me.principal.id, skip_bad=skip_bad,
                                       actor=actor(), today=today())
    except InvalidInput as exc:
        return _csv_page(400, problems=exc.problems, total=exc.total, note=exc.omitted_note,
                         filename=name, skip_bad=skip_bad)
    listed = InvalidInput(done.problems)  # the first ones, and how many in all
    common: dict[str, Any] = {
        "filename": name, "skip_bad": skip_bad, "bad_rows": done.bad_rows,
        "problems": listed.problems, "total": listed.total, "note": listed.omitted_note}
    if done.summary is None:
        return _csv_page(400, **common)
    changed = len(done.summary.changed_lesion_ids)
    queued = dispatch.request_assessment(done.summary.changed_lesion_ids)
    deferred = assessment_deferred(changed - queued) if queued < changed else None
    return _csv_page(summary=done.summary.as_dict(), changed=changed, deferred=deferred,
                     **common)


@bp.get("/csv/rejects")
@requires(Permission.IMPORT)
def csv_rejects() -> Response:
    """The bad rows of the signed-in person's last CSV upload; nobody else's."""
    me = user()
    assert me is not None
    found = interop.rejects_of(get_session(), me.principal.id)
    if found is None:
        abort(404)
    stem = secure_filename(PurePath(found.filename).stem) or "upload"
    body = io.BytesIO(found.content.encode(csv_rows.REJECTS_ENCODING))
    return send_file(body, mimetype="text/csv", as_attachment=True,
                     download_name=f"{stem}.rejects.csv")
