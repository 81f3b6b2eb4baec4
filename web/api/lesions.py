"""`/api/v1/lesions`: a lesion, its assessment, and its identity (merge, split)."""

from __future__ import annotations

from typing import Any

from reporting.words import stage_label
from tracker.queries.lesion import lesion_with_everything
from tracker.queries.show import lesion_json
from tracker.services import identity
from tracker.services.identity import parse_prefer
from tracker.services.users import Permission
from tracker.timeline.site import checked_site
from web import schemas
from web.api.blueprint import bp, doc, with_images
from web.auth import actor, requires
from web.db import get_session
from workers import dispatch


@bp.get("/lesions/<int:lesion_id>")
@requires(Permission.READ)
@bp.output(schemas.LesionOut)
@doc("lesions", "A lesion with its observations and assessment")
def get_lesion(lesion_id: int) -> dict[str, Any]:
    out = lesion_json(lesion_with_everything(get_session(), lesion_id))
    with_images(out["observations"])
    return out


@bp.get("/lesions/<int:lesion_id>/assessment")
@requires(Permission.READ)
@bp.output(schemas.AssessmentDetailOut)
@doc("assessments", "The lesion's latest assessment, stage per observation",
     "`status` is `pending` while the data changed since the last assessment; stages are then "
     "`pending` too.")
def get_assessment(lesion_id: int) -> dict[str, Any]:
    lesion = lesion_with_everything(get_session(), lesion_id)
    out = lesion_json(lesion)
    stages = [
        {**{k: o[k] for k in ("id", "date", "stage", "resolution", "confidence", "evidence",
                              "classifications", "response") if k in o},
         "stage_label": stage_label(o["stage"], o.get("resolution"))}
        for o in out["observations"]
    ]
    return {**out["assessment"], "lesion_id": lesion.id, "stages": stages,
            "transitions": out["transitions"], "alerts": out["alerts"]}


@bp.post("/lesions/<int:lesion_id>/merge")
@requires(Permission.IDENTITY)
@bp.input(schemas.MergeIn, arg_name="data")
@bp.output(schemas.LesionOut)
@doc("lesions", "Merge another lesion of the patient into this one",
     "Observations combined; for each date both lesions have a visit, `prefer` says which "
     "stays (409 lists the dates when it does not). Audited with everything needed to undo it; "
     "both re-assessed.",
     {409: "Same-date visits without a choice, or lesions of different patients"})
def merge_lesion(lesion_id: int, data: schemas.MergeIn) -> dict[str, Any]:
    session = get_session()
    identity.merge_lesions(session, lesion_id, data.other, prefer=parse_prefer(data.prefer),
                           actor=actor(), reason=data.reason)
    dispatch.request_assessment([lesion_id])
    return lesion_json(lesion_with_everything(session, lesion_id))


@bp.post("/lesions/<int:lesion_id>/split")
@requires(Permission.IDENTITY)
@bp.input(schemas.SplitIn, arg_name="data")
@bp.output(schemas.LesionOut, status_code=201)
@doc("lesions", "Move chosen observations to a new lesion",
     "The new lesion has the same patient, site and entity. Audited; both re-assessed.",
     {409: "The new lesion id is taken, or every observation would move"})
def split_lesion(lesion_id: int, data: schemas.SplitIn) -> tuple[dict[str, Any], int]:
    session = get_session()
    site = checked_site(data.site.model_dump(), prefix="site.") if data.site else None
    new = identity.split_lesion(session, lesion_id, data.observations,
                                new_external_id=data.new_lesion, actor=actor(),
                                reason=data.reason, site=site,
                                divide={d.observation: (d.new_size_mm, d.remaining_size_mm)
                                        for d in data.divide})
    dispatch.request_assessment([lesion_id, new.id])
    return lesion_json(lesion_with_everything(session, new.id)), 201


@bp.patch("/lesions/<int:lesion_id>")
@requires(Permission.IDENTITY)
@bp.input(schemas.SiteCorrectionIn, arg_name="data")
@bp.output(schemas.LesionOut)
@doc("lesions", "Correct the lesion's site (compartment, region, structure, laterality)",
     "Its id stays. `version` is the lesion's version as read; a change since answers 412 "
     "and writes nothing. Audited before -> after with the reason; re-assessed.",
     {412: "The lesion changed since `version`"})
def correct_lesion_site(lesion_id: int, data: schemas.SiteCorrectionIn) -> dict[str, Any]:
    session = get_session()
    identity.correct_site(session, lesion_id, data.site.model_dump(), actor=actor(),
                          reason=data.reason, expected_version=data.version)
    dispatch.request_assessment([lesion_id])
    return lesion_json(lesion_with_everything(session, lesion_id))
