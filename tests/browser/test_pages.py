"""A person's path through the pages in real Chromium: sign in, worklist, timeline, lesion,
record an observation (pending, then refreshed when "the worker" assessed it), acknowledge an
alert. Screenshots go to tests/artifacts/ for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import shot, sign_in
from tests.web.seed import assess
from tracker.db import session_factory
from tracker.models import AuditEvent

pytestmark = pytest.mark.browser


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
