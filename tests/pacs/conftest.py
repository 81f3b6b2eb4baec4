"""A real PACS for the tests: a private Orthanc with DICOMweb per test process.

Each pytest(-xdist) process starts its own Orthanc (Debian's packages, testkit/orthanc.py) on a
free loopback port with its storage under the process's tmp folder, so no two processes or
suite runs ever see each other's studies; every test starts from an empty PACS. Orthanc
missing or not starting: skipped with the reason outside CI, a failure with CI=true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testkit.orthanc import Orthanc, OrthancMissing
from tests.conftest import IN_CI, PAGE_ENGINES, page_database_url
from tracker.pacs.client import PacsClient

if TYPE_CHECKING:
    from tests.web.conftest import Client


def start_orthanc(folder: Path, users: dict[str, str] | None = None) -> Orthanc:
    """A started private Orthanc, or the test skips (fails in CI) with the reason."""
    try:
        return Orthanc(folder, users=users).start()
    except OrthancMissing as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI=true: the PACS tests must run, not skip)")
        pytest.skip(f"{exc}; .ci/services installs Orthanc")


@pytest.fixture(params=PAGE_ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One engine for pages and the API (tests/conftest.py PAGE_ENGINES says why)."""
    yield from page_database_url(request, tmp_path)


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()


@pytest.fixture
def orthanc(orthanc_server: Orthanc) -> Iterator[Orthanc]:
    """This process's Orthanc, empty."""
    orthanc_server.clear()
    yield orthanc_server


@pytest.fixture
def own_orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    """An Orthanc of the test's own, for a test that stops or freezes it."""
    server = start_orthanc(tmp_path / "orthanc")
    yield server
    server.stop()


@pytest.fixture
def pacs(orthanc: Orthanc) -> Iterator[PacsClient]:
    with PacsClient(orthanc.dicomweb_url, timeout_seconds=10) as client:
        yield client


@pytest.fixture
def pacs_env(orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch) -> Orthanc:
    """The CLI, the web app and the services pointed at this process's Orthanc."""
    monkeypatch.setenv("DICOMWEB_URL", orthanc.dicomweb_url)
    monkeypatch.setenv("DICOMWEB_TIMEOUT_SECONDS", "10")
    return orthanc


def signed_in(database_url: str) -> Callable[[str | None], Client]:
    """Clients of a new app on the database (the PACS and the instance folder from the
    environment), signed in by role; assessment requests must be recorded by the caller."""
    from tests.web.conftest import Client
    from tests.web.seed import make_users
    from tracker.db import session_factory
    from tracker.models import User
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "SESSION_COOKIE_SECURE": False})
    with session_factory(database_url)() as s:
        if s.query(User.id).first() is None:
            make_users(s)
    return lambda role: Client(app.test_client(), role)


@pytest.fixture
def web(run: Any, database_url: str, pacs_env: Orthanc,
        monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], Client]:
    """A signed-in client of the app on the test's database and PACS (the instance folder is
    the test's, as for `run`); assessment requests are recorded, not sent."""
    from workers import dispatch

    monkeypatch.setattr(dispatch, "request_assessment", lambda ids: len(list(ids)))
    return signed_in(database_url)
