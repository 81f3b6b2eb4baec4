"""Reading the PACS: measurement reports stored in a real Orthanc become observations (with
their key images) without an upload, each once, each in its own transaction; what cannot be
imported as it is waits in the inbox or is rejected with its reason; an outage loses nothing."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import date
from typing import Any

from PIL import Image
from pydicom.dataset import Dataset
from sqlalchemy import select

from testkit.dicom import Deposit
from testkit.orthanc import Orthanc
from tests.cli.test_import_export import row_counts
from tests.pacs.conftest import signed_in
from tests.pacs.visits import LESION_UID, count, followed_patient, is_mark, store_visit
from tracker.db import session_factory
from tracker.models import AuditEvent, Lesion, Observation
from tracker.pacs.client import InstanceRef, PacsClient, PacsRefused, PacsUnavailable
from tracker.pacs.models import KeyImage, PacsSync, ReportState, SrReport
from tracker.pacs.sync import OVERLAP_DAYS, sync_reports

TODAY = date.today()


def synced(run: Any, *args: str) -> dict[str, Any]:
    result = run("pacs", "sync", *args)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def test_a_report_in_the_pacs_becomes_a_staged_observation_with_its_key_image(
        run: Any, web: Any, pacs: PacsClient, database_url: str) -> None:
    """Done when: a reader measures the deposit in the viewer, which stores the SR in the
    PACS; calcitrack reads it on its own, stages the visit and shows the image it was measured
    on, with the measurement drawn where it was made. Nobody uploads anything."""
    followed_patient(database_url)
    store_visit(pacs, study_date="20240410",
                deposit=Deposit(column=300, row=200, half_width=40, half_height=25))

    summary = synced(run)
    assert (summary["found"], summary["imported"], summary["held"], summary["rejected"]) == (
        1, 1, 0, 0)
    assert run("assess", "--all").exit_code == 0

    record = json.loads(run("show", "P-0001", "--json").output)
    [lesion] = record["lesions"]
    visit = lesion["observations"][-1]
    assert (visit["date"], visit["modality"], visit["size_mm"]) == ("2024-04-10", "XR", [16.0])
    assert visit["stage"] not in ("pending", None) and lesion["assessment"]["status"] == "current"

    page = web("clinician").get(f"/lesions/{lesion['id']}")
    assert page.status_code == 200
    assert "Key images" in page.text
    [src] = re.findall(r'<img src="(/lesions/\d+/key-images/\d+\.png)"', page.text)
    png = web("clinician").get(src)
    assert png.status_code == 200 and png.mimetype == "image/png"
    thumb = Image.open(io.BytesIO(png.data)).convert("RGB")
    assert thumb.size == (256, 256)  # 512 px radiograph, half size
    # the polyline runs along the deposit's long axis, (260, 200) -> (340, 200) in the image
    along = [thumb.getpixel((x, 100)) for x in range(134, 167, 4)]
    assert all(is_mark(p) for p in along), along
    assert not any(is_mark(thumb.getpixel((150, y))) for y in (80, 90, 110, 120))
    assert not any(is_mark(thumb.getpixel((x, 100))) for x in (100, 120, 180, 200))


def test_a_second_sync_changes_nothing(run: Any, pacs_env: Orthanc, pacs: PacsClient,
                                       database_url: str) -> None:
    followed_patient(database_url)
    store_visit(pacs, study_date="20240410")
    store_visit(pacs, study_date="20240710")
    assert synced(run)["imported"] == 2
    before = row_counts(database_url)
    with session_factory(database_url)() as s:
        reports_before = count(s, SrReport)
        images_before = count(s, KeyImage)
        audits = count(s, AuditEvent)

    again = synced(run)

    assert (again["found"], again["imported"], again["held"], again["backlog"]) == (2, 0, 0, 0)
    assert row_counts(database_url) == before
    with session_factory(database_url)() as s:
        assert (count(s, SrReport), count(s, KeyImage), count(s, AuditEvent)) == (
            reports_before, images_before, audits)
        state = s.get(PacsSync, 1)
        assert state is not None and state.watermark == TODAY
        assert state.last_error is None and state.last_success_at is not None
    # the next sync asks again for the watermark's day and the days before it
    assert synced(run)["since"] == date.fromordinal(TODAY.toordinal() - OVERLAP_DAYS).isoformat()


def test_one_bad_report_never_blocks_the_others(run: Any, pacs_env: Orthanc, pacs: PacsClient,
                                                database_url: str) -> None:
    """Three reports: one imports; one measures a second deposit at the same shoulder under a
    new tracking id (is it the known one?) and waits in the inbox; one gives a length of
    520 mm and is rejected with that reason."""
    followed_patient(database_url)
    store_visit(pacs, study_date="20240410")
    store_visit(pacs, study_date="20240411", tracking_uid="1.2.826.0.1.3680043.8.498.99")
    _, bad = store_visit(pacs, study_date="20240412",
                         deposit=Deposit(column=256, row=256, half_width=1300, half_height=20))

    summary = synced(run)

    assert (summary["imported"], summary["held"], summary["rejected"], summary["backlog"]) == (
        1, 1, 1, 0)
    with session_factory(database_url)() as s:
        rejected = s.scalar(select(SrReport).where(
            SrReport.sop_instance_uid == str(bad.SOPInstanceUID)))
        assert rejected is not None and rejected.state == ReportState.REJECTED.value
        assert "520 mm; a size must be at most 500 mm" in (rejected.reason or "")
    inbox = json.loads(run("inbox", "list", "--json").output)["reports"]
    [held] = inbox
    assert held["needs"][0]["kind"] == "lesion" and held["lesions"] == [
        "1.2.826.0.1.3680043.8.498.99"]
    assert held["needs"][0]["message"].endswith(
        f"who has {LESION_UID} at the right shoulder: is it that one, or a new lesion?")
    status = run("pacs", "status")
    assert status.exit_code == 0
    assert "1 imported, 1 held in the inbox, 1 rejected" in status.output
    assert "a size must be at most 500 mm" in status.output


class _Meeting(PacsClient):
    """A client whose first retrieval waits for the other sync's, so that both hold the same
    report at the same time."""

    def __init__(self, url: str, barrier: threading.Barrier) -> None:
        super().__init__(url, timeout_seconds=10)
        self.barrier = barrier
        self.first = True

    def retrieve(self, ref: InstanceRef) -> Dataset:
        ds = super().retrieve(ref)
        if self.first:
            self.first = False
            self.barrier.wait(timeout=30)
        return ds


def test_two_syncs_at_once_import_each_report_once(pacs_env: Orthanc, pacs: PacsClient,
                                                   postgres_url: str) -> None:
    """Beat's sync and an operator's `tracker pacs sync` at the same moment, on PostgreSQL:
    both list the same reports and retrieve the same one; its row lock lets one import it and
    the other find it done."""
    followed_patient(postgres_url)
    for day in ("20240410", "20240510", "20240610"):
        store_visit(pacs, study_date=day)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def one_sync() -> None:
        with _Meeting(pacs_env.dicomweb_url, barrier) as client, \
                session_factory(postgres_url)() as s:
            results.append(sync_reports(s, client, today=TODAY))

    threads = [threading.Thread(target=one_sync) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2, "a sync failed"
    assert sum(r.imported for r in results) == 3
    assert sum(r.skipped for r in results) >= 1
    with session_factory(postgres_url)() as s:
        assert count(s, Observation) == 4
        assert count(s, SrReport, SrReport.state == ReportState.IMPORTED.value) == 3
        assert count(s, AuditEvent, AuditEvent.action == "sr_report.imported") == 3


class _Dying(PacsClient):
    """A client to a PACS that goes down after it answered the first retrieval."""

    def __init__(self, server: Orthanc) -> None:
        super().__init__(server.dicomweb_url, timeout_seconds=5)
        self.server = server

    def retrieve(self, ref: InstanceRef) -> Dataset:
        ds = super().retrieve(ref)
        self.server.stop()
        return ds


def test_an_outage_mid_sync_loses_nothing_and_is_caught_up(
        run: Any, own_orthanc: Orthanc, monkeypatch: Any, database_url: str) -> None:
    monkeypatch.setenv("DICOMWEB_URL", own_orthanc.dicomweb_url)
    monkeypatch.setenv("DICOMWEB_TIMEOUT_SECONDS", "5")
    followed_patient(database_url)
    with PacsClient(own_orthanc.dicomweb_url) as pacs:
        for day in ("20240410", "20240510", "20240610"):
            store_visit(pacs, study_date=day)

    with _Dying(own_orthanc) as client, session_factory(database_url)() as s:
        try:
            sync_reports(s, client, today=TODAY)
            raise AssertionError("the sync went on without the PACS")
        except PacsUnavailable as exc:
            assert "cannot be reached" in str(exc)

    with session_factory(database_url)() as s:
        assert count(s, SrReport, SrReport.state == ReportState.IMPORTED.value) == 1
        assert count(s, SrReport, SrReport.state == ReportState.PENDING.value) == 2
        state = s.get(PacsSync, 1)
        assert state is not None and state.last_success_at is None
        assert "cannot be reached" in (state.last_error or "")
    down = run("pacs", "sync")
    assert down.exit_code == 3 and "cannot be reached" in down.output
    assert len(down.output.strip().splitlines()) == 1
    status = json.loads(run("pacs", "status", "--json").output)
    assert status["backlog"] == 2 and "cannot be reached" in status["last_error"]
    admin = signed_in(database_url)("admin").get("/admin/pacs")
    assert admin.status_code == 200
    assert "2 reports listed, not yet handled" in admin.text and "cannot be reached" in admin.text
    assert "Last successful sync</span><span class=\"v\">never" in admin.text

    own_orthanc.start()
    summary = synced(run)

    assert (summary["imported"], summary["backlog"]) == (2, 0)
    with session_factory(database_url)() as s:
        dates = sorted(d.isoformat() for d in s.scalars(select(Observation.date).join(Lesion)
                                                        .where(Lesion.external_id == LESION_UID)))
        assert dates == ["2024-01-10", "2024-04-10", "2024-05-10", "2024-06-10"]
    status = json.loads(run("pacs", "status", "--json").output)
    assert status["backlog"] == 0 and status["last_error"] is None


def test_without_a_pacs_the_sync_says_so(run: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("DICOMWEB_URL", raising=False)
    result = run("pacs", "sync")
    assert result.exit_code == 2 and "DICOMWEB_URL: is not set" in result.output


class _Refusing(PacsClient):
    """A PACS that lists a report it then refuses to give (it was deleted meanwhile)."""

    def retrieve(self, ref: InstanceRef) -> Dataset:
        raise PacsRefused(f"the PACS refused instance {ref.sop_instance_uid}: HTTP 404", 404)


def test_a_report_the_pacs_keeps_refusing_is_rejected_after_five_attempts(
        pacs_env: Orthanc, pacs: PacsClient, database_url: str) -> None:
    store_visit(pacs)
    with _Refusing(pacs_env.dicomweb_url) as client, session_factory(database_url)() as s:
        for attempt in range(1, 6):
            done = sync_reports(s, client, today=TODAY)
            assert done.failed == 1 and done.backlog == (0 if attempt == 5 else 1)
        [row] = s.scalars(select(SrReport))
        assert row.state == ReportState.REJECTED.value and row.attempts == 5
        assert row.reason == ("not retrieved after 5 attempts: the PACS refused instance"
                              f" {row.sop_instance_uid}: HTTP 404")
        assert count(s, AuditEvent, AuditEvent.action == "sr_report.rejected") == 1
