"""What a radiologist and an orthopaedist tripped over, in real Chromium: removing a treatment
asks for confirmation and a reason (no script error); the ultrasound form speaks of
echogenicity and shadowing; the timepoints start with the newest visit; an HO lesion's table
fits 1366 px; the Remove button fits a phone. Screenshots in tests/artifacts/."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import shot, sign_in
from tests.web.seed import seed_ho_lesion
from tracker.db import session_factory
from tracker.models import AuditEvent, Treatment
from tracker.services.assessment.assess import assess_lesion

pytestmark = pytest.mark.browser
NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"


def _treatment(url: str, lesion_id: int) -> int:
    with session_factory(url)() as s:
        row = Treatment(lesion_id=lesion_id, date=date(2024, 2, 1), kind="lavage")
        s.add(row)
        s.commit()
        return row.id


def test_removing_a_treatment_asks_first_and_needs_a_reason(page: Any,
                                                           server: dict[str, Any]) -> None:
    base, lesion_id = server["base"], server["lesions"][0]
    tid = _treatment(server["url"], lesion_id)
    sign_in(page, base, "radiologist")
    page.goto(f"{base}/treatments/{tid}/edit")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.click("button:has-text('Remove treatment')")  # no reason: the browser asks for one
    assert asked == [] and page.evaluate("() => !document.querySelector('#f-reason')"
                                         ".validity.valid")
    page.fill("#f-reason", "recorded on the wrong lesion")
    page.click("button:has-text('Remove treatment')")  # dismissed: nothing removed
    assert len(asked) == 1 and "Remove this treatment?" in asked[0]
    with session_factory(server["url"])() as s:
        assert s.get(Treatment, tid) is not None
    page.set_viewport_size({"width": 390, "height": 844})
    button = page.locator("button:has-text('Remove treatment')").bounding_box()
    assert button is not None and button["x"] + button["width"] <= 390
    assert page.evaluate(NO_SIDEWAYS)
    shot(page, "30-phone-remove-treatment")
    page.click("button:has-text('Remove treatment')")
    page.wait_for_selector(".flash-success")
    with session_factory(server["url"])() as s:
        assert s.get(Treatment, tid) is None
        reason = s.scalar(select(AuditEvent.reason)
                          .where(AuditEvent.action == "treatment.delete"))
    assert reason == "recorded on the wrong lesion"


def test_ultrasound_names_echogenicity_and_shadowing(page: Any,
                                                     server: dict[str, Any]) -> None:
    base, lesion_id = server["base"], server["lesions"][0]
    sign_in(page, base, "clinician")  # an orthopaedist records on their own films
    page.goto(f"{base}/lesions/{lesion_id}/observations/new")  # last visit was US
    assert page.inner_text("label[for=f-density]").startswith("Echogenicity")
    assert page.inner_text("label[for=f-margin]").startswith("Shadowing")
    assert "Dense (hyperechoic)" in page.inner_text("#f-density")
    page.select_option("#f-modality", "XR")
    assert page.inner_text("label[for=f-density]").startswith("Density")
    assert "Dense (hyperechoic)" not in page.inner_text("#f-density")
    page.select_option("#f-modality", "US")
    assert page.inner_text("label[for=f-margin]").startswith("Shadowing")
    shot(page, "31-record-ultrasound")


def test_timepoints_newest_first_and_an_ho_table_that_fits(page: Any,
                                                           server: dict[str, Any]) -> None:
    base = server["base"]
    with session_factory(server["url"])() as s:
        ho_id = seed_ho_lesion(s, visits=3)
        assess_lesion(s, ho_id, date(2024, 10, 1))
    sign_in(page, base, "clinician")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/lesions/{ho_id}")
    fits = page.evaluate("() => { const s = document.querySelector('.scroll');"
                         " return s.scrollWidth <= s.clientWidth + 1; }")
    shot(page, "32-ho-lesion")
    assert fits, "the HO lesion's table scrolls sideways at 1366 px"
    shot(page, "32-ho-lesion")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/patients/P-0001/timepoints")
    headers = page.locator("table.timepoints thead th").all_inner_texts()
    assert headers[1].startswith("2024-09-15") and headers[-1].startswith("2024-01-10")
    assert page.evaluate(NO_SIDEWAYS)
    shot(page, "33-phone-timepoints")
