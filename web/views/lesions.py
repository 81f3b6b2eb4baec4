"""One lesion: size chart, morphology, observations, transitions, alerts, suggestions; and the
forms that record, correct or remove an observation (radiologists)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.errors import Conflict, InvalidInput, Problem, StaleVersion
from tracker.models import Lesion, versions_current
from tracker.queries import (
    assessment_status,
    lesion_stage,
    lesion_versions,
    lesion_with_everything,
    load_lesion,
    load_observation,
    observation_stage,
    open_alerts_of,
    shown_assessment,
)
from tracker.services import records
from tracker.timeline import validate_observation
from tracker.vocabulary import (
    AlertState,
    Density,
    Feature,
    Margin,
    Modality,
    Pattern,
    Role,
    Texture,
    label,
)
from web import charts
from web.auth import actor, requires
from web.clock import today
from web.db import get_session
from web.forms import field_errors, form_from_observation, form_values, observation_from_form
from workers import dispatch

bp = Blueprint("lesions", __name__)

CHOICES = {
    "modality": [(m.value, f"{m.value} — {label(m.value)}") for m in Modality],
    "density": [(d.value, label(d.value).capitalize()) for d in Density],
    "margin": [(m.value, label(m.value).capitalize()) for m in Margin],
    "texture": [(t.value, label(t.value).capitalize()) for t in Texture],
    "pattern": [(p.value, label(p.value)) for p in Pattern],
    "features": [(f.value, label(f.value)) for f in Feature],
}


def lesion_view(lesion: Lesion) -> dict[str, Any]:
    """What the lesion page shows, computed once here so the template only formats."""
    current = lesion.assessment_current
    flagged = charts.cross_modality(lesion.observations)
    rows = []
    for o in lesion.observations:
        a = shown_assessment(o, current)
        rows.append({
            "obs": o,
            "stage": observation_stage(o, current),
            "confidence": a.confidence if a else None,
            "evidence": list(a.evidence) if a else [],
            "classifications": dict(a.classifications or {}) if a else {},
            "cross_modality": o.id in flagged,
        })
    alerts = open_alerts_of(lesion)
    return {
        "lesion": lesion,
        "patient": lesion.patient,
        "caption": charts.lesion_caption(lesion),
        "current": current,
        "stage": lesion_stage(lesion),
        "rows": rows,
        "alerts": alerts,
        "cleared": [a for a in lesion.alerts if a.state == AlertState.CLEARED.value],
        "transitions": lesion.transitions,
        "suggestions": lesion.suggestions or [],
        "any_classification": any(r["classifications"] for r in rows),
    }


@bp.get("/lesions/<int:lesion_id>")
@requires(Role.CLINICIAN)
def show(lesion_id: int) -> str:
    lesion = lesion_with_everything(get_session(), lesion_id)
    return render_template("lesions/show.html", **lesion_view(lesion), today=today())


@bp.get("/lesions/<int:lesion_id>/chart.<fmt>")
@requires(Role.CLINICIAN)
def chart(lesion_id: int, fmt: str) -> Any:
    session = get_session()
    key = ("lesion", lesion_id, *lesion_versions(session, lesion_id))
    return charts.serve(
        key,
        lambda: charts.render_lesion(lesion_with_everything(session, lesion_id), fmt),
        fmt, f"lesion-{lesion_id}", download=request.args.get("download") == "1",
    )


@bp.get("/lesions/<int:lesion_id>/status.json")
@requires(Role.CLINICIAN)
def status(lesion_id: int) -> Response:
    """Polled by the lesion page while its stage is pending."""
    data_version, assessed_version = lesion_versions(get_session(), lesion_id)
    current = versions_current(data_version, assessed_version)
    return jsonify(status=assessment_status(current), data_version=data_version,
                   assessed_version=assessed_version)


def _form(lesion: Lesion, values: dict[str, Any], errors: dict[str, list[str]],
          observation_id: int | None = None, version: int | None = None,
          submitted: dict[str, Any] | None = None) -> str:
    return render_template("lesions/observation_form.html", lesion=lesion,
                           caption=charts.lesion_caption(lesion), values=values, errors=errors,
                           choices=CHOICES, observation_id=observation_id, version=version,
                           submitted=submitted, today=today())


def posted_version() -> int:
    """The version the form was filled from (its hidden field)."""
    raw = request.form.get("version", "")
    if not raw.isascii() or not raw.isdigit():
        raise InvalidInput([Problem("_form", "the form lost its version; reload the page")])
    return int(raw)


def _stale(observation_id: int, exc: StaleVersion) -> tuple[str, int]:
    """409 with the current values in the form and what the person typed beside it, so a
    stale edit is redone knowingly, never saved over someone else's change."""
    session = get_session()
    session.rollback()  # release the lock; read what is stored now
    row = load_observation(session, observation_id)
    message = f"{exc}. The form now shows the stored values; re-apply your change if it holds."
    return _form(row.lesion, form_from_observation(row), {"_form": [message]}, observation_id,
                 row.version, submitted=_as_typed(form_values(request.form))), 409


