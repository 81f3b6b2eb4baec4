"""`/api/v1`: shapes, validation errors with the CLI's paths, 404/409, import/export, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.web.seed import seed_patient
from tracker.errors import Problem
from tracker.models import Alert, AuditEvent, Observation, Patient
from web.api import timelines

GOOD = {"date": "2024-12-01", "modality": "XR", "size_mm": [7.5], "density": "faint",
        "margin": "ill_defined", "features": ["comet_tail"], "pain": 3}


def test_patients_and_lesions(api: Any, session: Session) -> None:
    ids = seed_patient(session)
    listing = api("GET", "/api/v1/patients").json
    assert listing["total"] == 1
    item = listing["items"][0]
    assert item["id"] == "P-0001" and item["open_alerts"] == {"urgent": 0, "warning": 1, "info": 0}
    assert item["pending_assessments"] == 1 and item["last_visit"] == "2024-09-15"
    record = api("GET", "/api/v1/patients/P-0001").json
    assert record["format"] == "calcitrack-patient/1" and len(record["lesions"]) == 2
    lesion = api("GET", f"/api/v1/lesions/{ids[0]}").json
    assert lesion["assessment"]["stage"] == "resorptive"
    assert lesion["transitions"][0]["from"] == "formative"
    assessment = api("GET", f"/api/v1/lesions/{ids[1]}/assessment").json
    assert assessment["status"] == "pending"
    assert {s["stage"] for s in assessment["stages"]} == {"pending"}
    missing = api("GET", "/api/v1/patients/NOPE")
    assert missing.status_code == 404 and missing.json == {
        "errors": [{"path": "", "message": "patient NOPE does not exist"}]}
    assert api("GET", "/api/v1/patients?per_page=0").json["errors"][0]["path"] == "per_page"
    assert listing["total_exact"] is True and listing["next"] is None
    seed_patient(session, "P-0002")
    one = api("GET", "/api/v1/patients?per_page=1").json
    assert [i["id"] for i in one["items"]] == ["P-0001"] and one["total"] == 2
    two = api("GET", f"/api/v1/patients?per_page=1&after={one['next']}").json
    assert [i["id"] for i in two["items"]] == ["P-0002"] and two["next"] is None
    bad = api("GET", "/api/v1/patients?after=not-a-position")
    assert bad.status_code == 400 and bad.json["errors"][0]["path"] == "after"
    typo = api("GET", "/api/v1/patients?per-page=5")
    assert typo.status_code == 400 and typo.json["errors"] == [
        {"path": "per-page", "message": 'unknown key "per-page"'}]


def test_observation_create_update_delete(api: Any, session: Session,
                                          queued: list[list[int]]) -> None:
    ids = seed_patient(session)
    r = api("POST", f"/api/v1/lesions/{ids[0]}/observations", json=GOOD)
    assert r.status_code == 201, r.json
    assert r.json["stage"] == "pending" and r.json["size_mm"] == [7.5]
    obs_id = r.json["id"]
    assert r.headers["Location"].endswith(f"/api/v1/observations/{obs_id}")
    assert r.headers["ETag"] == '"1"' and r.json["version"] == 1
    assert queued == [[ids[0]]]
    conflict = api("POST", f"/api/v1/lesions/{ids[0]}/observations", json=GOOD)
    assert conflict.status_code == 409
    assert "already has an observation on 2024-12-01" in conflict.json["errors"][0]["message"]
    got = api("GET", f"/api/v1/observations/{obs_id}")
    assert got.status_code == 200 and got.json["pain"] == 3 and got.headers["ETag"] == '"1"'
    r = api("PUT", f"/api/v1/observations/{obs_id}", json={**GOOD, "pain": 5},
            headers={"If-Match": got.headers["ETag"]})
    assert r.status_code == 200 and r.json["pain"] == 5 and r.headers["ETag"] == '"2"'
    assert api("DELETE", f"/api/v1/observations/{obs_id}",
               headers={"If-Match": '"2"'}).status_code == 204
    assert api("DELETE", f"/api/v1/observations/{obs_id}",
               headers={"If-Match": '"2"'}).status_code == 404
    assert api("GET", f"/api/v1/observations/{obs_id}").status_code == 404
    assert api("POST", "/api/v1/lesions/999999/observations", json=GOOD).status_code == 404
    assert len(queued) == 3
    actors = set(session.scalars(
        select(AuditEvent.actor).where(AuditEvent.target_type == "observation")))
    assert actors == {"radiologist (api token)"}


def test_observation_delete_keeps_a_given_reason_and_refuses_a_blank_one(
        api: Any, session: Session, queued: list[list[int]]) -> None:
    """The page's form asks why; an API client may say why too (kept in the audit). A blank
    reason is refused and nothing is removed; none at all is still accepted."""
    ids = seed_patient(session)
    made = [api("POST", f"/api/v1/lesions/{ids[0]}/observations",
                json={**GOOD, "date": day}).json["id"] for day in ("2024-12-01", "2024-12-02")]
    blank = api("DELETE", f"/api/v1/observations/{made[0]}?reason=%20",
                headers={"If-Match": '"1"'})
    assert blank.status_code == 400
    assert blank.json["errors"] == [{"path": "reason",
                                     "message": "say briefly why this observation is removed"}]
    assert api("GET", f"/api/v1/observations/{made[0]}").status_code == 200
    assert api("DELETE", f"/api/v1/observations/{made[0]}?reason=wrong%20patient",
               headers={"If-Match": '"1"'}).status_code == 204
    assert api("DELETE", f"/api/v1/observations/{made[1]}",
               headers={"If-Match": '"1"'}).status_code == 204
    reasons = dict(session.execute(
        select(AuditEvent.target_id, AuditEvent.reason)
        .where(AuditEvent.action == "observation.delete")).tuples().all())
    assert reasons == {made[0]: "wrong patient", made[1]: None}


def test_observation_validation_errors_name_paths(api: Any, session: Session,
                                                  queued: list[list[int]]) -> None:
    ids = seed_patient(session)
    future = (date.today() + timedelta(days=3)).isoformat()
    body = {"date": future, "modality": "PET", "size_mm": [3, 0], "density": "dense",
            "margin": "ill_defined", "pain": 11, "colour": "blue"}
    r = api("POST", f"/api/v1/lesions/{ids[0]}/observations", json=body)
    assert r.status_code == 400
    paths = {e["path"] for e in r.json["errors"]}
    assert {"date", "modality", "size_mm[1]", "pain", "colour"} <= paths
    messages = {e["path"]: e["message"] for e in r.json["errors"]}
    assert messages["colour"] == 'unknown key "colour"'
    assert messages["pain"] == "11 is above 10"
    r = api("POST", f"/api/v1/lesions/{ids[0]}/observations", data="{oops",
            content_type="application/json")
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "line 1 column 2"
    r = api("POST", f"/api/v1/lesions/{ids[0]}/observations", json=[1])
    assert r.status_code == 400 and r.json["errors"][0]["message"] == "expected an object"
    assert queued == []
    assert session.scalar(select(func.count(Observation.id))) == 6


def test_alerts_list_acknowledge_snooze(api: Any, session: Session) -> None:
    seed_patient(session)
    alert_id = session.scalar(select(Alert.id))
    items = api("GET", "/api/v1/alerts").json["items"]
    assert items[0]["patient"] == "P-0001" and items[0]["severity"] == "warning"
    assert api("GET", "/api/v1/alerts?severity=loud").status_code == 400
    assert api("GET", "/api/v1/alerts?severity=").status_code == 400  # as documented: no blank
    r = api("GET", "/api/v1/alerts?123=x&region=moon")  # a key that looks like an index
    assert r.status_code == 400 and [e["path"] for e in r.json["errors"]] == ["region", "123"]
    r = api("GET", "/api/v1/alerts?%2C%5B=1")  # an unknown key that looks like a union branch
    assert r.status_code == 400 and r.json["errors"] == [{"path": ",[",
                                                           "message": 'unknown key ",["'}]
    r = api("POST", f"/api/v1/alerts/{alert_id}/acknowledge", json={"reason": "on it"})
    assert r.status_code == 200 and r.json["state"] == "acknowledged"
    r = api("POST", f"/api/v1/alerts/{alert_id}/snooze", json={"until": "2001-01-01"})
    assert r.status_code == 400
    assert {e["path"] for e in r.json["errors"]} == {"until", "reason"}
    until = (date.today() + timedelta(days=10)).isoformat()
    r = api("POST", f"/api/v1/alerts/{alert_id}/snooze", json={"until": until, "reason": "MR"})
    assert r.status_code == 200 and r.json["snoozed_until"] == until
    assert api("GET", "/api/v1/alerts").json["total"] == 0
    assert api("GET", "/api/v1/alerts?state=snoozed").json["total"] == 1
    assert api("POST", "/api/v1/alerts/999/acknowledge", json={}).status_code == 404
    session.execute(update(Alert).values(state="cleared"))
    session.commit()
    assert api("POST", f"/api/v1/alerts/{alert_id}/acknowledge", json={}).status_code == 409


def test_timeline_import_export_roundtrip(api: Any, session: Session,
                                          queued: list[list[int]]) -> None:
    doc = {"format": "lesion-timeline/1", "patients": [{"id": "T-1", "birth_year": 1970,
           "lesions": [{"id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                                              "laterality": "right"},
                        "observations": [{"date": "2024-01-10", "modality": "XR",
                                          "size_mm": [14.0], "density": "dense",
                                          "margin": "well_defined"}]}]}]}
    bad = json.loads(json.dumps(doc))
    bad["patients"][0]["lesions"][0]["observations"][0]["date"] = "1960-01-01"
    r = api("POST", "/api/v1/timelines", data=json.dumps(bad), content_type="application/json")
    assert r.status_code == 400
    assert r.json["errors"][0]["path"] == "patients[0].lesions[0].observations[0].date"
    assert session.scalar(select(func.count(Patient.id))) == 0
    r = api("POST", "/api/v1/timelines", data=json.dumps(doc), content_type="application/json")
    assert r.status_code == 200 and r.json["patients_created"] == 1 and len(queued) == 1
    assert api("GET", "/api/v1/patients/T-1/timeline").json == doc
    assert api("GET", "/api/v1/timelines").json == doc


def test_openapi_document_and_offline_docs(app: Any) -> None:
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/v1/patients", "/api/v1/lesions/{lesion_id}/observations",
                 "/api/v1/alerts/{alert_id}/snooze", "/api/v1/timelines",
                 "/api/v1/observations/{observation_id}"):
        assert path in paths, path
    create = paths["/api/v1/lesions/{lesion_id}/observations"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ObservationIn")
    assert {"400", "404", "409", "201"} <= set(create["responses"])
    assert "ObservationIn" in spec["components"]["schemas"]
    correct = paths["/api/v1/observations/{observation_id}"]["put"]
    assert {"412", "428"} <= set(correct["responses"])
    assert correct["responses"]["412"]["content"]["application/json"]["schema"]["$ref"] \
        .endswith("/StaleErrors")
    assert any(p["name"] == "If-Match" and p["required"] for p in correct["parameters"])
    read = paths["/api/v1/observations/{observation_id}"]["get"]
    assert "ETag" in read["responses"]["200"]["headers"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert not any(p.startswith("/patients") for p in paths)  # pages are not the API
    docs = client.get("/api/v1/docs").text
    import re

    assets = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_unstorable_input_is_a_400_naming_where(api: Any, session: Session,
                                                 queued: list[list[int]]) -> None:
    """A NUL character (PostgreSQL cannot store or even compare it), an id no row can have,
    or an empty body: each is a 400/404 saying where, never a 500, and nothing is written."""
    ids = seed_patient(session)
    alert_id = session.scalar(select(Alert.id))
    r = api("POST", f"/api/v1/lesions/{ids[0]}/observations", json={**GOOD, "note": "a\x00b"})
    assert r.status_code == 400, r.json
    assert r.json["errors"][0]["path"] == "note"
    assert "NUL character" in r.json["errors"][0]["message"]
    r = api("POST", f"/api/v1/alerts/{alert_id}/acknowledge", json={"reason": "seen\x00"})
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "reason"
    r = api("GET", "/api/v1/patients?q=P%00")
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "q"
    assert api("GET", "/api/v1/patients/P%00-1").status_code == 400
    assert api("GET", "/api/v1/lesions/99999999999999999999").status_code == 404
    assert api("GET", "/api/v1/observations/2147483648").status_code == 404
    assert api("PUT", "/api/v1/observations/2147483647", json=GOOD,
               headers={"If-Match": '"1"'}).status_code == 404
    r = api("POST", f"/api/v1/lesions/{ids[0]}/observations", data="",
            content_type="application/json")
    assert r.status_code == 400
    assert r.json["errors"][0]["message"] == "request body is empty; expected a JSON object"
    r = api("POST", "/api/v1/timelines", data='{"format": "lesion-timeline/1", "patients": '
            + "[" * 3000 + "]" * 3000 + "}", content_type="application/json")
    assert r.status_code == 400 and "nested more than" in r.json["errors"][0]["message"]
    assert queued == []
    assert session.scalar(select(func.count(Observation.id))) == 6
    assert session.scalar(select(Alert.state).where(Alert.id == alert_id)) == "open"


def test_the_export_warns_in_a_header_when_stored_rows_would_not_import(
        api: Any, session: Session) -> None:
    """A row changed by hand (a visit dated in the future): the export still sends every
    patient, and says in `X-Export-Warning` that the file would not import again."""
    seed_patient(session)
    clean = api("GET", "/api/v1/timelines")
    assert clean.status_code == 200 and "X-Export-Warning" not in clean.headers
    first = session.scalar(select(func.min(Observation.id)))
    session.execute(update(Observation).where(Observation.id == first)
                    .values(date=date(2099, 1, 1)))
    session.commit()
    r = api("GET", "/api/v1/timelines")
    assert r.status_code == 200
    assert r.headers["X-Export-Warning"].startswith("1 problem(s) in stored rows")
    assert [p["id"] for p in json.loads(r.data)["patients"]] == ["P-0001"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_the_export_warning_and_body_are_read_from_one_snapshot(
        api: Any, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bad row is mended and committed just after the warning was judged, before the body
    is read: the body is still the state the warning speaks of (it would not import again)."""
    seed_patient(session)
    first = session.scalar(select(func.min(Observation.id)))
    session.execute(update(Observation).where(Observation.id == first)
                    .values(date=date(2099, 1, 1)))
    session.commit()
    judged = timelines.stored_problems

    def then_mended(*args: Any, **kw: Any) -> Iterator[Problem]:
        yield from judged(*args, **kw)
        session.execute(update(Observation).where(Observation.id == first)
                        .values(date=date(2024, 6, 1)))
        session.commit()

    monkeypatch.setattr(timelines, "stored_problems", then_mended)
    r = api("GET", "/api/v1/timelines")
    assert r.status_code == 200
    assert r.headers["X-Export-Warning"].startswith("1 problem(s) in stored rows")
    dates = [o["date"] for le in json.loads(r.data)["patients"][0]["lesions"]
             for o in le["observations"]]
    assert "2099-01-01" in dates and "2024-06-01" not in dates
    assert session.scalar(select(Observation.date).where(Observation.id == first)) == \
        date(2024, 6, 1)


def test_an_operation_without_query_arguments_refuses_any(api: Any, session: Session) -> None:
    """`?patient=X` on the whole-database export is no filter: a 400 naming it, not every
    patient's record; as on the operations that take arguments."""
    seed_patient(session)
    for url in ("/api/v1/timelines?patient=P-0001", "/api/v1/patients/P-0001/timeline?x=1",
                "/api/v1/inbox?state=held"):
        r = api("GET", url)
        assert r.status_code == 400, url
        key = url.split("?")[1].split("=")[0]
        assert [e["path"] for e in r.json["errors"]] == [key], r.json
    assert api("GET", "/api/v1/timelines").status_code == 200
    # a FHIR client's _format is FHIR's own argument: JSON is served, another format refused
    fhir = api("GET", "/api/v1/patients/P-0001/fhir?_format=json")
    assert fhir.status_code == 200 and fhir.json["resourceType"] == "Bundle"
    xml = api("GET", "/api/v1/patients/P-0001/fhir?_format=xml")
    assert xml.status_code == 400 and [e["path"] for e in xml.json["errors"]] == ["_format"]
