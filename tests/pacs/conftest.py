"""A real PACS for the tests: a private Orthanc with DICOMweb per test process.

Each pytest(-xdist) process starts its own Orthanc (Debian's packages, testkit/orthanc.py) on a
free loopback port with its storage under the process's tmp folder, so no two processes or
suite runs ever see each other's studies; every test starts from an empty PACS. Orthanc
missing or not starting: skipped with the reason outside CI, a failure with CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.orthanc import Orthanc, OrthancMissing
from tests.conftest import IN_CI
from tracker.pacs.client import PacsClient


def start_orthanc(folder: Path, users: dict[str, str] | None = None) -> Orthanc:
    """A started private Orthanc, or the test skips (fails in CI) with the reason."""
    try:
        return Orthanc(folder, users=users).start()
    except OrthancMissing as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI=true: the PACS tests must run, not skip)")
        pytest.skip(f"{exc}; .ci/services installs Orthanc")


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
