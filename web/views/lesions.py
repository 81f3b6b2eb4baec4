"""One lesion: size chart, morphology, observations and treatments, responses, transitions,
alerts, suggestions; and the forms that record, correct or remove an observation or a treatment
(radiologists)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from reporting.charts import cross_modality, render_lesion
from reporting.words import US_MORPHOLOGY, lesion_caption
from tracker.errors import Conflict, InvalidInput, Problem, StaleVersion
from tracker.models import Lesion, versions_current
from tracker.queries.history import history
from tracker.queries.lesion import (
    lesion_versions,
    lesion_with_everything,
    patient_lesions,
    previous_visit,
)
from tracker.queries.lookup import load_lesion, load_observation, load_treatment
from tracker.queries.prognosis import latest_fits, lesion_prognosis
from tracker.queries.stages import (
    assessment_status,
    lesion_stage,
    observation_stage,
    open_alerts_of,
    shown_assessment,
)
from tracker.services import identity, records, treatments
from tracker.services.identity import merge_plan, same_site
from tracker.services.users import Permission
from tracker.timeline.models import ObservationIn, TreatmentIn
from tracker.timeline.reader import validate_observation, validate_treatment
from tracker.timeline.site import checked_site
from tracker.timepoints import compare as compare_visits
from tracker.timepoints import size_change, visits_of
from tracker.vocabulary import (
    EVENT_KIND_LABELS,
    TREATMENT_KIND_LABELS,
    AlertState,
    EventKind,
    TreatmentKind,
    label,
)
from web import charts
from web.auth import actor, editable, requires
from web.clock import today
from web.db import get_session
from web.forms import (
    CHOICES,
    MORPHOLOGY,
    OBSERVATION_FIELDS,
    SITE_CHOICES,
    TREATMENT_FIELDS,
    correction_reason,
    divide_from_form,
    field_errors,
    form_from_observation,
    form_from_treatment,
    form_values,
    observation_from_form,
    split_choices,
    treatment_form_values,
    treatment_from_form,
)
from web.schemas import ChartQuery, CompareQuery, MergeQuery, NewObservationQuery, PageNumber
from web.validation import query_args
from web.views.pacs import key_images_for
from workers import dispatch

bp = Blueprint("lesions", __name__)



def lesion_view(lesion: Lesion) -> dict[str, Any]:
    """What the lesion page shows, computed once here so the template only formats."""
    current = lesion.assessment_current
    flagged = cross_modality(lesion.observations)
    rows: list[dict[str, Any]] = []
    for o in lesion.observations:
        a = shown_assessment(o, current)
        rows.append({
            "obs": o,
            "stage": observation_stage(o, current),
            "confidence": a.confidence if a else None,
            "evidence": list(a.evidence) if a else [],
            "classifications": dict(a.classifications or {}) if a else {},
            "response": a.response if a else None,
            "resolution": a.resolution if a else None,
            "cross_modality": o.id in flagged,
        })
    # One list in date order: a treatment dated on a visit's day comes after it (clinical-rules
    # §7a: it counts as after that observation).
    timeline: list[dict[str, Any]] = [{"type": "observation", **r} for r in rows]
    timeline += [{"type": "treatment", "treatment": t,
                  "kind_label": TREATMENT_KIND_LABELS[TreatmentKind(t.kind)]}
                 for t in lesion.treatments]
    order = {k.value: i for i, k in enumerate(TreatmentKind)}
    timeline.sort(key=lambda e: (e["obs"].date, 0, 0) if e["type"] == "observation"
                  else (e["treatment"].date, 1, order[e["treatment"].kind]))
    alerts = open_alerts_of(lesion)
    return {
        "lesion": lesion,
        "patient": lesion.patient,
        "caption": lesion_caption(lesion),
        "current": current,
        "stage": lesion_stage(lesion),
        "rows": rows,
        "timeline": timeline,
        "event_kind_label": (EVENT_KIND_LABELS[EventKind(lesion.event_kind)]
                             if lesion.event_kind else None),
        "any_response": any(r["response"] for r in rows),
        "alerts": alerts,
        "cleared": [a for a in lesion.alerts if a.state == AlertState.CLEARED.value],
        "transitions": lesion.transitions,
        # a transition to `resolved` reads as its visit's stage does ("Resolved (expected)")
        "resolution_on": {r["obs"].date: r["resolution"] for r in rows},
        "suggestions": lesion.suggestions or [],
        "any_classification": any(r["classifications"] for r in rows),
        "editable_observations": editable("observation", [o.id for o in lesion.observations]),
        "editable_treatments": editable("treatment", [t.id for t in lesion.treatments]),
        "prognosis": lesion_prognosis(lesion, lesion.patient.birth_year,
                                      latest_fits(get_session())),
    }


@bp.get("/lesions/<int:lesion_id>")
@requires(Permission.READ)
def show(lesion_id: int) -> str:
    lesion = lesion_with_everything(get_session(), lesion_id)
    return render_template("lesions/show.html", **lesion_view(lesion), today=today(),
                           key_images=key_images_for(lesion.observations))


@bp.get("/lesions/<int:lesion_id>/history")
@requires(Permission.READ)
def lesion_history(lesion_id: int) -> str:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    page = history(session, lesion_id=lesion.id, page=query_args(PageNumber).page,
                   per_page=100)
    return render_template("history.html", page=page, patient=lesion.patient, lesion=lesion,
                           caption=lesion_caption(lesion),
                           endpoint="lesions.lesion_history")


def _siblings(lesion: Lesion) -> list[Lesion]:
    return [le for le in patient_lesions(get_session(), lesion.patient_id) if le.id != lesion.id]


@bp.route("/lesions/<int:lesion_id>/merge", methods=["GET", "POST"])
@requires(Permission.IDENTITY)
def merge(lesion_id: int) -> str | Response | tuple[str, int]:
    """Merge another record of the same deposit into this lesion; same-date visits: choose."""
    session = get_session()
    lesion = lesion_with_everything(session, lesion_id)
    other_id = (_int_value(request.form.get("other", "")) if request.method == "POST"
                else query_args(MergeQuery).other)
    others = [le for le in _siblings(lesion) if same_site(lesion, le)]
    other = next((le for le in others if le.id == other_id), None)
    conflicts = merge_plan(lesion, lesion_with_everything(session, other.id)).conflicts \
        if other is not None else []
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        prefer = {k.removeprefix("prefer."): v for k, v in request.form.items()
                  if k.startswith("prefer.")}
        try:
            if other is None:
                raise InvalidInput([Problem("other", "choose the lesion to merge in")])
            identity.merge_lesions(session, lesion.id, other.id,
                                   prefer=identity.parse_prefer(prefer), actor=actor(),
                                   reason=request.form.get("reason", ""))
        except InvalidInput as exc:
            errors, status = field_errors(exc.problems, ("other", "reason", "prefer")), 400
        except Conflict as exc:
            errors, status = {"prefer": [str(exc)]}, 409
        else:
            return back_to_lesion(lesion.id, f"Lesion {other.external_id if other else ''} merged "
                                  f"into {lesion.external_id}; stages pending until re-assessed.",
                                  anchor=None)
    page = render_template("lesions/merge.html", lesion=lesion, patient=lesion.patient,
                           caption=lesion_caption(lesion), others=others, other=other,
                           conflicts=conflicts, errors=errors, form=request.form)
    return (page, status) if status != 200 else page


@bp.route("/lesions/<int:lesion_id>/split", methods=["GET", "POST"])
@requires(Permission.IDENTITY)
def split(lesion_id: int) -> str | Response | tuple[str, int]:
    """Move chosen observations to a new lesion (one record was two deposits)."""
    session = get_session()
    lesion = lesion_with_everything(session, lesion_id)
    errors: dict[str, list[str]] = {}
    status = 200
    chosen = {_int_value(v) for v in request.form.getlist("observation")}
    site = {k: request.form.get("site_" + k, getattr(lesion, k) or "")
            for k in ("compartment", "region", "structure", "laterality")}
    if request.method == "POST":
        try:
            new = identity.split_lesion(
                session, lesion.id, sorted(chosen),
                new_external_id=request.form.get("new_lesion", "").strip(), actor=actor(),
                reason=request.form.get("reason", ""),
                site=checked_site(site, entity=lesion.entity, prefix="site_"),
                divide=divide_from_form(request.form))
        except InvalidInput as exc:
            errors, status = field_errors(exc.problems, (
                "observations", "new_lesion", "reason", "divide", "site_compartment",
                "site_region", "site_structure", "site_laterality")), 400
        except Conflict as exc:
            errors, status = {"new_lesion": [str(exc)]}, 409
        else:
            return back_to_lesion(new.id, f"{len(chosen)} observation(s) moved to the new "
                                  f"lesion {new.external_id}.", also=(lesion.id,), anchor=None)
    page = render_template("lesions/split.html", lesion=lesion, patient=lesion.patient,
                           caption=lesion_caption(lesion), errors=errors,
                           chosen=chosen, form=request.form, site=site,
                           site_choices=SITE_CHOICES)
    return (page, status) if status != 200 else page


def _int_value(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else -1


@bp.get("/lesions/<int:lesion_id>/compare")
@requires(Permission.READ)
def compare(lesion_id: int) -> str:
    """Two visits side by side: every value, what changed, and the size change."""
    lesion = lesion_with_everything(get_session(), lesion_id)
    visits = list(lesion.observations)
    query = query_args(CompareQuery)
    chosen = visits_of(lesion, [i for i in (query.a, query.b) if i is not None])
    if len(chosen) < 2 and len(visits) >= 2:
        chosen = [visits[-2], visits[-1]]  # default: the last two visits
    first, second = [*sorted(chosen, key=lambda o: o.date), None, None][:2]
    diff = compare_visits(first, second) if first and second and first is not second else []
    change = size_change(first, second) if first and second else None
    return render_template("lesions/compare.html", lesion=lesion, patient=lesion.patient,
                           caption=lesion_caption(lesion), visits=visits, first=first,
                           second=second, diff=diff, change=change,
                           key_images=key_images_for([o for o in (first, second) if o]))


@bp.get("/lesions/<int:lesion_id>/chart.<fmt>")
@requires(Permission.READ)
def chart(lesion_id: int, fmt: str) -> Any:
    session = get_session()
    q = query_args(ChartQuery)
    key = charts.lesion_key(lesion_id, lesion_versions(session, lesion_id), today(), q.narrow)
    return charts.serve(
        key,
        lambda: render_lesion(lesion_with_everything(session, lesion_id), fmt, today(),
                              narrow=q.narrow),
        fmt, f"lesion-{lesion_id}", download=q.download,
    )


@bp.get("/lesions/<int:lesion_id>/status.json")
@requires(Permission.READ)
def status(lesion_id: int) -> Response:
    """Polled by the lesion page while its stage is pending."""
    data_version, assessed_version = lesion_versions(get_session(), lesion_id)
    current = versions_current(data_version, assessed_version)
    return jsonify(status=assessment_status(current), data_version=data_version,
                   assessed_version=assessed_version)


def _form(lesion: Lesion, values: dict[str, Any], errors: dict[str, list[str]],
          observation_id: int | None = None, version: int | None = None,
          submitted: dict[str, str] | None = None) -> str:
    """The record/correct form; beside each field, the value of the visit before."""
    try:
        day = date.fromisoformat(str(values.get("date")))
    except ValueError:
        day = today()
    last = previous_visit(get_session(), lesion.id, day, observation_id)
    previous = form_from_observation(last) if last is not None else None
    if previous is not None and last is not None:
        previous["when"] = last.date
    grouped = {name: split_choices(lesion.compartment, name, CHOICES[name])
               for name in ("pattern", "features")}
    return render_template("lesions/observation_form.html", lesion=lesion,
                           caption=lesion_caption(lesion), values=values, errors=errors,
                           choices=CHOICES, grouped=grouped, previous=previous,
                           observation_id=observation_id, version=version,
                           submitted=submitted, today=today(), us_words=US_MORPHOLOGY)


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
@requires(Permission.RECORD)
def new_observation(lesion_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    if request.method != "POST":
        values: dict[str, Any] = {"date": today().isoformat(), "visible": True, "size_mm": [],
                                  "features": []}
        if lesion.observations:  # a follow-up: the same modality as last time, by default
            last = form_from_observation(lesion.observations[-1])
            values["modality"] = last["modality"]
            if query_args(NewObservationQuery).same:
                values.update({k: last[k] for k in MORPHOLOGY})
        return _form(lesion, values, {})
    raw = observation_from_form(request.form)

    def write() -> tuple[int, str]:
        obs = validate_observation(raw, today=today(), birth_year=lesion.patient.birth_year,
                                   event_date=lesion.event_date)
        row = records.record_observation(session, lesion_id, obs, actor=actor())
        return lesion_id, (f"Observation of {row.date} saved. Its stage is pending until the "
                           "assessment runs; this page refreshes when it has.")

    return _submitted(write, lambda errors: _form(lesion, form_values(request.form), errors),
                      "date")


def _submitted(write: Callable[[], tuple[int, str]],
               form_again: Callable[[dict[str, list[str]]], str], conflict_field: str,
               fields: tuple[str, ...] = OBSERVATION_FIELDS) -> Response | tuple[str, int]:
    """A posted observation or treatment form: `write` validates and stores it and says its
    lesion and what to tell the person. Invalid, the form again as typed with each problem at
    its field (400); a clash with a stored entry, at `conflict_field` (409)."""
    try:
        lesion_id, message = write()
    except InvalidInput as exc:
        return form_again(field_errors(exc.problems, fields)), 400
    except StaleVersion:
        raise  # a Conflict too, but the caller shows what is stored now
    except Conflict as exc:
        return form_again({conflict_field: [str(exc)]}), 409
    return back_to_lesion(lesion_id, message)


def back_to_lesion(lesion_id: int, message: str, *, also: Sequence[int] = (),
                   anchor: str | None = "observations") -> Response:
    """After a change of a lesion's data: its assessment (and `also`'s) queued, the person
    back on its page (at `anchor`) with `message`."""
    dispatch.request_assessment([*also, lesion_id])
    flash(message, "success")
    return redirect(url_for("lesions.show", lesion_id=lesion_id, _anchor=anchor))


@bp.route("/observations/<int:observation_id>/edit", methods=["GET", "POST"])
@requires(Permission.CORRECT_OWN, entry="observation")
def edit_observation(observation_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    row = load_observation(session, observation_id)
    lesion = row.lesion
    if request.method != "POST":
        return _form(lesion, form_from_observation(row), {}, observation_id, row.version)
    raw = observation_from_form(request.form)
    version = row.version

    def write() -> tuple[int, str]:
        nonlocal version
        version = posted_version()
        reason, obs = _correction(raw, lesion)
        stored = records.update_observation(session, observation_id, obs, actor=actor(),
                                            reason=reason, expected_version=version)
        # Its lesion as locked by the service: a split or merge may have moved it meanwhile.
        return stored.lesion_id, (f"Observation of {obs.date} corrected; stage pending until "
                                  "re-assessed.")

    try:
        return _submitted(write, lambda errors: _form(lesion, form_values(request.form), errors,
                                                      observation_id, version), "date")
    except StaleVersion as exc:
        return _stale(observation_id, exc)


def _correction(raw: dict[str, Any], lesion: Lesion) -> tuple[str, ObservationIn]:
    """The corrected observation and the reason for it, every problem of both at once."""
    problems = []
    reason = ""
    try:
        reason = correction_reason(request.form)
    except InvalidInput as exc:
        problems += exc.problems
    try:
        obs = validate_observation(raw, today=today(), birth_year=lesion.patient.birth_year,
                                   event_date=lesion.event_date)
    except InvalidInput as exc:
        problems += exc.problems
    if problems:
        raise InvalidInput(problems)
    return reason, obs


@bp.post("/observations/<int:observation_id>/delete")
@requires(Permission.CORRECT_OWN, entry="observation")
def delete_observation(observation_id: int) -> Response | tuple[str, int]:
    try:
        version = posted_version()
        # the page always gives a reason (a missing one is blank): the service refuses it
        lesion_id = records.delete_observation(get_session(), observation_id, actor=actor(),
                                               reason=request.form.get("reason", ""),
                                               expected_version=version)
    except StaleVersion as exc:
        return _stale(observation_id, exc)
    except InvalidInput as exc:
        flash(f"Observation not removed: {exc}", "error")
        return redirect(url_for("lesions.edit_observation", observation_id=observation_id))
    return back_to_lesion(lesion_id, "Observation removed; stage pending until re-assessed.")


# --------------------------------------------------------------------------- treatments


def _treatment_form(lesion: Lesion, values: dict[str, Any], errors: dict[str, list[str]],
                    treatment_id: int | None = None) -> str:
    return render_template("lesions/treatment_form.html", lesion=lesion,
                           caption=lesion_caption(lesion), values=values, errors=errors,
                           choices=CHOICES, treatment_id=treatment_id, today=today())


@bp.route("/lesions/<int:lesion_id>/treatments/new", methods=["GET", "POST"])
@requires(Permission.RECORD)
def new_treatment(lesion_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    if request.method != "POST":
        return _treatment_form(lesion, {"date": today().isoformat(), "kind": "", "note": ""}, {})

    def write() -> tuple[int, str]:
        row = treatments.record_treatment(session, lesion_id, _posted_treatment(lesion),
                                          actor=actor())
        return lesion_id, (f"Treatment of {row.date} saved; stages are pending until the "
                           "lesion is re-assessed.")

    return _submitted(write, lambda errors: _treatment_form(
        lesion, treatment_form_values(request.form), errors), "kind", TREATMENT_FIELDS)


def _posted_treatment(lesion: Lesion) -> TreatmentIn:
    return validate_treatment(treatment_from_form(request.form), today=today(),
                              birth_year=lesion.patient.birth_year, event_date=lesion.event_date)


@bp.route("/treatments/<int:treatment_id>/edit", methods=["GET", "POST"])
@requires(Permission.CORRECT_OWN, entry="treatment")
def edit_treatment(treatment_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    row = load_treatment(session, treatment_id)
    lesion = row.lesion
    if request.method != "POST":
        return _treatment_form(lesion, form_from_treatment(row), {}, treatment_id)

    def write() -> tuple[int, str]:
        treatment = _posted_treatment(lesion)
        stored = treatments.update_treatment(session, treatment_id, treatment, actor=actor())
        # Its lesion as locked by the service: a merge may have moved it meanwhile.
        return stored.lesion_id, (f"Treatment of {treatment.date} corrected; stages pending "
                                  "until re-assessed.")

    return _submitted(write, lambda errors: _treatment_form(
        lesion, treatment_form_values(request.form), errors, treatment_id), "kind",
        TREATMENT_FIELDS)


@bp.post("/treatments/<int:treatment_id>/delete")
@requires(Permission.CORRECT_OWN, entry="treatment")
def delete_treatment(treatment_id: int) -> Response | tuple[str, int]:
    session = get_session()
    try:
        lesion_id = treatments.delete_treatment(session, treatment_id, actor=actor(),
                                                reason=request.form.get("reason"))
    except InvalidInput as exc:
        row = load_treatment(session, treatment_id)
        return _treatment_form(row.lesion, form_from_treatment(row),
                               field_errors(exc.problems, ("reason",)), treatment_id), 400
    return back_to_lesion(lesion_id, "Treatment removed; stages pending until re-assessed.")
