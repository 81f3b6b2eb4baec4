"""A person's path through the pages in real Chromium: sign in, worklist, timeline, lesion,
record an observation (pending, then refreshed when "the worker" assessed it), acknowledge an
alert. Screenshots go to tests/artifacts/ for a person to look at."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.web.seed import PASSWORD, assess, make_users, seed_patient
from tracker.db import engine_for, session_factory
from tracker.migrate import upgrade
from tracker.models import Alert, AuditEvent
from web import create_app
from workers import dispatch

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing (CI=true: browser tests must run)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The app on a real HTTP server (werkzeug, a thread) over a seeded SQLite database; the
    assessment queue is a list (the test plays the worker)."""
    queued: list[int] = []
    def record(ids: Any) -> int:
        queued.extend(ids)
        return len(ids)

    monkeypatch.setattr(dispatch, "request_assessment", record)
    url = f"sqlite:///{tmp_path}/browser.sqlite"
    upgrade(url)
    with session_factory(url)() as s:
        make_users(s)
        lesion_ids = seed_patient(s, "P-0001", lesions=3)
        other = seed_patient(s, "P-0002", lesions=1)
        s.add(Alert(lesion_id=other[0], kind="rapid_progression", severity="urgent",
                    rule="generic.rapid_progression", since=date(2024, 9, 15),
                    reason="longest diameter +80% in 6 months"))
        s.commit()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test",
                      "SESSION_COOKIE_SECURE": False})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{httpd.server_port}", "url": url,
               "lesions": lesion_ids, "queued": queued}
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        engine_for(url).dispose()


@pytest.fixture
def page(server: dict[str, Any]) -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-gpu"],
        )
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        # A form answered 400 (field-level messages) is expected; any other failure is not.
        pg.on("console", lambda m: errors.append(m.text)
              if m.type == "error" and "status of 400" not in m.text else None)
        yield pg
        browser.close()
        assert errors == [], errors


def shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # a sticky header would land mid-page otherwise
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/alerts")


def test_clinician_path_worklist_timeline_lesion_acknowledge(
    page: Any, server: dict[str, Any]
) -> None:
    base = server["base"]
    page.goto(f"{base}/patients")
    assert "/login" in page.url
    shot(page, "01-sign-in")
    sign_in(page, base, "clinician")
    rows = page.locator("table.worklist tbody tr")
    assert rows.count() == 4
    assert "urgent" in rows.nth(0).inner_text()  # most severe first
    shot(page, "02-worklist")

    page.click("a:has-text('Patients')")
    shot(page, "03-patients")
    page.click("a:has-text('P-0001')")
    page.wait_for_function(
        "() => { const i = document.querySelector('figure.chart img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert page.locator(".lesion-card").count() == 3
    shot(page, "04-timeline")

    page.click(".lesion-card >> nth=0 >> h3 a")
    page.wait_for_selector("#alerts-h")
    page.wait_for_function(
        "() => { const i = document.querySelector('figure.chart img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    shot(page, "05-lesion")

    page.fill("input[name=reason] >> nth=0", "discussed with the patient, review at follow-up")
    page.click("button:has-text('Acknowledge') >> nth=0")
    page.wait_for_selector(".flash-success")
    assert "Acknowledged by clinician" in page.inner_text("#alerts-h + ul")
    shot(page, "06-acknowledged")
    with session_factory(server["url"])() as s:
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "clinician"))
        assert "alert.acknowledge" in list(events)

    # The API docs work offline: Swagger UI comes from this server.
    page.goto(f"{base}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert "calcitrack API" in page.inner_text(".swagger-ui .info")
    shot(page, "10-api-docs")


def test_radiologist_records_observation_and_sees_stage_refresh(
    page: Any, server: dict[str, Any]
) -> None:
    base = server["base"]
    lesion_id = server["lesions"][0]
    sign_in(page, base, "radiologist")
    page.goto(f"{base}/lesions/{lesion_id}")
    page.click("a:has-text('Record observation')")
    # First a mistake: visible without size, density or margin -> field-level messages.
    page.fill("#f-date", "2024-12-01")
    page.select_option("#f-modality", "XR")
    page.click("button:has-text('Save observation')")
    page.wait_for_selector("#error-summary")
    assert "is required when the lesion is visible" in page.inner_text("#err-size_mm")
    shot(page, "07-observation-errors")

    page.fill("#f-size_mm", "6.5")
    page.select_option("#f-density", "faint")
    page.select_option("#f-margin", "ill_defined")
    page.fill("#f-pain", "2")
    page.fill("#f-note", "<b>not bold</b> smaller")
    page.click("button:has-text('Save observation')")
    page.wait_for_selector(".flash-success")
    assert "pending" in page.inner_text(".summary")
    assert "<b>not bold</b>" in page.inner_text("table.observations")  # shown as text
    shot(page, "08-observation-pending")

    # "The worker" assesses; the page's poll notices and reloads by itself.
    assert server["queued"] == [lesion_id]
    with session_factory(server["url"])() as s:
        assess(s, lesion_id, ["formative", "resorptive", "resorptive", "resolved"])
    page.wait_for_function("() => !document.querySelector('[data-poll-url]')", timeout=30_000)
    assert "Resolved" in page.inner_text(".summary")
    shot(page, "09-observation-assessed")
