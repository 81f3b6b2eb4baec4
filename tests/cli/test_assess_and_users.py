"""`tracker assess / scan / user` as an operator runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from testkit.factories import PERSISTENT, make_lesion
from tracker.cli.main import main
from tracker.db import session_factory
from tracker.models import PatientSummary


def test_cli_assess_and_scan(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_factory(database_url)() as s:
        make_lesion(s, observations=PERSISTENT)
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    assessed = runner.invoke(main, ["assess", "--all", "--as-of", "2025-03-01"])
    assert assessed.exit_code == 0, assessed.output
    assert '"changed": 1' in assessed.output

    scanned = runner.invoke(main, ["scan", "--as-of", "2025-09-01"])
    assert scanned.exit_code == 0, scanned.output
    assert '"opened": 1' in scanned.output and '"kept": 1' in scanned.output

    wrong = runner.invoke(main, ["assess", "--all", "--stale"])
    assert wrong.exit_code == 2


def test_cli_db_summaries_finds_and_mends_a_stale_summary(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_factory(database_url)() as s:
        make_lesion(s, observations=PERSISTENT)
        s.execute(update(PatientSummary).values(lesions=7))  # written around the services
        s.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    stale = runner.invoke(main, ["db", "summaries"])
    assert stale.exit_code == 1 and "1 differ from a recount" in stale.output
    mended = runner.invoke(main, ["db", "summaries", "--rebuild"])
    assert mended.exit_code == 0 and "1 patients" in mended.output
    assert runner.invoke(main, ["db", "summaries"]).exit_code == 0


def test_cli_user_add_and_token(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    r = runner.invoke(main, ["user", "add", "boss", "--role", "admin"],
                      input="long-enough-1\nlong-enough-1\n")
    assert r.exit_code == 0, r.output
    assert "user boss added (admin)" in r.output
    r = runner.invoke(main, ["user", "add", "boss", "--password", "long-enough-1"])
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(main, ["user", "add", "x", "--password", "short"])
    assert r.exit_code == 2 and "password: needs at least 10 characters" in r.output
    r = runner.invoke(main, ["user", "token", "boss", "ci"])
    assert r.exit_code == 0 and r.output.startswith("ct_")
