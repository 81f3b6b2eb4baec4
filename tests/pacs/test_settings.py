"""PACS settings: the same environment for the CLI, the web layer and the workers; without
DICOMWEB_URL there is no PACS client at all."""

from __future__ import annotations

import pytest

from tracker.config import from_env
from tracker.errors import InvalidInput
from tracker.pacs.client import PacsClient

PACS_VARIABLES = ("DICOMWEB_URL", "DICOMWEB_USERNAME", "DICOMWEB_PASSWORD", "DICOMWEB_TOKEN",
                  "DICOMWEB_TIMEOUT_SECONDS", "PACS_POLL_MINUTES", "PACS_WRITE_BACK")


@pytest.fixture(autouse=True)
def no_pacs_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PACS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_no_url_no_pacs() -> None:
    settings = from_env()
    assert settings.dicomweb_url is None and PacsClient.from_settings(settings) is None
    assert settings.pacs_poll_minutes == 5 and settings.pacs_write_back is False
    assert settings.dicomweb_timeout_seconds == 30


def test_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DICOMWEB_URL", "https://pacs.example/dicom-web/")
    monkeypatch.setenv("DICOMWEB_USERNAME", "calcitrack")
    monkeypatch.setenv("DICOMWEB_PASSWORD", "pw")
    monkeypatch.setenv("DICOMWEB_TIMEOUT_SECONDS", "7.5")
    monkeypatch.setenv("PACS_POLL_MINUTES", "15")
    monkeypatch.setenv("PACS_WRITE_BACK", "1")
    settings = from_env()
    assert settings.pacs_poll_minutes == 15 and settings.pacs_write_back is True
    client = PacsClient.from_settings(settings)
    assert client is not None
    assert client.url == "https://pacs.example/dicom-web"
    assert client.session.auth == ("calcitrack", "pw") and client.timeout_seconds == 7.5


@pytest.mark.parametrize(("env", "path"), [
    ({"DICOMWEB_URL": "pacs.example/dicom-web"}, "DICOMWEB_URL"),
    ({"DICOMWEB_USERNAME": "calcitrack"}, "DICOMWEB_USERNAME"),
    ({"DICOMWEB_TOKEN": "t", "DICOMWEB_USERNAME": "u", "DICOMWEB_PASSWORD": "p"},
     "DICOMWEB_TOKEN"),
    ({"DICOMWEB_TIMEOUT_SECONDS": "0"}, "DICOMWEB_TIMEOUT_SECONDS"),
])
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                        path: str) -> None:
    monkeypatch.setenv("DICOMWEB_URL", "http://127.0.0.1:18042/dicom-web")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput) as bad:
        PacsClient.from_settings(from_env())
    assert [p.path for p in bad.value.problems] == [path]


def test_beat_polls_the_pacs_only_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.schedule import beat_schedule

    assert not {"pacs-sync", "pacs-write-back"} & set(beat_schedule(from_env()))
    monkeypatch.setenv("DICOMWEB_URL", "http://127.0.0.1:18042/dicom-web")
    monkeypatch.setenv("PACS_POLL_MINUTES", "7")
    schedule = beat_schedule(from_env())
    assert schedule["pacs-sync"]["task"] == "calcitrack.pacs_sync"
    assert schedule["pacs-sync"]["schedule"] == 7 * 60
    assert "pacs-write-back" not in schedule
    monkeypatch.setenv("PACS_WRITE_BACK", "1")
    assert beat_schedule(from_env())["pacs-write-back"]["task"] == "calcitrack.send_write_backs"
