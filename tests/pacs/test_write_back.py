"""Write-back (PACS_WRITE_BACK=1): an assessment that changes the stage of a visit read from a
report queues, in its own transaction, the SR of calcitrack's reading; sending it stores a TID
1500 SR in the PACS that any viewer reads back (highdicom here). One SR per assessment version;
a PACS outage never blocks an assessment, and the reading is sent once the PACS is back."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import highdicom as hd
import numpy as np
import pytest
from pydicom import dcmwrite
from sqlalchemy import select, update

from testkit.dicom import Deposit
from testkit.orthanc import Orthanc
from tests.pacs.visits import LESION_UID, count, followed_patient, store_visit
from tracker.clock import now
from tracker.db import session_factory
from tracker.pacs import coding
from tracker.pacs.client import PacsClient
from tracker.pacs.models import WriteBack, WriteBackState
from tracker.vocabulary import Stage


@pytest.fixture
def writing_back(run: Any, own_orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch) -> Orthanc:
    monkeypatch.setenv("DICOMWEB_URL", own_orthanc.dicomweb_url)
    monkeypatch.setenv("DICOMWEB_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("PACS_WRITE_BACK", "1")
    return own_orthanc


def ok(run: Any, *args: str) -> dict[str, Any]:
    result = run(*args)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output) if result.output.startswith("{") else {}
    return out


def readings(pacs: PacsClient, source: Any) -> list[hd.sr.ComprehensiveSR]:
    """calcitrack's SRs in the source report's study, read back as a viewer would."""
    out = []
    for ref in pacs.search_reports(date(2000, 1, 1)):
        if ref.study_uid != str(source.StudyInstanceUID) or \
                ref.sop_instance_uid == str(source.SOPInstanceUID):
            continue
        data = io.BytesIO()
        dcmwrite(data, pacs.retrieve(ref))
        out.append(hd.sr.srread(io.BytesIO(data.getvalue())))
    return out


def test_the_reading_is_stored_in_the_pacs_and_reads_back(
        run: Any, writing_back: Orthanc, database_url: str) -> None:
    followed_patient(database_url)
    with PacsClient(writing_back.dicomweb_url) as pacs:
        image, source = store_visit(pacs, study_date="20240410",
                                    deposit=Deposit(column=300, row=200, half_width=40,
                                                    half_height=25))
        assert ok(run, "pacs", "sync")["imported"] == 1
        ok(run, "assess", "--all")
        with session_factory(database_url)() as s:
            [row] = s.scalars(select(WriteBack))  # April only: January came from no report
            assert row.state == WriteBackState.PENDING.value
        assert ok(run, "pacs", "write-back") == {"sent": 1, "failed": 0}

        [sr] = readings(pacs, source)
    record = json.loads(run("show", "P-0001", "--json").output)["lesions"][0]
    april = record["observations"][-1]
    assert sr.SeriesDescription == "calcitrack readings" and sr.PatientID == "P-0001"
    evidence = {uid for _, _, uid, _ in sr.get_evidence()}
    assert evidence == {str(source.SOPInstanceUID), str(image.dataset.SOPInstanceUID)}
    [group] = sr.content.get_planar_roi_measurement_groups()
    assert group.tracking_uid == LESION_UID
    [stage] = group.get_qualitative_evaluations()
    assert coding.stage_of(stage.value) is Stage(april["stage"])
    [confidence] = group.get_measurements()
    assert confidence.value == pytest.approx(april["confidence"], abs=1e-4)
    [follow_up] = group[0].ContentSequence.find(coding.NEXT_FOLLOW_UP)
    assert follow_up.value.isoformat() == record["assessment"]["next_follow_up"]
    np.testing.assert_array_equal(group.roi.value, [[260, 200], [340, 200]])
    with session_factory(database_url)() as s:
        [row] = s.scalars(select(WriteBack))
        assert row.state == WriteBackState.SENT.value and row.sop_instance_uid == sr.SOPInstanceUID

    # an assessment run again changes no stage: nothing more to send
    ok(run, "assess", "--all")
    assert ok(run, "pacs", "write-back") == {"sent": 0, "failed": 0}
    with session_factory(database_url)() as s:
        assert count(s, WriteBack) == 1


def test_an_outage_never_blocks_the_assessment_and_the_reading_follows(
        run: Any, writing_back: Orthanc, database_url: str) -> None:
    followed_patient(database_url)
    with PacsClient(writing_back.dicomweb_url) as pacs:
        _, source = store_visit(pacs, study_date="20240410")
    ok(run, "pacs", "sync")
    writing_back.stop()

    assessed = run("assess", "--all")  # the PACS is down: the assessment does not care
    assert assessed.exit_code == 0, assessed.output
    down = run("pacs", "write-back")
    assert down.exit_code == 3 and "cannot be reached" in down.output
    with session_factory(database_url)() as s:
        [row] = s.scalars(select(WriteBack))
        assert (row.state, row.attempts) == (WriteBackState.PENDING.value, 1)
        due = row.next_attempt_at  # SQLite keeps no zone: the server's, as written
        due = due if due.tzinfo else due.replace(tzinfo=now().tzinfo)
        assert due > now() + timedelta(seconds=50)  # backing off
        assert "cannot be reached" in (row.last_error or "")
    status = json.loads(run("pacs", "status", "--json").output)["write_back"]
    assert status["pending"] == 1 and status["failing"][0]["attempts"] == 1

    writing_back.start()
    assert ok(run, "pacs", "write-back") == {"sent": 0, "failed": 0}  # not due yet
    with session_factory(database_url)() as s:  # the back-off has passed
        s.execute(update(WriteBack).values(next_attempt_at=now() - timedelta(seconds=1)))
        s.commit()
    assert ok(run, "pacs", "write-back") == {"sent": 1, "failed": 0}
    with PacsClient(writing_back.dicomweb_url) as pacs:
        assert len(readings(pacs, source)) == 1


def test_without_the_setting_nothing_is_queued(run: Any, pacs_env: Orthanc, pacs: PacsClient,
                                               database_url: str) -> None:
    followed_patient(database_url)
    store_visit(pacs, study_date="20240410")
    ok(run, "pacs", "sync")
    ok(run, "assess", "--all")
    with session_factory(database_url)() as s:
        assert count(s, WriteBack) == 0
