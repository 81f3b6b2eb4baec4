"""`tracker assess / scan / user` as an operator runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from testkit.factories import PERSISTENT, make_lesion
from tracker.cli.main import main
from tracker.db import session_factory
from tracker.models import Alert, Lesion, PatientSummary
from tracker.queries.worklist import WorklistFilter, worklist


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


def test_cli_db_worklist_finds_and_mends_copies_written_around_the_services(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two lesions' values changed by hand in SQL (a region; a follow-up date to none): the
    worklist's filters miss their alerts until `tracker db worklist --repair` copies the
    lesions' values again. A cleared alert's copies are nobody's filter: left as they are."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    with session_factory(database_url)() as s:
        moved = make_lesion(s, observations=PERSISTENT).id
        make_lesion(s, observations=PERSISTENT, external_id="L2")
    assert runner.invoke(main, ["assess", "--all", "--as-of", "2025-03-01"]).exit_code == 0
    assert runner.invoke(main, ["scan", "--as-of", "2025-09-01"]).exit_code == 0
    assert runner.invoke(main, ["db", "worklist"]).output == "worklist copies match every lesion\n"

    on_the_knee, today = WorklistFilter(region="knee"), date(2025, 9, 1)
    with session_factory(database_url)() as s:
        uncleared = select(Alert.id).where(Alert.state != "cleared").order_by(Alert.id)
        cleared = s.scalars(uncleared).first()
        s.execute(update(Alert).where(Alert.id == cleared).values(state="cleared", region="hip"))
        alert_ids = list(s.scalars(uncleared))
        s.execute(update(Lesion).where(Lesion.id == moved).values(region="knee"))
        s.execute(update(Lesion).where(Lesion.id != moved).values(next_follow_up=None))
        s.commit()
        assert worklist(s, on_the_knee, today=today).items == []
        assert alert_ids and cleared not in alert_ids

    stale = runner.invoke(main, ["db", "worklist"])
    assert stale.exit_code == 1, stale.output
    assert f"{len(alert_ids)} uncleared alert(s) differ from their lesion in a copied value " \
           f"(patient, region, entity, stage or next follow-up; the first: alert row " \
           f"{alert_ids[0]})" in stale.output
    mended = runner.invoke(main, ["db", "worklist", "--repair"])
    assert mended.exit_code == 0
    assert mended.output == f"worklist copies repaired: {len(alert_ids)} alerts\n"
    assert runner.invoke(main, ["db", "worklist"]).exit_code == 0
    with session_factory(database_url)() as s:
        found = worklist(s, on_the_knee, today=today).items
        assert sorted(a.id for a in found) == sorted(
            s.scalars(select(Alert.id).where(Alert.lesion_id == moved, Alert.state != "cleared")))
        assert found
        copies = {a.id: (a.region, a.next_follow_up) for a in s.scalars(select(Alert))}
        lesions = {le.id: le for le in s.scalars(select(Lesion))}
        for a in s.scalars(select(Alert).where(Alert.state != "cleared")):
            lesion = lesions[a.lesion_id]
            assert copies[a.id] == (lesion.region, lesion.next_follow_up)
        assert copies[cleared][0] == "hip"


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
