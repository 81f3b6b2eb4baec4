"""A clinic's European Excel file (`;`, `12,5`, BOM, CRLF, one bad row) uploaded in real
Chromium: the bad row is skipped, the good ones imported, the bad one downloaded with its
error and its formula escaped; the page at 1366 and 390 px (screenshots in tests/artifacts/)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.browser.conftest import shot, sign_in
from tests.interop.test_csv_clinics import EUROPEAN
from tracker.db import session_factory
from tracker.models import Observation, Patient

pytestmark = pytest.mark.browser

NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
BAD_ROW = "P-0009;;X9;tendon;shoulder;up;;2024-01-10;XR;=1+2;;dense;;;\r\n"


def test_european_excel_file_skip_bad_and_download_rejects(
        page: Any, server: dict[str, Any], tmp_path: Path) -> None:
    base = server["base"]
    upload = tmp_path / "Suivi épaules.csv"
    upload.write_bytes((EUROPEAN.replace("P-0001", "P-0100") + BAD_ROW).encode("utf-8"))
    with session_factory(server["url"])() as s:
        before = s.scalar(select(func.count()).select_from(Observation))
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, base, "radiologist")
    page.click("nav a:has-text('Spreadsheet')")
    page.wait_for_url(f"{base}/import/csv")
    page.set_input_files("input#file", str(upload))
    page.check("input[name=mode][value=skip_bad]")
    shot(page, "61-csv-upload-form")
    page.click("button:has-text('Check and import')")
    page.wait_for_selector(".flash-success")
    assert "Imported Suivi épaules.csv, except 1 bad row." in page.inner_text(".flash-success")
    assert "line 6, laterality" in page.inner_text(".flash-info")
    with session_factory(server["url"])() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == before + 2
        assert s.scalar(select(Patient.id).where(Patient.external_id == "P-0009")) is None
    shot(page, "62-csv-imported-1366")

    with page.expect_download() as info:
        page.click("a.download")
    download = info.value
    assert download.suggested_filename == "Suivi_epaules.rejects.csv"
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["line"], row["patient"], row["laterality"], row["size1_mm"]) == (
        "6", "P-0009", "up", "'=1+2")
    assert 'laterality: "up" is not a laterality code' in row["errors"]

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_SIDEWAYS), "the CSV page scrolls sideways at 390 px"
    shot(page, "63-csv-imported-390")
