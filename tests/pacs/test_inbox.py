"""The inbox: a report from the PACS that cannot be imported as it is waits for a person, who
completes it (CLI, page or API: it is imported and its assessment queued) or rejects it with a
reason; every decision is audited and nothing changes until one is made."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from testkit.dicom import KNEE, LEFT
from testkit.orthanc import Orthanc
from tests.pacs.visits import LESION_UID, count, followed_patient, store_visit
from tracker.db import session_factory
from tracker.models import AuditEvent, Lesion, Observation
from tracker.pacs.client import PacsClient
from tracker.pacs.models import KeyImage, ReportState, SrReport

NEW_UID = "1.2.826.0.1.3680043.8.498.77"


def held(run: Any) -> list[dict[str, Any]]:
    result = run("inbox", "list", "--json")
    assert result.exit_code == 0, result.output
    reports: list[dict[str, Any]] = json.loads(result.output)["reports"]
    return reports


def follow_up_held(run: Any, pacs: PacsClient, database_url: str) -> dict[str, Any]:
    """A followed deposit's next visit, measured in the viewer under a new tracking id: the
    sync holds it in the inbox. The held report."""
    followed_patient(database_url)
    store_visit(pacs, study_date="20240410", tracking_uid=NEW_UID)
    assert json.loads(run("pacs", "sync").output)["held"] == 1
    [report] = held(run)
    return report


def test_a_held_report_is_completed_from_the_cli(run: Any, pacs_env: Orthanc, pacs: PacsClient,
                                                 database_url: str) -> None:
    """The viewer gave the follow-up measurement a new tracking id; the radiologist says it is
    the deposit calcitrack already follows."""
    report = follow_up_held(run, pacs, database_url)
    with session_factory(database_url)() as s:
        assert count(s, Observation) == 1  # nothing imported while it waits

    plain = run("inbox", "list")
    assert f"{report['id']}  patient P-0001" in plain.output and "choose the stored" in plain.output
    wrong = run("inbox", "accept", str(report["id"]), "--lesion", "L9")
    assert wrong.exit_code == 2 and "patient P-0001 has no lesion 'L9'" in wrong.output

    done = run("inbox", "accept", str(report["id"]), "--lesion", LESION_UID)

    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["observations_created"] == 1
    assert held(run) == []
    with session_factory(database_url)() as s:
        lesion = s.scalar(select(Lesion).where(Lesion.external_id == LESION_UID))
        assert lesion is not None and lesion.assessment_due_at is not None  # queued
        assert count(s, Observation, Observation.lesion_id == lesion.id) == 2
        assert count(s, Lesion) == 1
        assert count(s, KeyImage) == 1
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "sr_report.accepted"))
        assert event.actor == "cli" and event.after is not None
        assert event.after["lesions"] == {NEW_UID: LESION_UID}
    again = run("inbox", "accept", str(report["id"]))
    assert again.exit_code == 1 and "is imported, not waiting in the inbox" in again.output


def test_a_new_lesion_needs_its_compartment(run: Any, pacs_env: Orthanc, pacs: PacsClient,
                                            database_url: str) -> None:
    """A first report of a left knee deposit of a new patient: an SR has no compartment."""
    store_visit(pacs, patient="P-0077", site=KNEE, laterality=LEFT)
    assert json.loads(run("pacs", "sync").output)["held"] == 1
    [report] = held(run)
    assert [n["kind"] for n in report["needs"]] == ["compartment"]
    assert report["needs"][0]["resolved_by"] == (
        "give the compartment, or choose the stored lesion it is")

    still = run("inbox", "accept", str(report["id"]))
    assert still.exit_code == 2 and "the compartment is not known" in still.output
    assert held(run)[0]["id"] == report["id"]  # unchanged

    assert run("inbox", "accept", str(report["id"]), "--compartment", "soft_tissue").exit_code == 0
    with session_factory(database_url)() as s:
        lesion = s.scalar(select(Lesion))
        assert lesion is not None
        assert (lesion.compartment, lesion.region, lesion.laterality) == (
            "soft_tissue", "knee", "left")


def test_a_held_report_is_completed_on_the_inbox_page(run: Any, web: Any, pacs: PacsClient,
                                                      database_url: str) -> None:
    report = follow_up_held(run, pacs, database_url)
    radiologist = web("radiologist")
    page = radiologist.get("/patients")
    assert re.search(r'href="/inbox"\s*>Inbox <span class="count-badge"[^>]*>1</span>', page.text)
    assert 'href="/inbox"' not in web("clinician").get("/patients").text  # radiologists do
    inbox = radiologist.get("/inbox")
    assert inbox.status_code == 200 and "1 report waiting" in inbox.text
    form = radiologist.get(f"/inbox/{report['id']}")
    assert f'name="lesion:{NEW_UID}"' in form.text
    assert f'<option value="{LESION_UID}">lesion {LESION_UID}' in form.text

    done = radiologist.post(f"/inbox/{report['id']}/accept",
                            data={f"lesion:{NEW_UID}": LESION_UID})

    assert done.status_code == 302 and done.headers["Location"] == "/inbox"
    assert "The inbox is empty." in radiologist.get("/inbox").text
    with session_factory(database_url)() as s:
        assert count(s, Observation) == 2 and count(s, Lesion) == 1
        row = s.get(SrReport, report["id"])
        assert row is not None and row.state == ReportState.IMPORTED.value
        assert row.handled_by == "radiologist"


def test_a_held_report_is_rejected_with_a_reason(run: Any, web: Any, pacs: PacsClient,
                                                 database_url: str) -> None:
    report = follow_up_held(run, pacs, database_url)
    radiologist = web("radiologist")
    empty = radiologist.post(f"/inbox/{report['id']}/reject", data={"reason": "  "})
    assert empty.status_code == 400 and "say why the report is rejected" in empty.text

    assert radiologist.post(f"/inbox/{report['id']}/reject",
                            data={"reason": "measured on the wrong side"}).status_code == 302

    assert held(run) == []
    with session_factory(database_url)() as s:
        row = s.get(SrReport, report["id"])
        assert row is not None and row.state == ReportState.REJECTED.value
        assert row.reason == "measured on the wrong side"
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "sr_report.rejected"))
        assert event.reason == "measured on the wrong side" and event.actor == "radiologist"
        assert count(s, Observation) == 1
    # a sync later does not bring it back
    assert json.loads(run("pacs", "sync").output)["held"] == 0
    assert held(run) == []


def test_the_api_lists_and_accepts(run: Any, web: Any, pacs: PacsClient,
                                   database_url: str) -> None:
    follow_up_held(run, pacs, database_url)
    radiologist = web("radiologist")
    listed = radiologist.api("GET", "/api/v1/inbox")
    assert listed.status_code == 200 and listed.json["total"] == 1
    [item] = listed.json["items"]
    assert item["lesions"] == [NEW_UID] and item["source"] == "pacs"
    assert web("clinician").api("GET", "/api/v1/inbox").status_code == 403
    bad = radiologist.api("POST", f"/api/v1/inbox/{item['id']}/accept",
                          json={"lesion": "L9"})
    assert bad.status_code == 400 and bad.json["errors"][0]["path"] == "lesion"

    done = radiologist.api("POST", f"/api/v1/inbox/{item['id']}/accept",
                           json={"compartment": "tendon"})

    assert done.status_code == 200, done.text
    assert done.json["lesions_created"] == 1  # accepted as a new lesion
    assert done.json["report"]["state"] == "imported"
    assert radiologist.api("POST", f"/api/v1/inbox/{item['id']}/reject",
                           json={"reason": "x"}).status_code == 409
