"""Treatments, responses and the revision-2 alerts on the lesion page, the worklist, the forms
and `/api/v1` (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tests.web.conftest import Client
from tests.web.seed import LAVAGE_NOTE, assess, seed_patient, seed_treated_lesion
from tracker.models import AuditEvent, Lesion, Observation, Treatment

Login = Callable[[str | None], Client]


def treatments_of(session: Session, lesion_id: int) -> list[tuple[str, str, str | None]]:
    session.expire_all()
    return [(t.date.isoformat(), t.kind, t.note) for t in session.scalars(
        select(Treatment).where(Treatment.lesion_id == lesion_id).order_by(Treatment.date,
                                                                            Treatment.id))]


def test_lesion_page_lists_treatments_responses_and_the_new_alert(login: Login,
                                                                  session: Session) -> None:
    lesion_id = seed_treated_lesion(session)
    page = login("clinician").get(f"/lesions/{lesion_id}").text
    # treatments in the observation list, in date order, after the visit before them
    table = page[page.index('<table class="observations">'):]
    order = [table.index(s) for s in ("2024-01-10", "US-guided needling / lavage (barbotage)",
                                      "Extracorporeal shock-wave therapy", "2024-04-29")]
    assert order == sorted(order)
    assert "US-guided, two needles &lt;b&gt;" in page and LAVAGE_NOTE not in page  # escaped
    # the response per observation, once stored
    assert "Response" in page and "-14.3% vs 2024-01-10" in page and "+8.3% vs nadir" in page
    assert page.count('class="badge resp-stable"') == 3
    # the new alert with its label, reason and rule
    assert "No response to treatment" in page
    assert "deposit 12.0 mm 3 months after lavage (14.0 mm before): less than 30% smaller" in page
    assert "hadd.no_treatment_response" in page
    assert "rules revision 2" in page
    # a measurement-only visit: morphology marked as not assessed
    assert "not assessed" in page
    # clinicians record (an orthopaedist on their own films) but correct only their own entries
    assert "Record treatment" in page and "/treatments/" not in page.split("Record treatment")[1]


def test_untreated_lesion_page_has_no_response_column(login: Login, session: Session) -> None:
    ids = seed_patient(session)
    page = login("radiologist").get(f"/lesions/{ids[0]}").text
    assert "Response" not in page and "treatment-row" not in page
    assert "Record treatment" in page


def test_worklist_filters_include_the_new_alert_kinds(login: Login, session: Session) -> None:
    lesion = make_lesion(session, patient=make_patient(session), compartment="soft_tissue",
                         region="thigh", entity=None, observations=[obs("2024-01-10", 20)])
    assess(session, lesion.id, ["ho_early"], alerts=[
        {"kind": "unexplained_mass", "severity": "warning", "since": date(2024, 3, 10)},
        {"kind": "model_changed", "severity": "info", "since": date(2024, 1, 10)},
    ])
    seed_treated_lesion(session)
    client = login("clinician")
    worklist = client.get("/alerts").text
    for kind, text in (("no_treatment_response", "No response to treatment"),
                       ("unexplained_mass", "Unexplained soft-tissue mass"),
                       ("model_changed", "Stage model changed")):
        assert f'value="{kind}"' in worklist, kind
        assert text in worklist, text
        only = client.get(f"/alerts?kind={kind}").text
        assert only.count('class="row-sev-') == 1, kind
        assert f"reason for {kind}" in only or kind == "no_treatment_response"


def _form(**kw: str) -> dict[str, str]:
    return {"date": "2024-08-01", "kind": "injection", "note": "subacromial", **kw}


def test_radiologist_records_edits_and_deletes_a_treatment(
    login: Login, session: Session, queued: list[list[int]]
) -> None:
    lesion_id = seed_treated_lesion(session)
    client = login("radiologist")
    form = client.get(f"/lesions/{lesion_id}/treatments/new").text
    assert 'name="csrf_token"' in form and "Corticosteroid injection" in form

    bad = client.post(f"/lesions/{lesion_id}/treatments/new",
                      _form(date="2999-01-01", kind="massage", note="x" * 2001))
    assert bad.status_code == 400
    for message in ("2999-01-01 is in the future", "is not a treatment kind code",
                    "is 2001 characters; at most 2000 allowed"):
        assert message in bad.text, message
    assert 'id="err-date"' in bad.text and 'id="err-kind"' in bad.text
    assert 'aria-invalid="true"' in bad.text and "Nothing was saved" in bad.text
    early = client.post(f"/lesions/{lesion_id}/treatments/new", _form(date="1970-06-01"))
    assert early.status_code == 400 and "before the patient&#39;s birth year 1971" in early.text
    twice = client.post(f"/lesions/{lesion_id}/treatments/new", _form(date="2024-01-22",
                                                                       kind="lavage"))
    assert twice.status_code == 409 and "lavage on 2024-01-22 is also" in twice.text
    assert queued == [] and len(treatments_of(session, lesion_id)) == 2

    ok = client.post(f"/lesions/{lesion_id}/treatments/new", _form())
    assert ok.status_code == 302 and ok.headers["Location"].endswith("#observations")
    assert queued == [[lesion_id]]
    assert ("2024-08-01", "injection", "subacromial") in treatments_of(session, lesion_id)
    page = client.get(f"/lesions/{lesion_id}").text
    assert "Assessment pending" in page and "Corticosteroid injection" in page

    tid = session.scalar(select(Treatment.id).where(Treatment.kind == "injection"))
    edit = client.get(f"/treatments/{tid}/edit").text
    assert 'value="2024-08-01"' in edit and "subacromial" in edit
    clash = client.post(f"/treatments/{tid}/edit", _form(date="2024-01-22", kind="eswt"))
    assert clash.status_code == 409
    fixed = client.post(f"/treatments/{tid}/edit", _form(date="2024-08-02"))
    assert fixed.status_code == 302 and queued[-1] == [lesion_id]
    refused = client.post(f"/treatments/{tid}/delete", {"reason": "  "})
    assert refused.status_code == 400 and "say briefly why this treatment is removed" in \
        refused.text
    assert session.get(Treatment, tid) is not None and len(queued) == 2
    gone = client.post(f"/treatments/{tid}/delete", {"reason": "entered on the wrong lesion"})
    assert gone.status_code == 302 and queued[-1] == [lesion_id]
    assert session.get(Treatment, tid) is None
    events = session.execute(select(AuditEvent.action, AuditEvent.reason)
                             .where(AuditEvent.target_type == "treatment")
                             .order_by(AuditEvent.id)).all()
    assert [tuple(e) for e in events] == [("treatment.record", None),
                                          ("treatment.update", None),
                                          ("treatment.delete", "entered on the wrong lesion")]
    history = client.get(f"/lesions/{lesion_id}/history").text
    assert "entered on the wrong lesion" in history


def test_others_treatments_need_a_radiologist_and_a_csrf_token(login: Login, session: Session,
                                                               app: Any) -> None:
    lesion_id = seed_treated_lesion(session)
    tid = session.scalar(select(Treatment.id))
    clinician = login("clinician")
    assert clinician.get(f"/lesions/{lesion_id}/treatments/new").status_code == 200
    assert clinician.get(f"/treatments/{tid}/edit").status_code == 403
    assert clinician.post(f"/treatments/{tid}/delete", {"reason": "x"}).status_code == 403
    radiologist = login("radiologist")
    forged = radiologist.client.post(f"/treatments/{tid}/delete")  # no csrf_token
    assert forged.status_code == 400
    assert len(treatments_of(session, lesion_id)) == 2


def test_api_treatment_create_update_delete(api: Any, session: Session,
                                            queued: list[list[int]]) -> None:
    lesion_id = seed_treated_lesion(session)
    r = api("POST", f"/api/v1/lesions/{lesion_id}/treatments",
            json={"date": "2024-08-01", "kind": "nsaid"})
    assert r.status_code == 201, r.json
    assert r.json == {"id": r.json["id"], "date": "2024-08-01", "kind": "nsaid", "note": None}
    assert r.headers["Location"].endswith(f"/api/v1/lesions/{lesion_id}")
    tid = r.json["id"]
    bad = api("POST", f"/api/v1/lesions/{lesion_id}/treatments",
              json={"date": "2024-13-01", "kind": "nsaid", "dose": 3})
    assert bad.status_code == 400
    assert {e["path"] for e in bad.json["errors"]} == {"date", "dose"}
    dup = api("POST", f"/api/v1/lesions/{lesion_id}/treatments",
              json={"date": "2024-08-01", "kind": "nsaid"})
    assert dup.status_code == 409
    r = api("PUT", f"/api/v1/treatments/{tid}",
            json={"date": "2024-08-01", "kind": "radiotherapy", "note": "7 Gy"})
    assert r.status_code == 200 and r.json["kind"] == "radiotherapy" and r.json["note"] == "7 Gy"
    lesion = api("GET", f"/api/v1/lesions/{lesion_id}").json
    assert [t["kind"] for t in lesion["treatments"]] == ["lavage", "eswt", "radiotherapy"]
    assert lesion["assessment"]["status"] == "pending"
    refused = api("DELETE", f"/api/v1/treatments/{tid}")
    assert refused.status_code == 400 and refused.json["errors"][0]["path"] == "reason"
    assert api("GET", f"/api/v1/lesions/{lesion_id}").json["treatments"][-1]["id"] == tid
    assert api("DELETE", f"/api/v1/treatments/{tid}?reason=duplicate").status_code == 204
    assert api("DELETE", f"/api/v1/treatments/{tid}?reason=duplicate").status_code == 404
    assert api("POST", "/api/v1/lesions/999999/treatments",
               json={"date": "2024-08-01", "kind": "nsaid"}).status_code == 404
    assert len(queued) == 3


def test_api_shows_responses_event_kind_and_rules_revision(api: Any, session: Session) -> None:
    fresh = seed_treated_lesion(session)
    lesion = session.get(Lesion, fresh)
    assert lesion is not None
    lesion.event_date, lesion.event_kind = date(2023, 12, 1), "injection"
    session.commit()
    doc = api("GET", f"/api/v1/lesions/{fresh}").json
    assert (doc["event_date"], doc["event_kind"]) == ("2023-12-01", "injection")
    assert doc["assessment"]["rules_revision"] == 2
    assert [o["response"] for o in doc["observations"]][:2] == [
        None, {"baseline": "2024-01-10", "change_pct": -14.3, "nadir_change_pct": -14.3,
               "category": "stable"}]
    last = doc["observations"][-1]
    assert (last["study_uid"], last["accession"]) == ("1.2.840.113619.2.1", "RX123")
    assert last["density"] is None and last["margin"] is None  # not assessed
    stages = api("GET", f"/api/v1/lesions/{fresh}/assessment").json["stages"]
    assert stages[2]["response"]["nadir_change_pct"] == 8.3
    assert doc["treatments"][0] == {"id": doc["treatments"][0]["id"], "date": "2024-01-22",
                                    "kind": "lavage", "note": LAVAGE_NOTE}


def test_openapi_documents_the_treatment_routes(api: Any) -> None:
    spec = api("GET", "/api/v1/openapi.json").json
    paths = spec["paths"]
    create = paths["/api/v1/lesions/{lesion_id}/treatments"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TreatmentIn"}
    assert {"201", "400", "404", "409"} <= set(create["responses"])
    assert {"put", "delete"} <= set(paths["/api/v1/treatments/{treatment_id}"])
    schemas = spec["components"]["schemas"]
    kind = create_kind = schemas["TreatmentIn"]["properties"]["kind"]["$ref"].rsplit("/", 1)[1]
    assert schemas[kind]["enum"][0] == "lavage" and create_kind.endswith("TreatmentKind")
    assert "response" in schemas["ObservationOut"]["properties"]
    assert "treatments" in schemas["LesionOut"]["properties"]


def test_counts_unchanged_by_a_rejected_treatment(api: Any, session: Session) -> None:
    lesion_id = seed_treated_lesion(session)
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    r = api("POST", f"/api/v1/lesions/{lesion_id}/treatments", data="{not json",
            headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["errors"][0]["path"].startswith("line 1")
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_observation_form_takes_study_ids_and_unassessed_morphology(
    login: Login, session: Session, queued: list[list[int]]
) -> None:
    ids = seed_patient(session)
    client = login("radiologist")
    url = f"/lesions/{ids[0]}/observations/new"
    assert 'name="study_uid"' in client.get(url).text
    form = {"date": "2024-12-01", "modality": "CT", "visible": "yes",
            "size_mm": ["7", "", ""], "study_uid": "1.2.040", "accession": "A\\1"}
    bad = client.post(url, form)
    assert bad.status_code == 400
    assert 'id="err-study_uid"' in bad.text and 'id="err-accession"' in bad.text
    assert "is not a DICOM StudyInstanceUID" in bad.text
    assert "may not contain a backslash" in bad.text
    ok = client.post(url, {**form, "study_uid": "1.2.40", "accession": "CT-77"})
    assert ok.status_code == 302, ok.text
    row = session.scalar(select(Observation).where(Observation.date == date(2024, 12, 1)))
    assert row is not None and (row.study_uid, row.accession) == ("1.2.40", "CT-77")
    assert row.density is None and row.margin is None
    edit = client.get(f"/observations/{row.id}/edit").text
    assert 'value="1.2.40"' in edit and 'value="CT-77"' in edit
    page = client.get(f"/lesions/{ids[0]}").text
    assert "Complete morphology" in page