def _as_typed(values: dict[str, Any]) -> dict[str, str]:
    """The unsaved entry, field by field as the person typed it (empty fields left out)."""
    sizes = [s for s in values["size_mm"] if s.strip()]
    out = {
        "date": values["date"], "modality": values["modality"],
        "seen": "yes" if values["visible"] else "no",
        "size": " × ".join(sizes) + " mm" if sizes else "",
        **{k: label(values[k]) if values[k] else "" for k in
           ("density", "margin", "texture", "pattern")},
        "features": ", ".join(label(f) for f in values["features"]),
        "pain": values["pain"], "note": values["note"],
    }
    return {k: v for k, v in out.items() if v}


@bp.route("/lesions/<int:lesion_id>/observations/new", methods=["GET", "POST"])
@requires(Role.RADIOLOGIST)
def new_observation(lesion_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    if request.method != "POST":
        return _form(lesion, {"date": today().isoformat(), "visible": True, "size_mm": [],
                              "features": []}, {})
    raw = observation_from_form(request.form)
    try:
        obs = validate_observation(raw, today=today(), birth_year=lesion.patient.birth_year,
                                   event_date=lesion.event_date)
        row = records.record_observation(session, lesion_id, obs, actor=actor())
    except InvalidInput as exc:
        return _form(lesion, form_values(request.form), field_errors(exc.problems)), 400
    except Conflict as exc:
        return _form(lesion, form_values(request.form), {"date": [str(exc)]}), 409
    dispatch.request_assessment([lesion_id])
    flash(f"Observation of {row.date} saved. Its stage is pending until the assessment "
          "runs; this page refreshes when it has.", "success")
    return redirect(url_for("lesions.show", lesion_id=lesion_id, _anchor="observations"))


@bp.route("/observations/<int:observation_id>/edit", methods=["GET", "POST"])
@requires(Role.RADIOLOGIST)
def edit_observation(observation_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    row = load_observation(session, observation_id)
    lesion = row.lesion
    if request.method != "POST":
        return _form(lesion, form_from_observation(row), {}, observation_id, row.version)
    raw = observation_from_form(request.form)
    version = row.version
    try:
        version = posted_version()
        obs = validate_observation(raw, today=today(), birth_year=lesion.patient.birth_year,
                                   event_date=lesion.event_date)
        records.update_observation(session, observation_id, obs, actor=actor(),
                                   expected_version=version)
    except InvalidInput as exc:
        return _form(lesion, form_values(request.form), field_errors(exc.problems),
                     observation_id, version), 400
    except StaleVersion as exc:
        return _stale(observation_id, exc)
    except Conflict as exc:
        return _form(lesion, form_values(request.form), {"date": [str(exc)]},
                     observation_id, version), 409
    dispatch.request_assessment([lesion.id])
    flash(f"Observation of {obs.date} corrected; stage pending until re-assessed.", "success")
    return redirect(url_for("lesions.show", lesion_id=lesion.id, _anchor="observations"))


@bp.post("/observations/<int:observation_id>/delete")
@requires(Role.RADIOLOGIST)
def delete_observation(observation_id: int) -> Response | tuple[str, int]:
    try:
        lesion_id = records.delete_observation(get_session(), observation_id, actor=actor(),
                                               expected_version=posted_version())
    except StaleVersion as exc:
        return _stale(observation_id, exc)
    dispatch.request_assessment([lesion_id])
    flash("Observation removed; stage pending until re-assessed.", "success")
    return redirect(url_for("lesions.show", lesion_id=lesion_id, _anchor="observations"))
