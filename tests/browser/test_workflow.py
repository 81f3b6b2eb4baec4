"""A clinician's day in real Chromium: worklist filters, keyboard and bulk acknowledge, the
timepoint table, visit comparison, the printable report, cohort outcomes, lesion merge/split,
and the pages at phone width (390 px) without sideways scrolling. Screenshots in
tests/artifacts/ for a person to look at."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import shot, sign_in
from tracker.db import session_factory
from tracker.models import Alert, AuditEvent, Lesion

pytestmark = pytest.mark.browser

NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_worklist_keyboard_and_bulk_acknowledge(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    sign_in(page, base, "clinician")
    page.fill("input[name=patient]", "p-0002")  # case-insensitive search
    page.click("button:has-text('Apply')")
    rows = page.locator("table.worklist tbody tr")
    assert rows.count() == 2  # P-0002's two alerts, none of P-0001's
    assert all("P-0002" in rows.nth(i).inner_text() for i in range(2))
    page.goto(f"{base}/alerts")
    assert page.locator("table.worklist tbody tr").count() == 4
    page.click("summary:has-text('Keyboard shortcuts')")
    assert "j" in page.inner_text("details.shortcuts")
    page.locator("h1").click()  # focus on the page, not a field
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.inner_text("[data-bulk-count]") == "2"
    page.fill("form#bulk input[name=reason]", "reviewed at the morning meeting")
    shot(page, "11-worklist-bulk")
    page.click("form#bulk button:has-text('Acknowledge chosen')")
    page.wait_for_selector(".flash-success")
    assert ("2 alert(s) acknowledged: patient P-0001, lesion L1; patient P-0002, lesion L1."
            in page.inner_text(".flash-success"))
    with session_factory(server["url"])() as s:
        states = [a.state for a in s.scalars(select(Alert))]
        assert states.count("acknowledged") == 2
    # acknowledged alerts now come after the open ones
    rows = page.locator("table.worklist tbody tr")
    assert "Acknowledged" not in rows.nth(0).inner_text()
    assert "Acknowledged" in rows.nth(3).inner_text()


def test_timepoints_compare_report_and_cohort(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    lesion_id = server["lesions"][0]
    sign_in(page, base, "clinician")
    page.goto(f"{base}/patients/P-0001")
    page.click("a:has-text('Timepoint table')")
    table = page.inner_text("table.timepoints")
    assert "Δ baseline -35.7 %" in table and "not comparable (XR→US)" in table
    shot(page, "12-timepoints")

    page.goto(f"{base}/lesions/{lesion_id}")
    page.click("a:has-text('Compare visits')")
    assert "2024-03-02 → 2024-09-15" in page.inner_text("#cmp-h")
    shot(page, "13-compare")

    page.goto(f"{base}/patients/P-0001/report")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete"
                           " && i.naturalWidth > 0)")
    assert "Follow-up report · patient P-0001" in page.inner_text("h1")
    shot(page, "14-report")
    pdf = page.request.get(f"{base}/patients/P-0001/report.pdf")
    assert pdf.status == 200 and pdf.body()[:5] == b"%PDF-"

    page.goto(f"{base}/cohort")
    assert "No assessed lesion" in page.inner_text("main") or page.locator("img.chart").count()
    shot(page, "15-cohort")


def test_radiologist_merges_and_splits_lesions(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    first, second, _ = server["lesions"]
    sign_in(page, base, "radiologist")
    page.goto(f"{base}/lesions/{first}")
    page.click("a:has-text('Merge…')")
    page.select_option("#f-other", str(second))
    page.click("button:has-text('Check for same-date visits')")
    # seed lesions share all three dates: keep the first lesion's for each
    radios = page.locator("input[type=radio][value=kept]")
    assert radios.count() == 3
    for i in range(3):
        radios.nth(i).check()
    page.fill("#f-reason", "same deposit recorded twice")
    shot(page, "16-merge")
    page.click("button:has-text('Merge')")
    page.wait_for_selector(".flash-success")
    with session_factory(server["url"])() as s:
        assert s.get(Lesion, second) is None

    page.click("a:has-text('Split…')")
    page.locator("input[name=observation]").nth(2).check()
    page.fill("#f-new", "L1b")
    page.fill("#f-reason", "the US deposit is a second one")
    shot(page, "17-split")
    page.click("button:has-text('Split')")
    page.wait_for_selector(".flash-success")
    assert "L1b" in page.inner_text("h1")
    page.goto(f"{base}/lesions/{first}/history")
    text = page.inner_text("table.history")
    assert "Lesion split" in text and "Lesions merged" in text
    shot(page, "18-history")
    with session_factory(server["url"])() as s:
        actions = set(s.scalars(select(AuditEvent.action)))
        assert {"lesion.merge", "lesion.split"} <= actions


CHART_LOADED = ("() => { const i = document.querySelector('figure.chart img');"
                " return i && i.complete && i.naturalWidth > 0; }")
# 8 pt = 8 * 4/3 px in the figure's own pixels, scaled to the width the page gives the image
CHART_TEXT_PX = ("() => { const i = document.querySelector('figure.chart img');"
                 " return 8 * 4 / 3 * i.clientWidth / i.naturalWidth; }")


def test_pages_fit_a_phone(page: Any, server: dict[str, Any]) -> None:
    base = server["base"]
    lesion_id = server["lesions"][0]
    sign_in(page, base, "radiologist")
    page.set_viewport_size({"width": 390, "height": 844})
    for name, url in [("19-phone-worklist", "/alerts"),
                      ("20-phone-lesion", f"/lesions/{lesion_id}"),
                      ("21-phone-timeline", "/patients/P-0001"),
                      ("22-phone-timepoints", "/patients/P-0001/timepoints"),
                      ("23-phone-record", f"/lesions/{lesion_id}/observations/new")]:
        page.goto(base + url)
        assert page.evaluate(NO_SIDEWAYS), f"{url} scrolls sideways at 390 px"
        if name == "20-phone-lesion":
            # each visit a card: its stage and evidence in sight, not scrolled off to the right
            for cell in ("td[data-label=Stage]", "td[data-label=Evidence]"):
                box = page.locator(f"table.observations {cell}").first.bounding_box()
                assert box is not None and box["x"] + box["width"] <= 390, cell
        if "lesion" in name or "timeline" in name:
            # the chart's smallest text (8 pt in the figure) as the phone draws it, in CSS px
            page.wait_for_function(CHART_LOADED)
            drawn = page.evaluate(CHART_TEXT_PX)
            assert drawn >= 7, f"{url}: chart text drawn at {drawn:.1f} px on a phone"
        shot(page, name)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/lesions/{lesion_id}")
    assert page.evaluate(NO_SIDEWAYS)
    edit = page.locator("table.observations a:has-text('Edit')").first
    box = edit.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366  # the Edit link is not clipped


def test_worklist_on_a_phone_and_its_snooze_and_urgent_acknowledgement(
        page: Any, server: dict[str, Any]) -> None:
    """At 390 px each alert is a card whose patient link and actions are in sight; a snooze
    offers presets shown as ISO dates; an urgent alert is not acknowledged without a reason,
    and the confirmation names the patient and the lesion."""
    base = server["base"]
    sign_in(page, base, "clinician")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/alerts")
    assert page.evaluate(NO_SIDEWAYS)
    card = page.locator("table.worklist tbody tr.row-sev-urgent").first
    for part in ("td.patient-cell a >> nth=0", "form[action$='/acknowledge'] button",
                 "details.snooze"):
        box = card.locator(part).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, part
    assert "P-0002" in card.locator("td.patient-cell").inner_text()
    shot(page, "13-worklist-phone")
    # an urgent alert: the browser asks for the reason, nothing is sent
    card.locator("form[action$='/acknowledge'] button").click()
    assert card.locator("form[action$='/acknowledge'] input[name=reason]:invalid").count() == 1
    with session_factory(server["url"])() as s:
        assert s.scalar(select(Alert.state).where(Alert.severity == "urgent")) == "open"
    card.locator("details.snooze summary").click()
    presets = card.locator("details.snooze label.check").all_inner_texts()
    assert [p.split()[:-1] for p in presets] == [
        ["2", "weeks"], ["1", "month"], ["3", "months"], ["6", "months"]]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.split()[-1]) for p in presets)
    shot(page, "14-worklist-phone-snooze")
    card.locator("details.snooze input[value]:not([type=hidden])").nth(2).check()  # 3 months
    card.locator("details.snooze input[name=reason]").fill("MR in three months")
    card.locator("details.snooze button:has-text('Snooze')").click()
    page.wait_for_selector(".flash-success")
    message = page.inner_text(".flash-success")
    assert "of patient P-0002, lesion L1 snoozed until" in message, message


def test_a_refused_alert_action_keeps_what_was_chosen_and_typed(
        page: Any, server: dict[str, Any]) -> None:
    """The server refuses a bulk acknowledge of an urgent alert without a reason, and a snooze
    to a past date: the page comes back with the alerts still chosen and the reason still
    typed, so nothing is chosen or typed twice."""
    base = server["base"]
    sign_in(page, base, "clinician")
    page.goto(f"{base}/alerts")
    urgent = page.locator("table.worklist tbody tr.row-sev-urgent").first
    other = page.locator("table.worklist tbody tr:not(.row-sev-urgent)").first
    chosen = [row.locator("input[name=alert]").get_attribute("value") for row in (urgent, other)]
    for row in (urgent, other):
        row.locator("input[name=alert]").check()
    page.click("#bulk button[value=acknowledge]")
    page.wait_for_selector(".flash-error")
    assert "No alert changed" in page.inner_text(".flash-error")
    assert sorted(page.locator("input[name=alert]:checked").evaluate_all(
        "els => els.map(e => e.value)")) == sorted(chosen)
    assert page.inner_text("[data-bulk-count]") == "2"
    card = page.locator("table.worklist tbody tr.row-sev-urgent").first
    card.locator("details.snooze summary").click()
    card.locator("details.snooze input[name=until_date]").fill("2020-01-01")
    card.locator("details.snooze input[name=reason]").fill("MR booked")
    card.locator("details.snooze button:has-text('Snooze')").click()
    page.wait_for_selector(".flash-error")
    assert "Alert not snoozed" in page.inner_text(".flash-error")
    again = page.locator("table.worklist tbody tr.row-sev-urgent").first
    assert again.locator("details.snooze").get_attribute("open") is not None
    assert again.locator("details.snooze input[name=reason]").input_value() == "MR booked"
    assert page.locator("input[name=alert]:checked").count() == 0  # only that form's values
    with session_factory(server["url"])() as s:
        assert s.scalar(select(Alert.state).where(Alert.severity == "urgent")) == "open"
