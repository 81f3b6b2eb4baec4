"""SR upload (API and import page), FHIR export, "Open images" links."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.bundle import Bundle
from pydicom.uid import generate_uid
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.dicom import AREA, CIRCUMSCRIBED, HIGH_DENSITY, LENGTH, LUNG, MM, MM2
from tests.interop.sr_files import Group, write_sr
from tests.web.conftest import Client
from tracker.errors import InvalidInput
from tracker.models import Observation
from tracker.services.users import issue_token
from web import create_app

DEPOSIT = generate_uid()
VIEWER = "https://viewer.example/viewer?StudyInstanceUIDs={study_uid}"


def reports(tmp_path: Path, *, bad: bool = False,
            unmapped: bool = False) -> list[tuple[io.BytesIO, str]]:
    """Two reports of one deposit; `bad`: each with a group measuring only an area (invalid);
    `unmapped`: each with a group at a site calcitrack does not map (needs a person)."""
    tmp_path.mkdir(exist_ok=True)
    groups = [Group(tracking_uid=DEPOSIT, measurements=[(LENGTH, 12.0, MM)],
                    qualitative=[(LENGTH, HIGH_DENSITY), (LENGTH, CIRCUMSCRIBED)])]
    if bad:
        groups.append(Group(tracking_uid=generate_uid(), measurements=[(AREA, 30.0, MM2)]))
    if unmapped:
        groups.append(Group(site=LUNG, tracking_uid=generate_uid()))
    out = []
    for name, day in (("one.dcm", "20240110"), ("two.dcm", "20240501")):
        path = write_sr(tmp_path / name, groups, study_date=day, study_uid=f"1.2.3.{day}")
        out.append((io.BytesIO(path.read_bytes()), name))
    return out


def observations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Observation)) or 0


def test_api_imports_reports_and_exports_fhir(api: Any, session: Session, tmp_path: Path) -> None:
    r = api("POST", "/api/v1/sr", data={"file": reports(tmp_path), "compartment": "tendon"},
            content_type="multipart/form-data")
    assert r.status_code == 200, r.text
    assert r.json["observations_created"] == 2 and r.json["files"] == 2
    record = api("GET", "/api/v1/patients/P-0001").json
    assert [o["size_mm"] for o in record["lesions"][0]["observations"]] == [[12.0], [12.0]]

    r = api("GET", "/api/v1/patients/P-0001/fhir")
    assert r.status_code == 200 and r.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate_json(r.data)
    kinds = sorted(e.resource.get_resource_type() for e in bundle.entry)
    assert kinds.count("Patient") == 1 and kinds.count("BodyStructure") == 1
    assert api("GET", "/api/v1/patients/NOPE/fhir").status_code == 404


def test_api_refuses_a_batch_with_an_invalid_group(api: Any, session: Session,
                                                    tmp_path: Path) -> None:
    r = api("POST", "/api/v1/sr", data={"file": reports(tmp_path, bad=True),
                                        "compartment": "tendon"},
            content_type="multipart/form-data")
    assert r.status_code == 400
    paths = [e["path"] for e in r.json["errors"]]
    assert paths == ["one.dcm planar ROI group 2", "two.dcm planar ROI group 2"]
    assert "has no linear measurement" in r.json["errors"][0]["message"]
    assert observations(session) == 0
    assert api("GET", "/api/v1/inbox").json["total"] == 0


def test_api_holds_reports_with_an_unmapped_site_in_the_inbox(api: Any, session: Session,
                                                               tmp_path: Path) -> None:
    """A group at a site calcitrack does not map needs a person, not a refusal: each report
    waits in the inbox, and the answer says where."""
    r = api("POST", "/api/v1/sr", data={"file": reports(tmp_path, unmapped=True),
                                        "compartment": "tendon"},
            content_type="multipart/form-data")
    assert r.status_code == 200, r.text
    assert (r.json["reports_held"], r.json["reports_imported"]) == (2, 0)
    assert observations(session) == 0
    held = r.json["held"]
    assert [h["inbox"] for h in held] == [f"/inbox/{h['id']}" for h in held]
    report = api("GET", held[0]["api"]).json
    assert report["state"] == "held" and report["patient"] == "P-0001"
    [need] = report["needs"]
    assert need["kind"] == "site" and "Lung structure" in need["message"]
    assert need["resolved_by"] == "choose the stored lesion it is"


def test_import_page_takes_sr_files(login: Any, session: Session, tmp_path: Path) -> None:
    radiologist = login("radiologist")
    page = radiologist.get("/import")
    assert "Import DICOM SR measurement reports" in page.text
    r = radiologist.post("/import/sr", data={"file": reports(tmp_path, bad=True),
                                             "compartment": "tendon"},
                         content_type="multipart/form-data")
    assert r.status_code == 400
    assert "one.dcm planar ROI group 2" in r.text and observations(session) == 0
    r = radiologist.post("/import/sr", data={"file": reports(tmp_path), "compartment": "tendon"},
                         content_type="multipart/form-data")
    assert r.status_code == 200, r.text
    assert "Imported 2 reports" in r.text and observations(session) == 2
    r = radiologist.post("/import/sr", data={"file": reports(tmp_path / "x", unmapped=True)},
                         content_type="multipart/form-data")
    assert r.status_code == 200, r.text
    assert "2 reports need your input" in r.text and 'href="/inbox"' in r.text


def test_open_images_link_only_with_a_viewer(database_url: str, api: Any, session: Session,
                                             tmp_path: Path, login: Any) -> None:
    assert api("POST", "/api/v1/sr", data={"file": reports(tmp_path), "compartment": "tendon"},
               content_type="multipart/form-data").status_code == 200
    lesion_id = api("GET", "/api/v1/patients/P-0001").json["lesions"][0]["id"]
    plain = api("GET", f"/api/v1/lesions/{lesion_id}").json
    assert plain["observations"][0]["study_uid"] == "1.2.3.20240110"
    assert plain["observations"][0].get("images_url") is None
    assert "Open images" not in login("clinician").get(f"/lesions/{lesion_id}").text

    viewing = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                          "SESSION_COOKIE_SECURE": False, "VIEWER_URL_TEMPLATE": VIEWER})
    token = issue_token(session, "clinician", "viewer", actor="admin")
    doc = viewing.test_client().get(f"/api/v1/lesions/{lesion_id}",
                                    headers={"Authorization": f"Bearer {token}"}).json
    assert [o["images_url"] for o in doc["observations"]] == [
        "https://viewer.example/viewer?StudyInstanceUIDs=1.2.3.20240110",
        "https://viewer.example/viewer?StudyInstanceUIDs=1.2.3.20240501"]
    page = Client(viewing.test_client(), "clinician").get(f"/lesions/{lesion_id}").text
    assert page.count(">Open images</a>") == 2
    assert 'href="https://viewer.example/viewer?StudyInstanceUIDs=1.2.3.20240110"' in page


def test_bad_viewer_template_is_refused_at_start(database_url: str) -> None:
    with pytest.raises(InvalidInput, match="study_uid"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                    "VIEWER_URL_TEMPLATE": "https://viewer.example/"})
