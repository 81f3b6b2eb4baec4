"""`/api/v1/.../treatments`: record, correct and remove a lesion's treatments."""

from __future__ import annotations

from typing import Any

from flask import url_for

from tracker.models import Treatment
from tracker.queries.lookup import load_lesion, load_treatment
from tracker.services import treatments
from tracker.services.users import Permission
from tracker.timeline.models import TreatmentIn
from web import schemas
from web.api.blueprint import check_against, operation, stored_part
from web.auth import actor
from web.db import get_session
from workers import dispatch

SAME_KIND_DAY: Any = {409: "The lesion already has a treatment of that kind on that date"}


def _treatment_out(treatment_id: int) -> dict[str, Any]:
    """The treatment as stored now, from the lesion that holds it now (a merge moves it)."""
    return stored_part("treatments", Treatment, treatment_id)


@operation("POST", "/lesions/<int:lesion_id>/treatments", Permission.RECORD,
           "treatments", "Record a treatment of the lesion",
           "Validated like a treatment inside a timeline (date not in the future, not before the "
           "birth year or the event date). One treatment of a kind per lesion per day (409). The "
           "lesion is re-assessed: stages are `pending` until then.", SAME_KIND_DAY,
           takes=TreatmentIn, arg="treatment", gives=schemas.TreatmentOut, status=201)
def create_treatment(lesion_id: int, treatment: TreatmentIn
                     ) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    check_against(load_lesion(session, lesion_id), treatment)
    row = treatments.record_treatment(session, lesion_id, treatment, actor=actor())
    dispatch.request_assessment([lesion_id])
    location = url_for("api.get_lesion", lesion_id=lesion_id)
    return _treatment_out(row.id), 201, {"Location": location}


@operation("PUT", "/treatments/<int:treatment_id>", Permission.CORRECT_OWN,
           "treatments", "Correct a treatment (replaces every field)", responses=SAME_KIND_DAY,
           takes=TreatmentIn, entry="treatment", arg="treatment", gives=schemas.TreatmentOut)
def update_treatment(treatment_id: int, treatment: TreatmentIn) -> dict[str, Any]:
    session = get_session()
    check_against(load_treatment(session, treatment_id).lesion, treatment)
    row = treatments.update_treatment(session, treatment_id, treatment, actor=actor())
    dispatch.request_assessment([row.lesion_id])  # as locked: a merge may have moved it
    return _treatment_out(treatment_id)


@operation("DELETE", "/treatments/<int:treatment_id>", Permission.CORRECT_OWN,
           "treatments", "Remove a treatment recorded in error",
           "`reason` (query) is required and kept in the audit; without it, 400 and nothing "
           "removed.",
           takes=schemas.RemovalQuery, entry="treatment", location="query", arg="query", gives={},
           status=204)
def delete_treatment(treatment_id: int, query: schemas.RemovalQuery) -> tuple[str, int]:
    lesion_id = treatments.delete_treatment(get_session(), treatment_id, actor=actor(),
                                            reason=query.reason)
    dispatch.request_assessment([lesion_id])
    return "", 204
