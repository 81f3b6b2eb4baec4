"""`/api/v1/patients`: the patient list, one patient's record, and its FHIR Bundle."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from werkzeug.wrappers import Response

from tracker.interop.fhir import bundle_json, patient_bundle
from tracker.queries.columns import columns_json
from tracker.queries.patient_list import PatientRow, patient_list
from tracker.queries.show import patient_record
from tracker.services.users import Permission
from web import schemas
from web.api.blueprint import keyset_page_json, operation, with_images
from web.db import get_session


@operation("GET", "/patients", Permission.READ,
           "patients", "List patients, those needing attention first",
           "Most open urgent alerts first, then warning, then info, then the patient id. Page on "
           "with `after` (the `next` of the page before): it seeks in the list's order, so a page "
           "costs the same at any depth. `total` is exact up to 10,000 (`total_exact`).",
           takes=schemas.PatientQuery, location="query", arg="query", gives=schemas.PatientListOut)
def list_patients(query: schemas.PatientQuery) -> dict[str, Any]:
    page = patient_list(get_session(), search=query.q, after=query.after, page=query.page,
                        per_page=query.per_page)
    return {**keyset_page_json(page, _patient_row), "total_exact": page.total_exact}


def _patient_row(r: PatientRow) -> dict[str, Any]:
    return {"id": r.external_id, "birth_year": r.birth_year, "sex": r.sex, "lesions": r.lesions,
            "open_alerts": {"urgent": r.urgent, "warning": r.warning, "info": r.info},
            "pending_assessments": r.pending,
            **columns_json(r, "last_visit", "next_follow_up")}


@operation("GET", "/patients/<external_id>", Permission.READ,
           "patients", "A patient's lesions, stages, transitions and open alerts",
           gives=schemas.PatientRecordOut)
def get_patient(external_id: str) -> dict[str, Any]:
    record = patient_record(get_session(), external_id)
    for lesion in record["lesions"]:
        with_images(lesion["observations"])
    return record


@operation("GET", "/patients/<external_id>/fhir", Permission.READ,
           "patients", "Export one patient as a FHIR R5 collection Bundle",
           "Patient, a BodyStructure per lesion, Observations (measurements and stages), "
           "ImagingStudy, Flags (open alerts), ServiceRequests (next follow-up). Content type "
           "application/fhir+json.",
           {200: {"description": "A FHIR R5 Bundle (type collection)",
                  "content": {"application/fhir+json": {"schema": {"type": "object"}}}}},
           takes=schemas.FhirQuery, location="query", arg="query")
def export_patient_fhir(external_id: str, query: schemas.FhirQuery) -> Response:
    bundle = bundle_json(patient_bundle(
        patient_record(get_session(), external_id),
        patient_system=current_app.config.get("PATIENT_IDENTIFIER_SYSTEM")))
    return current_app.response_class(json.dumps(bundle, ensure_ascii=False),
                                      mimetype="application/fhir+json")
