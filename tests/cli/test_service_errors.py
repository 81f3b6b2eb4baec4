"""`tracker` when a server is down or the database cannot be opened: one line on stderr saying
what is wrong and what to set, exit 3 (service unavailable), and no patient data, as a person
sees it in a terminal (a real process: logging and library output included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _port_open
from tracker.migrate import upgrade

TRACKER = str(Path(sys.executable).parent / "tracker")
PATIENT = "PSECRET-4711"
TIMELINE = {"format": "lesion-timeline/1", "patients": [{
    "id": PATIENT, "birth_year": 1970, "lesions": [{
        "id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                             "structure": "supraspinatus", "laterality": "right"},
        "entity": "hadd",
        "observations": [{"date": "2024-01-10", "modality": "XR", "size_mm": [12],
                          "density": "dense", "margin": "well_defined",
                          "note": "private note"}]}]}]}


def tracker(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "CALCITRACK_INSTANCE")}
    return subprocess.run([TRACKER, *args], cwd=cwd, env={**full, **env}, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def timeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps(TIMELINE), encoding="utf-8")
    return path


def closed_port() -> int:
    port = 1
    assert not _port_open("127.0.0.1", port)
    return port


def test_import_with_the_broker_down_stores_and_says_assessment_is_deferred(
    tmp_path: Path, timeline_file: Path
) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade(url)
    done = tracker(tmp_path, "import", str(timeline_file), DATABASE_URL=url,
                   REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["observations_created"] == 1
    assert json.loads(done.stdout)["assessments_queued"] == 0
    assert done.stderr.splitlines() == [
        "note: assessment of 1 changed lesion(s) is deferred: the task queue is unreachable; "
        "it runs when the queue is back"]
    shown = tracker(tmp_path, "show", PATIENT, DATABASE_URL=url)
    assert shown.returncode == 0 and "pending" in shown.stdout  # stored, assessment to come


def test_database_down_is_one_line_and_exit_3(tmp_path: Path, timeline_file: Path) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{closed_port()}/calcitrack"
    done = tracker(tmp_path, "import", str(timeline_file), DATABASE_URL=url)
    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert line.startswith("error: database unavailable at postgresql+psycopg://postgres:***@")
    assert "Connection refused" in line and "DATABASE_URL" in line
    assert "hunter2" not in done.stderr and done.stdout == ""


def test_failed_write_shows_no_patient_data(tmp_path: Path, timeline_file: Path) -> None:
    """A statement the database refuses mid-import (a read-only database): the message used to
    carry the SQL parameters, i.e. the patient's id and notes."""
    db = tmp_path / "db.sqlite"
    upgrade(f"sqlite:///{db}")
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    done = tracker(tmp_path, "import", str(timeline_file), DATABASE_URL=url)
    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert "readonly database" in line
    assert PATIENT not in done.stderr + done.stdout
    assert "private note" not in done.stderr + done.stdout


def test_outside_the_project_without_an_instance_folder(tmp_path: Path,
                                                         timeline_file: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = tracker(elsewhere, "import", str(timeline_file))
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        f"error: no database at {elsewhere}/instance/calcitrack.sqlite (CALCITRACK_INSTANCE is "
        "unset: the instance/ folder of the current folder). Point at yours with "
        "CALCITRACK_INSTANCE=FOLDER (the instance/ folder `make run` made in the project) or "
        "DATABASE_URL=URL (e.g. postgresql://user@host/db), or run `tracker db upgrade` to "
        "create one there"]
    assert not (elsewhere / "instance").exists()  # no empty database left behind

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    done = tracker(elsewhere, "db", "upgrade", CALCITRACK_INSTANCE=str(blocked / "instance"))
    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert line.startswith("error: cannot create the database at sqlite:///")
    assert "CALCITRACK_INSTANCE" in line
