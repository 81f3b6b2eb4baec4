"""Alembic owns the schema: the models and the migrations must describe the same database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker import models  # noqa: F401
from tracker.db import Base, engine_for, session_factory
from tracker.migrate import alembic_config, upgrade
from tracker.models import Alert, Observation, PatientSummary
from tracker.services import records
from tracker.summaries import summary_differences
from tracker.timeline.models import ObservationIn


def _patient_with_lesion(conn: Connection, columns: str, values: str) -> int:
    """Patient P with lesion L of the given columns, in plain SQL (the schema of the revision
    the test stands at, not the models'); the lesion's id."""
    pid = conn.execute(text("INSERT INTO patients (external_id, created_at)"
                            " VALUES ('P', CURRENT_TIMESTAMP) RETURNING id")).scalar_one()
    return int(conn.execute(text(
        f"INSERT INTO lesions (patient_id, external_id, {columns}, data_version)"
        f" VALUES (:p, 'L', {values}, 1) RETURNING id"), {"p": pid}).scalar_one())


def _seen_film(conn: Connection, lesion_id: int, day: str, size: float) -> None:
    """A radiograph that saw the deposit, in the columns every revision since 0001 has."""
    conn.execute(text(
        "INSERT INTO observations (lesion_id, date, modality, visible, size1_mm, density,"
        " margin, created_at, updated_at) VALUES (:l, :d, 'XR', 1, :s, 'dense',"
        " 'well_defined', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"l": lesion_id, "d": day,
                                                                   "s": size})


def test_models_match_migrations(database_url: str) -> None:
    # database_url is already upgraded to head by the fixture
    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_check_constraints_match_by_name(database_url: str) -> None:
    """compare_metadata ignores CHECK constraints; their names at least must agree, so a code
    list or a rule added to a model without a migration fails here."""
    inspector = inspect(engine_for(database_url))
    for table in Base.metadata.sorted_tables:
        stored = {c["name"] for c in inspector.get_check_constraints(table.name)}
        declared = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        assert stored == declared, table.name


def test_revision_2_constraints_hold_what_revision_2_allows(database_url: str) -> None:
    """New alert kinds, event_kind, treatments and a visible observation whose morphology was
    not assessed are stored; what the rules forbid is refused by the database itself."""
    engine = engine_for(database_url)
    with engine.begin() as conn:
        lid = _patient_with_lesion(conn, "compartment, region, laterality, event_date,"
                                   " event_kind", "'soft_tissue', 'thigh', 'left', '2024-01-01',"
                                   " 'trauma'")
        conn.execute(text(
            "INSERT INTO observations (lesion_id, date, modality, visible, size1_mm, study_uid,"
            " accession, created_at, updated_at) VALUES (:l, '2024-02-01', 'CT', TRUE, 12.5,"
            " '1.2.3', 'A1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"l": lid})
        conn.execute(text(
            "INSERT INTO treatments (lesion_id, date, kind, created_at, updated_at)"
            " VALUES (:l, '2024-02-01', 'nsaid', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"l": lid})
        for kind in ("no_treatment_response", "unexplained_mass", "model_changed"):
            conn.execute(text(
                "INSERT INTO alerts (lesion_id, kind, severity, rule, since, reason, state,"
                " opened_at) VALUES (:l, :k, 'info', 'r', '2024-02-01', 'x', 'open',"
                " CURRENT_TIMESTAMP)"), {"l": lid, "k": kind})
    refused = [
        "UPDATE lesions SET event_date = NULL",
        "UPDATE lesions SET event_kind = 'fall'",
        "UPDATE treatments SET kind = 'massage'",
        "INSERT INTO treatments (lesion_id, date, kind, created_at, updated_at) SELECT"
        " lesion_id, date, kind, created_at, updated_at FROM treatments",
        "UPDATE observations SET size1_mm = NULL",
        "UPDATE alerts SET kind = 'unknown'",
    ]
    for statement in refused:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM lesions"))
        assert conn.execute(text("SELECT count(*) FROM treatments")).scalar_one() == 0


def test_revision_2_downgrades_and_upgrades_again(own_database_url: str) -> None:
    url = own_database_url
    command.downgrade(alembic_config(url), "0001")
    assert "treatments" not in inspect(engine_for(url)).get_table_names()
    upgrade(url)
    engine_for(url).dispose()
    with engine_for(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_revision_7_files_earlier_audit_events_under_their_patient_and_lesion(
    own_database_url: str,
) -> None:
    url = own_database_url
    with session_factory(url)() as s:  # rows written by today's models, then the old schema
        lesion = make_lesion(s, observations=[obs("2024-01-10", 12)])
        observation_id = s.scalar(select(Observation.id)
                                  .where(Observation.lesion_id == lesion.id))
        ids = {"patient": lesion.patient_id, "lesion": lesion.id, "observation": observation_id}
        s.commit()
    engine_for(url).dispose()
    command.downgrade(alembic_config(url), "0006")  # 0007 changes data only
    with engine_for(url).begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
        for target_type, target_id in (*ids.items(), ("observation", 999), ("user", 1)):
            conn.execute(text(
                "INSERT INTO audit_events (actor, action, target_type, target_id, at)"
                " VALUES ('t', 'x', :type, :id, CURRENT_TIMESTAMP)"),
                {"type": target_type, "id": target_id})
    upgrade(url)
    with engine_for(url).connect() as conn:
        filed = conn.execute(text("SELECT target_type, patient_id, lesion_id"
                                  " FROM audit_events ORDER BY id")).all()
    p, le = ids["patient"], ids["lesion"]
    assert [tuple(r) for r in filed] == [
        ("patient", p, None), ("lesion", p, le), ("observation", p, le),
        ("observation", None, None),  # its row is gone: nothing to file it under
        ("user", None, None),
    ]


def test_upgrading_a_database_with_data_keeps_every_row(tmp_path: Path) -> None:
    """On SQLite a batch migration rebuilds a table (copy, DROP, rename): with foreign keys on,
    the DROP of `lesions` would cascade and empty observations, treatments and alerts."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0001")
    with engine_for(url).begin() as conn:
        lid = _patient_with_lesion(conn, "compartment, region, laterality, entity",
                                   "'tendon', 'shoulder', 'right', 'hadd'")
        _seen_film(conn, lid, "2024-02-01", 12.5)
    engine_for(url).dispose()
    upgrade(url)
    with engine_for(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lesions")).scalar_one() == 1
        assert conn.execute(text("SELECT size1_mm FROM observations")).scalar_one() == 12.5
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_the_patient_summaries_migration_fills_them_from_the_stored_rows(
    own_database_url: str,
) -> None:
    url = own_database_url
    with session_factory(url)() as s:  # rows written by today's models, then the old schema
        lesion = make_lesion(s, observations=[obs("2024-01-10", 12), obs("2024-06-01", 9)])
        s.add_all([Alert(lesion_id=lesion.id, kind=k, severity=sev, rule="r", reason="x",
                         since=date(2024, 6, 1), state=state)
                   for k, sev, state in (("no_resolution", "warning", "open"),
                                         ("rapid_progression", "urgent", "acknowledged"))])
        make_patient(s, "EMPTY")
        s.commit()
    engine_for(url).dispose()
    command.downgrade(alembic_config(url), "0010")
    assert "patient_summaries" not in inspect(engine_for(url)).get_table_names()
    upgrade(url)
    engine_for(url).dispose()
    with session_factory(url)() as s:
        assert summary_differences(s) == []
        rows = {r.patient_id: (r.urgent, r.warning, r.info, r.lesions, r.pending, r.last_visit)
                for r in s.scalars(select(PatientSummary))}
    assert len(rows) == 2  # the patient without lesions is listed too
    # the acknowledged urgent alert needs no action; the lesion waits for its assessment
    assert rows[lesion.patient_id] == (0, 1, 0, 1, 1, date(2024, 6, 1))


def test_a_deleted_rows_id_is_never_given_again(session: Session) -> None:
    """A removed visit's id (and with version 1 its ETag) must not become another lesion's
    visit: an old URL or If-Match would reach it. PostgreSQL's sequences never reuse an id;
    SQLite, without AUTOINCREMENT, gave the newest row's id to the next row."""
    other = make_lesion(session, patient=make_patient(session, "P-2"),
                        observations=[obs("2024-01-10", 5)])
    first = make_lesion(session, observations=[obs("2024-01-10", 12), obs("2024-03-01", 10)])
    newest = max(o.id for o in session.scalars(select(Observation)))
    records.delete_observation(session, newest, actor="rad", reason="wrong film")
    assert session.get(Observation, newest) is None
    again = records.record_observation(session, other.id, ObservationIn.model_validate(
        {"date": "2024-05-01", "modality": "XR", "size_mm": [4]}), actor="rad")
    assert again.id > newest and first.id != other.id


def test_upgrading_sqlite_to_row_ids_keeps_rows_and_never_reuses_an_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0015_patient_id_lower")
    with engine_for(url).begin() as conn:
        lid = _patient_with_lesion(conn, "compartment, region, laterality, entity",
                                   "'tendon', 'shoulder', 'right', 'hadd'")
        for day in ("2024-02-01", "2024-03-01"):
            _seen_film(conn, lid, day, 12.5)
        conn.execute(text(
            "INSERT INTO alerts (lesion_id, kind, severity, rule, since, reason, state,"
            " opened_at) VALUES (:l, 'no_resolution', 'urgent', 'hadd.no_resolution',"
            " '2024-03-01', 'r', 'acknowledged', CURRENT_TIMESTAMP)"), {"l": lid})
    engine_for(url).dispose()
    upgrade(url)
    with engine_for(url).begin() as conn:
        # the generated sort rank is computed again: acknowledged (3) + urgent (0)
        assert conn.execute(text("SELECT sort_rank FROM alerts")).scalar_one() == 3
        ids = list(conn.execute(text("SELECT id FROM observations ORDER BY id")).scalars())
        assert len(ids) == 2
        conn.execute(text("DELETE FROM observations WHERE id = :i"), {"i": ids[-1]})
        _seen_film(conn, lid, "2024-04-01", 9)
        assert conn.execute(text("SELECT max(id) FROM observations")).scalar_one() > ids[-1]
        indexes = {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'lesions'"))}
        assert {"ix_lesions_next_follow_up", "ix_lesions_recheck_on"} <= indexes
    engine_for(url).dispose()


@pytest.mark.parametrize("own_database_url", ["sqlite"], indirect=True)
def test_every_table_marked_never_reused_has_autoincrement_on_sqlite(own_database_url: str,
                                                                      ) -> None:
    """The models' `NEVER_REUSED_IDS` and migration 0016 say the same: comparing models with
    migrations cannot see AUTOINCREMENT, and a later batch rebuild of a table would drop it."""
    marked = {name for name, table in Base.metadata.tables.items()
              if table.dialect_options["sqlite"]["autoincrement"]}
    with engine_for(own_database_url).connect() as conn:
        stored = {name for name, sql in conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'")) if "AUTOINCREMENT" in sql}
    assert marked and marked == stored
