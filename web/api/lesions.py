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
from web.api.blueprint import operation, with_images
from web.auth import actor
from web.db import get_session
from workers import dispatch


@operation("GET", "/lesions/<int:lesion_id>", Permission.READ,
           "lesions", "A lesion with its observations and assessment",
           gives=schemas.LesionOut)
def get_lesion(lesion_id: int) -> dict[str, Any]:
    out = lesion_json(lesion_with_everything(get_session(), lesion_id))
    with_images(out["observations"])
    return out


@operation("GET", "/lesions/<int:lesion_id>/assessment", Permission.READ,
           "assessments", "The lesion's latest assessment, stage per observation",
           "`status` is `pending` while the data changed since the last assessment; stages are "
           "then `pending` too.",
           gives=schemas.AssessmentDetailOut)
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


@operation("POST", "/lesions/<int:lesion_id>/merge", Permission.IDENTITY,
           "lesions", "Merge another lesion of the patient into this one",
           "Observations combined; for each date both lesions have a visit, `prefer` says which "
           "stays (409 lists the dates when it does not). Audited with everything needed to undo "
           "it; both re-assessed.",
           {409: "Same-date visits without a choice, or lesions of different patients"},
           takes=schemas.MergeIn, arg="data", gives=schemas.LesionOut)
def merge_lesion(lesion_id: int, data: schemas.MergeIn) -> dict[str, Any]:
    identity.merge_lesions(get_session(), lesion_id, data.other,
                           prefer=parse_prefer(data.prefer), actor=actor(), reason=data.reason)
    return _reassessed(lesion_id)


@operation("POST", "/lesions/<int:lesion_id>/split", Permission.IDENTITY,
           "lesions", "Move chosen observations to a new lesion",
           "The new lesion has the same patient, site and entity. Audited; both re-assessed.",
           {409: "The new lesion id is taken, or every observation would move"},
           takes=schemas.SplitIn, arg="data", gives=schemas.LesionOut, status=201)
def split_lesion(lesion_id: int, data: schemas.SplitIn) -> tuple[dict[str, Any], int]:
    site = checked_site(data.site.model_dump(), prefix="site.") if data.site else None
    new = identity.split_lesion(get_session(), lesion_id, data.observations,
                                new_external_id=data.new_lesion, actor=actor(),
                                reason=data.reason, site=site,
                                divide={d.observation: (d.new_size_mm, d.remaining_size_mm)
                                        for d in data.divide})
    return _reassessed(new.id, lesion_id), 201


@operation("PATCH", "/lesions/<int:lesion_id>", Permission.IDENTITY,
           "lesions", "Correct the lesion's site (compartment, region, structure, laterality)",
           "Its id stays. `version` is the lesion's version as read; a change since answers 412 "
           "and writes nothing. Audited before -> after with the reason; re-assessed.",
           {412: "The lesion changed since `version`"},
           takes=schemas.SiteCorrectionIn, arg="data", gives=schemas.LesionOut)
def correct_lesion_site(lesion_id: int, data: schemas.SiteCorrectionIn) -> dict[str, Any]:
    identity.correct_site(get_session(), lesion_id, data.site.model_dump(), actor=actor(),
                          reason=data.reason, expected_version=data.version)
    return _reassessed(lesion_id)


def _reassessed(lesion_id: int, *also: int) -> dict[str, Any]:
    """After an identity change: the lesion's (and `also`'s) assessment queued, the lesion
    answered as it is now (stages pending)."""
    dispatch.request_assessment([*also, lesion_id])
    return lesion_json(lesion_with_everything(get_session(), lesion_id))
