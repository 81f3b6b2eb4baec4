"""The spreadsheet (CSV) import page: all or nothing, or the good rows with the bad ones to
download (their owner only, escaped); the timeline page sends a CSV or DICOM file here or to
the SR form instead of failing on its first byte."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy.orm import Session

from tests.interop.test_csv_clinics import EUROPEAN
from tests.interop.web.test_web_interop import observations

BAD_ROW = "P-0002;;X9;tendon;shoulder;up;;2024-01-10;XR;=1+2;;dense;@cmd;;\r\n"


def upload(client: Any, text: str, *, mode: str = "all", name: str = "visits.csv",
           url: str = "/import/csv") -> Any:
    return client.post(url, data={"file": (io.BytesIO(text.encode("utf-8")), name),
                                  "mode": mode}, content_type="multipart/form-data")


def test_the_page_is_for_radiologists_and_linked(login: Any) -> None:
    assert login("clinician").get("/import/csv").status_code == 403
    assert login(None).get("/import/csv").status_code == 302
    radiologist = login("radiologist")
    assert 'href="/import/csv"' in radiologist.get("/import").text  # the page and the nav
    page = radiologist.get("/import/csv")
    assert page.status_code == 200 and "Import a spreadsheet (CSV)" in page.text
    assert radiologist.get("/import/csv/rejects").status_code == 404  # no upload yet


def test_all_or_nothing_imports_nothing_and_offers_the_bad_rows(login: Any,
                                                                session: Session) -> None:
    radiologist = login("radiologist")
    r = upload(radiologist, EUROPEAN + BAD_ROW)
    assert r.status_code == 400
    assert "Nothing was imported from visits.csv: 1 row is wrong" in r.text
    assert "line 6, laterality" in r.text and observations(session) == 0
    rejects = radiologist.get("/import/csv/rejects")
    assert rejects.status_code == 200 and rejects.mimetype == "text/csv"
    assert 'filename=visits.rejects.csv' in rejects.headers["Content-Disposition"]
    [row] = list(csv.DictReader(io.StringIO(rejects.data.decode("utf-8-sig"))))
    assert (row["line"], row["patient"], row["size1_mm"], row["note"]) == (
        "6", "P-0002", "'=1+2", "'@cmd")


def test_skip_bad_imports_the_good_rows_and_the_rejects_are_the_owners(
        login: Any, session: Session) -> None:
    radiologist = login("radiologist")
    r = upload(radiologist, EUROPEAN + BAD_ROW, mode="skip_bad")
    assert r.status_code == 200, r.text
    assert "Imported visits.csv, except 1 bad row" in r.text and observations(session) == 2
    assert "Download the 1 bad row of visits.csv" in r.text
    assert radiologist.get("/import/csv/rejects").status_code == 200
    assert login("admin").get("/import/csv/rejects").status_code == 404  # nobody else's
    assert login("clinician").get("/import/csv/rejects").status_code == 403
    # the next upload replaces them: a clean file, or one refused whole, leaves none
    assert upload(radiologist, EUROPEAN, mode="skip_bad").status_code == 200
    assert radiologist.get("/import/csv/rejects").status_code == 404
    assert upload(radiologist, EUROPEAN + BAD_ROW, mode="skip_bad").status_code == 200
    r = upload(radiologist, "patient;lesion;colour\r\nP-1;L1;red\r\n", mode="skip_bad")
    assert r.status_code == 400 and "unknown column &#39;colour&#39;" in r.text
    assert radiologist.get("/import/csv/rejects").status_code == 404


def test_each_page_sends_other_files_to_theirs(login: Any, session: Session) -> None:
    radiologist = login("radiologist")
    r = upload(radiologist, EUROPEAN, name="visits.csv", url="/import")
    assert r.status_code == 400 and "BOM" not in r.text
    assert "visits.csv is a CSV spreadsheet, not a lesion-timeline/1 JSON file" in r.text
    assert 'href="/import/csv">Import it on its own page' in r.text
    dicom = b"\0" * 128 + b"DICM" + b"\0" * 40
    r = radiologist.post("/import", data={"file": (io.BytesIO(dicom), "report.dcm")},
                         content_type="multipart/form-data")
    assert r.status_code == 400 and "report.dcm is a DICOM file" in r.text
    assert 'href="/import#sr-h">Import it with the form below' in r.text
    r = upload(radiologist, json.dumps({"format": "lesion-timeline/1", "patients": []}),
               name="backup.json")
    assert r.status_code == 400 and "backup.json is a lesion-timeline/1 JSON file" in r.text
    assert observations(session) == 0


def test_a_timeline_with_a_byte_order_mark_imports(login: Any, session: Session) -> None:
    doc = {"format": "lesion-timeline/1", "patients": [{"id": "P-0001", "lesions": [{
        "id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                             "laterality": "right"},
        "observations": [{"date": "2024-01-10", "modality": "XR", "size_mm": [9]}]}]}]}
    r = upload(login("radiologist"), "\ufeff" + json.dumps(doc), name="t.json", url="/import")
    assert r.status_code == 200, r.text
    assert observations(session) == 1
