"""Browser fixtures: the app on a real HTTP server over a seeded SQLite database, and a
Chromium page (Debian's, never a downloaded one) that fails the test on any page error.

One Chromium runs per test process (starting one took seconds); each test gets a context of
its own (its own cookies, storage and cache), so no test sees another's session."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.web.seed import PASSWORD, make_users, seed_patient
from tracker import alert_counts
from tracker.alert_columns import sync_alert_columns
from tracker.db import engine_for, session_factory
from tracker.models import Alert
from web import create_app
from workers import dispatch

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing (CI=true: browser tests must run)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


def migrated_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the session's migrated SQLite template (tests/conftest.py)."""
    path = tmp_path / "browser.sqlite"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The app on a real HTTP server (werkzeug, a thread) over a seeded SQLite database; the
    assessment queue is a list (the test plays the worker)."""
    queued: list[int] = []
    def record(ids: Any) -> int:
        queued.extend(ids)
        return len(ids)

    monkeypatch.setattr(dispatch, "request_assessment", record)
    url = migrated_sqlite(request, tmp_path)
    with session_factory(url)() as s:
        make_users(s)
        lesion_ids = seed_patient(s, "P-0001", lesions=3)
        other = seed_patient(s, "P-0002", lesions=1)
        s.add(Alert(lesion_id=other[0], kind="rapid_progression", severity="urgent",
                    rule="generic.rapid_progression", since=date(2024, 9, 15),
                    reason="longest diameter +80% in 6 months"))
        s.flush()
        sync_alert_columns(s, other)
        alert_counts.rebuild(s)
        s.commit()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test",
                      "SESSION_COOKIE_SECURE": False})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{httpd.server_port}", "url": url,
               "lesions": lesion_ids, "queued": queued}
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        engine_for(url).dispose()


_BROWSER: dict[str, Any] = {}


def chromium() -> Any:
    """This process's Chromium, started at its first use and closed at exit."""
    if "browser" not in _BROWSER:
        _require_chromium()
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _BROWSER["playwright"] = playwright
        _BROWSER["browser"] = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    return _BROWSER["browser"]


ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-gpu"]


@pytest.fixture(scope="session", autouse=True)
def _close_chromium() -> Iterator[None]:
    yield
    if "browser" in _BROWSER:
        _BROWSER.pop("browser").close()
        _BROWSER.pop("playwright").stop()


@contextmanager
def open_page(expected: Callable[[Any], bool] = lambda message: False) -> Iterator[Any]:
    """A Chromium page that fails the test on any page error, and on any console error but a
    form's 400 (field-level messages) and the `expected` ones."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium().new_context(viewport={"width": 1360, "height": 900})
    try:
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda m: errors.append(m.text)
              if m.type == "error" and "status of 400" not in m.text and not expected(m)
              else None)
        yield pg
    finally:
        context.close()
    assert errors == [], errors


@pytest.fixture
def page(server: dict[str, Any]) -> Iterator[Any]:
    with open_page() as pg:
        yield pg


def shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # a sticky header would land mid-page otherwise
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/alerts")
