"""The production shape carries a PACS the app points at, and the README documents every PACS
setting the code reads."""

from __future__ import annotations

import pytest

from tests.pacs.test_settings import PACS_VARIABLES
from tests.test_deployment import ROOT, compose
from tracker.config import from_env
from workers.schedule import beat_schedule


def test_compose_runs_orthanc_with_dicomweb_and_the_app_points_at_it() -> None:
    doc = compose()
    orthanc = doc["services"]["orthanc"]
    assert orthanc["image"].startswith("orthancteam/orthanc:")
    assert orthanc["environment"]["DICOM_WEB_PLUGIN_ENABLED"] == "true"
    assert "healthcheck" in orthanc and "orthancdata" in doc["volumes"]
    assert "orthancdata:/var/lib/orthanc/db" in orthanc["volumes"]
    env = doc["x-app"]["environment"]
    assert env["DICOMWEB_URL"].endswith("-http://orthanc:8042/dicom-web}")
    assert set(PACS_VARIABLES) <= set(env)
    # the app does not wait for the PACS: it works while the PACS is down
    assert "orthanc" not in doc["x-app"].get("depends_on", {})


def test_compose_beat_polls_the_pacs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The beat service runs with the app's environment, which points at the PACS: its
    schedule has the poll."""
    doc = compose()
    beat = doc["services"]["beat"]
    assert beat["command"][:4] == ["celery", "-A", "workers", "beat"]
    assert beat.get("environment", doc["x-app"]["environment"]) is doc["x-app"]["environment"]
    monkeypatch.setenv("DICOMWEB_URL", "http://orthanc:8042/dicom-web")
    assert "pacs-sync" in beat_schedule(from_env())


def test_readme_documents_every_pacs_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "\n## PACS\n" in readme
    for name in PACS_VARIABLES:
        assert f"`{name}`" in readme, name
