"""The web layer while a server is down: the database (our own 503 page, rendered without
it) and the task queue (the import says assessment is deferred)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import ENGINES, _port_open
from tests.web.test_pages import _timeline
from tracker.models import Observation
from tracker.services.users import issue_token
from workers import dispatch

SEND_FOR_REAL = dispatch.request_assessment  # before the web fixtures record it instead


def unreachable(database_url: str, tmp_path: Path) -> str:
    """A database URL of the same engine that cannot be opened (the server is down)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/no-such-folder/calcitrack.sqlite"
    assert not _port_open("127.0.0.1", 1)
    return "postgresql+psycopg://postgres@127.0.0.1:1/calcitrack"


@pytest.mark.parametrize("database_url", ENGINES, indirect=True)  # each engine's outage
def test_database_outage_shows_our_503_page_on_signed_in_pages(
    app: Any, login: Any, session: Session, database_url: str, tmp_path: Path
) -> None:
    token = issue_token(session, "clinician", "outage", actor="admin")
    client = login("clinician")
    assert client.get("/patients").status_code == 200
    app.config["DATABASE_URL"] = unreachable(database_url, tmp_path)

    for url in ("/patients", "/alerts", "/lesions/1"):
        page = client.get(url)
        assert page.status_code == 503, (url, page.text[:300])
        assert "Service unavailable" in page.text
        assert "the database cannot be reached just now; nothing was changed" in page.text
        assert '<link rel="stylesheet"' in page.text  # the project's page, not Werkzeug's
        assert page.headers["Retry-After"] == "30"
    api = app.test_client().get("/api/v1/patients",
                                headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 503
    assert api.json["errors"][0]["message"].startswith("the database cannot be reached")

    app.config["DATABASE_URL"] = database_url  # back: the same session works again
    assert client.get("/patients").status_code == 200


def test_import_page_says_assessment_is_deferred_when_the_queue_is_down(
    login: Any, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "request_assessment", SEND_FOR_REAL)
    assert not _port_open("127.0.0.1", 1)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    client = login("radiologist")
    r = client.post("/import", {"file": (io.BytesIO(json.dumps(_timeline()).encode()),
                                         "t.json")}, content_type="multipart/form-data")
    assert r.status_code == 200
    assert ("Assessment of 1 changed lesion(s) is deferred: the task queue is unreachable; "
            "it runs when the queue is back.") in r.text
    assert "queued" not in r.text
    assert session.scalar(select(func.count(Observation.id))) == 1  # stored all the same
