"""flaskr-style fixtures: an app on its own migrated database (PostgreSQL), a test
client, and a signed-in client per role that carries the CSRF token like a browser would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.conftest import PAGE_ENGINES, page_database_url
from tests.web.seed import PASSWORD, make_users
from tracker.db import session_factory
from tracker.services.users import issue_token
from web import create_app
from workers import dispatch

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=PAGE_ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One engine for pages and the API (tests/conftest.py PAGE_ENGINES says why)."""
    yield from page_database_url(request, tmp_path)


@pytest.fixture
def app(database_url: str) -> Any:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "SESSION_COOKIE_SECURE": False})
    with session_factory(database_url)() as s:
        make_users(s)
    return app


class Client:
    """A test client signed in as one user, adding the CSRF token to every form post."""

    def __init__(self, client: FlaskClient, username: str | None) -> None:
        self.client = client
        self.token = ""
        if username is not None:
            page = client.get("/login")
            self.token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
            r = client.post("/login", data={"username": username, "password": PASSWORD,
                                            "csrf_token": self.token})
            assert r.status_code == 302, r.text
            page = client.get("/patients")
            self.token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]

    def get(self, url: str, **kw: Any) -> TestResponse:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)

    def api(self, method: str, url: str, **kw: Any) -> TestResponse:
        headers = {"X-CSRFToken": self.token, **kw.pop("headers", {})}
        return self.client.open(url, method=method, headers=headers, **kw)


@pytest.fixture
def login(app: Any) -> Callable[[str | None], Client]:
    def make(username: str | None) -> Client:
        return Client(app.test_client(), username)

    return make


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Assessment requests, recorded instead of sent (the workers have their own tests)."""
    calls: list[list[int]] = []

    def record(lesion_ids: Any) -> int:
        calls.append(list(lesion_ids))
        return len(calls[-1])

    monkeypatch.setattr(dispatch, "request_assessment", record)
    return calls


@pytest.fixture
def api(app: Any, session: Session) -> Callable[..., TestResponse]:
    """A machine client: bearer token of a radiologist, no cookies, no CSRF token."""
    token = issue_token(session, "radiologist", "test", actor="admin")
    client = app.test_client()

    def call(method: str, url: str, **kw: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return client.open(url, method=method, headers=headers, **kw)

    return call
