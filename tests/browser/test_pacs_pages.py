"""The PACS in real Chromium: the lesion and compare pages with each visit's key image (from a
real Orthanc, through the server, the measurement drawn on it), the inbox with its count in the
header, and a PACS outage that leaves the pages working ("image unavailable"). Screenshots of
the lesion and compare pages at 1366 and 390 px go to tests/artifacts/."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from testkit.dicom import Deposit
from tests.browser.conftest import migrated_sqlite, open_page, shot, sign_in
from tests.pacs.conftest import start_orthanc
from tests.pacs.visits import LESION_UID, followed_patient, store_visit
from tests.web.seed import make_users, seed_held_report
from tracker.db import engine_for, session_factory
from tracker.pacs.client import PacsClient
from tracker.pacs.sync import sync_reports
from tracker.queries.to_assess import stale_lesions
from tracker.services.assessment.assess import assess_lesions
from web import create_app
from workers import dispatch

pytestmark = pytest.mark.browser

LOADED = ("() => [...document.querySelectorAll('img[data-key-image]')]"
          ".every(i => i.complete && i.naturalWidth > 0)")


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The app over a SQLite database whose patient's deposit was measured in the viewer in
    April and July (reports read from a real Orthanc and assessed), plus a report waiting in
    the inbox."""
    monkeypatch.setattr(dispatch, "request_assessment", lambda ids: len(list(ids)))
    monkeypatch.setenv("CALCITRACK_INSTANCE", str(tmp_path / "instance"))
    orthanc = start_orthanc(tmp_path / "orthanc")
    url = migrated_sqlite(request, tmp_path)
    followed_patient(url)
    with PacsClient(orthanc.dicomweb_url) as pacs:
        store_visit(pacs, study_date="20240410",
                    deposit=Deposit(column=300, row=200, half_width=40, half_height=25))
        store_visit(pacs, study_date="20240710", shape="ellipse",
                    deposit=Deposit(column=290, row=230, half_width=30, half_height=20))
        with session_factory(url)() as s:
            make_users(s)
            done = sync_reports(s, pacs, today=date.today())
            assert done.imported == 2
            assess_lesions(s, stale_lesions(s), date(2024, 8, 1))
            seed_held_report(s, "P-0001")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test",
                      "SESSION_COOKIE_SECURE": False, "DICOMWEB_URL": orthanc.dicomweb_url,
                      "VIEWER_URL_TEMPLATE":
                          "https://viewer.example/viewer?StudyInstanceUIDs={study_uid}"})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with session_factory(url)() as s:
        from sqlalchemy import select

        from tracker.models import Lesion
        lesion_id = s.scalar(select(Lesion.id).where(Lesion.external_id == LESION_UID))
    try:
        yield {"base": f"http://127.0.0.1:{httpd.server_port}", "url": url,
               "lesion": lesion_id, "orthanc": orthanc, "instance": tmp_path / "instance"}
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        engine_for(url).dispose()
        orthanc.stop()


@pytest.fixture
def page(server: dict[str, Any]) -> Iterator[Any]:
    """A thumbnail the PACS cannot give answers 503 (the page then says so): expected."""
    def unavailable_image(message: Any) -> bool:
        return "status of 503" in message.text and "/key-images/" in message.location["url"]

    with open_page(unavailable_image) as pg:
        yield pg


def at_widths(page: Any, name: str) -> None:
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function(LOADED)
        shot(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_key_images_on_the_lesion_and_compare_pages(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    sign_in(page, base, "clinician")
    page.goto(f"{base}/lesions/{server['lesion']}")
    page.wait_for_selector("#key-images-h")
    page.wait_for_function(LOADED)
    figures = page.locator("figure.key-image")
    assert figures.count() == 2
    assert "2024-04-10" in figures.nth(0).inner_text() and "16 mm" in figures.nth(0).inner_text()
    link = figures.nth(0).locator("a")
    assert link.get_attribute("href").startswith("https://viewer.example/viewer?StudyInstanceUIDs=")
    size = page.evaluate("document.querySelector('img[data-key-image]').naturalWidth")
    assert size == 256
    at_widths(page, "pacs-lesion-key-images")

    page.goto(f"{base}/lesions/{server['lesion']}/compare")
    page.wait_for_function(LOADED)
    assert page.locator("figure.key-image").count() == 2
    at_widths(page, "pacs-compare-key-images")


def test_the_inbox_and_a_pacs_outage(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    sign_in(page, base, "radiologist")
    badge = page.locator("nav a[href='/inbox'] .count-badge")
    assert badge.inner_text() == "1"
    page.click("nav a[href='/inbox']")
    page.wait_for_selector("text=1 report waiting")
    shot(page, "pacs-inbox")
    page.click("a:has-text('Complete…')")
    page.wait_for_selector("#accept-h")
    shot(page, "pacs-inbox-report")
    page.select_option("select[name^='lesion:']", LESION_UID)
    page.click("button:has-text('Import the report')")
    page.wait_for_selector("text=The inbox is empty.")
    assert page.locator("nav a[href='/inbox'] .count-badge").count() == 0

    shutil.rmtree(server["instance"] / "thumbnails", ignore_errors=True)  # nothing cached
    server["orthanc"].stop()
    page.goto(f"{base}/lesions/{server['lesion']}")
    page.wait_for_selector(".key-image .unavailable")
    assert page.locator(".key-image .unavailable").count() == 3  # April, the new one, July
    assert page.locator(".key-image .unavailable").nth(0).inner_text() == "image unavailable"
    shot(page, "pacs-lesion-pacs-down")
