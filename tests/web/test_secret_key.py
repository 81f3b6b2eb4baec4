"""Without a SECRET_KEY of its own the web app refuses to start (debug and tests excepted);
`make run` writes one per instance folder, once, readable by its owner only; production
(docker-compose) must be given one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_deployment import ROOT, compose
from web import DEV_SECRET, MissingSecretKey, create_app


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("CALCITRACK_INSTANCE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("key", [None, DEV_SECRET, ""])
def test_production_refuses_to_start_without_its_own_key(instance: Path, database_url: str,
                                                         key: str | None) -> None:
    config = {"DATABASE_URL": database_url} | ({} if key is None else {"SECRET_KEY": key})
    with pytest.raises(MissingSecretKey) as exc:
        create_app(config)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith("SECRET_KEY is not set (or is the public development key): the"
                              " web app will not start. Set the SECRET_KEY environment"
                              " variable to a long random value")
    assert f"write it to {instance / 'secret_key'}" in message


def test_tests_and_the_debug_server_may_use_the_development_key(instance: Path,
                                                                database_url: str) -> None:
    assert create_app({"DATABASE_URL": database_url, "TESTING": True}).secret_key == DEV_SECRET
    assert create_app({"DATABASE_URL": database_url, "DEBUG": True}).secret_key == DEV_SECRET


def test_the_environment_or_the_instance_file_gives_the_key(
        instance: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (instance / "secret_key").write_text("kept-in-the-instance\n")
    assert create_app({"DATABASE_URL": database_url}).secret_key == "kept-in-the-instance"
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert create_app({"DATABASE_URL": database_url}).secret_key == "from-the-environment"


def test_make_writes_one_key_per_instance_and_keeps_it(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "CALCITRACK_INSTANCE": str(tmp_path / "instance")}

    def make_secret() -> str:
        subprocess.run(["make", "-s", "-o", "install", f"BIN={bin_dir}", "secret"], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        return (tmp_path / "instance" / "secret_key").read_text()

    first = make_secret()
    assert len(first.strip()) == 64
    assert stat.S_IMODE((tmp_path / "instance" / "secret_key").stat().st_mode) == 0o600
    assert make_secret() == first  # a restart keeps the sessions signed with it
    other = {**env, "CALCITRACK_INSTANCE": str(tmp_path / "other")}
    subprocess.run(["make", "-s", "-o", "install", f"BIN={bin_dir}", "secret"], cwd=ROOT,
                   env=other, check=True, capture_output=True)
    assert (tmp_path / "other" / "secret_key").read_text() != first
    assert "keep_secret_key" in subprocess.run(["make", "-n", "-o", "install", "-o", "demo", "run"],
                                      cwd=ROOT, env=env, check=True, capture_output=True,
                                      text=True).stdout


def test_compose_requires_a_secret_key() -> None:
    """`${SECRET_KEY:?...}`: docker compose stops with that message when it is unset."""
    assert compose()["x-app"]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
