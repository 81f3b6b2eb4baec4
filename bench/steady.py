"""The steady state the page figures read: a cohort sample assessed for real, worked on by
clinicians, then replicated in SQL to the scale's size, kept as a template database.

A sample (quick 1,000, full 10,000 lesions) is inserted, assessed half a year before `AS_OF` and
again on `AS_OF` (so alerts whose episode ended in between are cleared, as in a running
system), then clinicians act on its uncleared alerts through the alert service (10 %
acknowledged, 5 % snoozed, a fifth of those snoozes ending on the day the pages are read),
and every patient, lesion and observation gets the audit event its import would have written.
Everything is then copied with shifted ids (`replicate`) up to the scale, and two patients
followed for 5 and for 50 shoulder deposits (10 visits each) are added and assessed.

The result is kept as a template database (`calcitrack_bench_10k`, `calcitrack_bench_1m`),
stamped with what built it (`COMMENT ON DATABASE`): a later run reuses it when the stamp
matches, and copies it (`CREATE DATABASE ... TEMPLATE`) to measure, so the template itself is
never written to by a measurement.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from testkit.cohort import generate, insert_rows
from tracker.db import Base, engine_for, normalize_url, session_factory
from tracker.migrate import upgrade
from tracker.models import Alert, Lesion, Observation, Patient
from tracker.services.alerts import decide_alerts
from tracker.services.assessment.assess import assess_lesions
from tracker.services.assessment.scan import reassess_all
from tracker.summaries import rebuild_patient_summaries
from tracker.vocabulary import AlertState

AS_OF = date(2025, 6, 2)  # the cohort's history ends here
TODAY = AS_OF + timedelta(days=1)  # the day the pages are read (the app's pinned TODAY)
EARLIER = AS_OF - timedelta(days=183)  # the assessment before: what ended since is cleared
BUILD_VERSION = 2  # raise when the build changes: a template with another stamp is rebuilt
ACKNOWLEDGED_SHARE, SNOOZED_SHARE = 0.10, 0.05

# Tables copied per replica, with the id columns that move by a stride (FK order).
REPLICATE: tuple[tuple[str, dict[str, str]], ...] = (
    ("patients", {"id": "patients"}),
    ("lesions", {"id": "lesions", "patient_id": "patients"}),
    ("observations", {"id": "observations", "lesion_id": "lesions"}),
    ("observation_features", {"observation_id": "observations"}),
    ("assessments", {"id": "assessments", "observation_id": "observations",
                     "lesion_id": "lesions"}),
    ("transitions", {"id": "transitions", "lesion_id": "lesions"}),
    ("alerts", {"id": "alerts", "lesion_id": "lesions", "patient_id": "patients"}),
    ("treatments", {"id": "treatments", "lesion_id": "lesions"}),
    ("cohort_subjects", {"lesion_id": "lesions"}),
)
AUDIT: tuple[tuple[str, dict[str, str]], ...] = (
    ("audit_events", {"id": "audit_events", "patient_id": "patients", "lesion_id": "lesions",
                      "target_id": "target_type"}),
)
_TARGETS = {"patient": "patients", "lesion": "lesions", "observation": "observations",
            "alert": "alerts", "treatment": "treatments"}


def log(message: str) -> None:
    print(f"  [{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def replicate(url: str, copies: int,
              tables: tuple[tuple[str, dict[str, str]], ...] = REPLICATE) -> None:
    """Copy every row of `tables` `copies - 1` times with shifted ids, in SQL: a database of
    copies x the sample in its steady state (assessed, recheck dates set) in minutes.
    Patient ids get `-k`; an audit event's target id moves with its target's table."""
    if copies <= 1:
        return
    with engine_for(url).begin() as conn:
        stride = {t: conn.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}"))
                  for t, _ in tables if "id" in Base.metadata.tables[t].c}
        for t in _TARGETS.values():
            stride.setdefault(t, conn.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}")))
        for table_name, moved in tables:
            table: Table = Base.metadata.tables[table_name]
            columns = [c.name for c in table.columns if c.computed is None]  # not generated
            exprs = []
            for c in columns:
                if moved.get(c) == "target_type":
                    whens = " ".join(f"WHEN '{kind}' THEN target_id + k * {stride[t]}"
                                     for kind, t in _TARGETS.items())
                    exprs.append(f"CASE target_type {whens} ELSE target_id END")
                elif c in moved:
                    exprs.append(f"{c} + k * {stride[moved[c]]}")
                elif table_name == "patients" and c == "external_id":
                    exprs.append("external_id || '-' || k")
                else:
                    exprs.append(c)
            t0 = time.perf_counter()
            conn.execute(text(
                f"INSERT INTO {table_name} ({', '.join(columns)}) "
                f"SELECT {', '.join(exprs)} FROM {table_name} "
                f"CROSS JOIN generate_series(1, {copies - 1}) AS k"
            ))
            log(f"replicated {table_name} x{copies} in {time.perf_counter() - t0:.0f} s")
        if any(t == "alerts" for t, _ in tables):  # the header's counts: the copies' too
            conn.execute(text("DELETE FROM alert_counts"))
            conn.execute(text("INSERT INTO alert_counts (severity, state, n) SELECT severity, "
                              "state, count(*) FROM alerts WHERE state <> 'cleared' "
                              "GROUP BY severity, state"))
        if any(t == "cohort_subjects" for t, _ in tables):  # copies share their counts' keys
            for counts in ("cohort_counts", "cohort_response_counts"):
                conn.execute(text(f"UPDATE {counts} SET n = n * {copies}"))
        for t in stride:
            if t != "target_type":
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {t}))"))
    vacuum(url)


def vacuum(url: str) -> None:
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# --------------------------------------------------------------------------- the sample


def _decide(url: str, seed: int) -> dict[str, int]:
    """Clinicians at work on the sample's uncleared alerts, through the alert service:
    acknowledgements, snoozes, and snoozes ending on TODAY (due again, not yet reopened)."""
    rng = random.Random(seed)
    with session_factory(url)() as s:
        ids = list(s.scalars(select(Alert.id).where(Alert.state == AlertState.OPEN.value)
                             .order_by(Alert.id)))
    rng.shuffle(ids)
    n_ack, n_snooze = round(len(ids) * ACKNOWLEDGED_SHARE), round(len(ids) * SNOOZED_SHARE)
    acked, snoozed = sorted(ids[:n_ack]), sorted(ids[n_ack:n_ack + n_snooze])
    sessions = session_factory(url)
    for part in range(0, len(acked), 500):
        with sessions() as s:
            decide_alerts(s, acked[part:part + 500], snooze=False, actor="dr.bench",
                          reason="seen, booked for review", today=AS_OF)
    for part in range(0, len(snoozed), 500):
        with sessions() as s:
            until = AS_OF + timedelta(days=rng.choice((14, 30, 60, 90)))
            decide_alerts(s, snoozed[part:part + 500], snooze=True, until=until.isoformat(),
                          actor="dr.bench", reason="waiting for the next film", today=AS_OF)
    ending = snoozed[: len(snoozed) // 5]
    with engine_for(url).begin() as conn:
        conn.execute(Alert.__table__.update().where(Alert.id.in_(ending))  # type: ignore[attr-defined]
                     .values(snoozed_until=TODAY))
    return {"acknowledged": len(acked), "snoozed": len(snoozed), "snooze_ends_today": len(ending)}


_IMPORT_AUDIT = (
    # What `tracker import` files for each created row (tracker/services/imports.py).
    "INSERT INTO audit_events (at, actor, action, target_type, target_id, after, patient_id, "
    "lesion_id) SELECT now(), 'import', 'patient.import', 'patient', p.id, "
    "json_build_object('id', p.external_id, 'birth_year', p.birth_year, 'sex', p.sex), p.id, "
    "NULL FROM patients p",
    "INSERT INTO audit_events (at, actor, action, target_type, target_id, after, patient_id, "
    "lesion_id) SELECT now(), 'import', 'lesion.import', 'lesion', l.id, "
    "json_build_object('id', l.external_id, 'compartment', l.compartment, 'region', l.region, "
    "'laterality', l.laterality, 'entity', l.entity), l.patient_id, l.id FROM lesions l",
    "INSERT INTO audit_events (at, actor, action, target_type, target_id, after, patient_id, "
    "lesion_id) SELECT now(), 'import', 'observation.import', 'observation', o.id, "
    "json_build_object('date', o.date, 'modality', o.modality, 'visible', o.visible, "
    "'size_mm', json_build_array(o.size1_mm), 'density', o.density, 'margin', o.margin), "
    "l.patient_id, l.id FROM observations o JOIN lesions l ON l.id = o.lesion_id",
)


def followed_patient(url: str, external_id: str, n_lesions: int, visits: int) -> list[int]:
    """A patient followed for `n_lesions` shoulder deposits, `visits` visits each, assessed."""
    with engine_for(url).begin() as conn:
        pid = conn.execute(insert(Patient).returning(Patient.id),
                           [{"external_id": external_id}]).scalar_one()
        ids = list(conn.execute(insert(Lesion).returning(Lesion.id, sort_by_parameter_order=True), [
            {"patient_id": pid, "external_id": f"L{i}", "compartment": "tendon",
             "region": "shoulder", "laterality": "right", "entity": "hadd"}
            for i in range(n_lesions)]).scalars())
        conn.execute(insert(Observation), [
            {"lesion_id": lid, "date": date(2023, 1, 2) + timedelta(days=61 * v),
             "modality": "XR", "visible": True, "size1_mm": 12.0 + (v % 3) * 0.1,
             "density": "dense", "margin": "well_defined", "texture": "homogeneous",
             "pattern": "nodular"}
            for lid in ids for v in range(visits)])
    with session_factory(url)() as s:
        assess_lesions(s, ids, AS_OF)
    return ids


@dataclass(frozen=True)
class Stamp:
    """What built a template (and the schema revision it was built at)."""

    build_version: int
    sample: int
    copies: int
    revision: str
    built_at: str = ""
    build_seconds: float = 0.0
    counts: dict[str, int] | None = None

    def same_build(self, other: Stamp) -> bool:
        """Same data; the schema revision may differ (a copy is migrated to head)."""
        return (self.build_version, self.sample, self.copies) == (
            other.build_version, other.sample, other.copies)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from tracker.migrate import alembic_config

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def counts(url: str) -> dict[str, int]:
    with engine_for(url).connect() as conn:
        out = {t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in (
            "patients", "lesions", "observations", "assessments", "transitions", "treatments",
            "alerts", "audit_events")}
        for state, n in conn.execute(text("SELECT state, count(*) FROM alerts GROUP BY state")):
            out[f"alerts {state}"] = int(n)
    return out


def build(url: str, sample: int, copies: int) -> dict[str, int]:
    """The steady state in the (migrated, empty) database at `url`."""
    log(f"steady state: {sample} lesions assessed for real, replicated x{copies}")
    insert_rows(url, generate(sample, seed=11, start=date(2021, 1, 4), span_days=1200,
                              last_day=AS_OF))
    with session_factory(url)() as s:
        reassess_all(s, EARLIER)
        reassess_all(s, AS_OF)
    decided = _decide(url, seed=7)
    with engine_for(url).begin() as conn:
        for statement in _IMPORT_AUDIT:
            conn.execute(text(statement))
    log(f"sample assessed and worked on: {decided}")
    replicate(url, copies, REPLICATE + AUDIT)
    followed_patient(url, "PAGE-5", 5, 10)
    followed_patient(url, "PAGE-50", 50, 10)
    with session_factory(url)() as s:  # the rows above were written around the services
        rebuild_patient_summaries(s)
        s.commit()
    vacuum(url)
    return counts(url)


# --------------------------------------------------------------------------- the template


def _admin(server_url: str) -> Any:
    return create_engine(make_url(normalize_url(server_url)), isolation_level="AUTOCOMMIT")


def database_url(server_url: str, name: str) -> str:
    return make_url(normalize_url(server_url)).set(database=name).render_as_string(
        hide_password=False)


def read_stamp(server_url: str, name: str) -> Stamp | None:
    admin = _admin(server_url)
    with admin.connect() as conn:
        comment = conn.scalar(text(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"
        ), {"n": name})
    admin.dispose()
    if not comment:
        return None
    try:
        return Stamp(**json.loads(comment))
    except (ValueError, TypeError):
        return None


def ensure_template(server_url: str, name: str, sample: int, copies: int,
                    rebuild: bool = False) -> Stamp:
    """The template database `name` in its steady state: reused when its stamp matches
    (unless `rebuild`), else built afresh (dropped first)."""
    want = Stamp(BUILD_VERSION, sample, copies, head_revision())
    have = read_stamp(server_url, name)
    if have is not None and have.same_build(want) and not rebuild:
        log(f"steady state: reusing {name} (built {have.built_at} in {have.build_seconds:.0f} s)")
        return have
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = database_url(server_url, name)
    t0 = time.perf_counter()
    upgrade(url)
    found = build(url, sample, copies)
    engine_for(url).dispose()
    stamp = Stamp(BUILD_VERSION, sample, copies, want.revision,
                  datetime.now().astimezone().isoformat(timespec="seconds"),
                  round(time.perf_counter() - t0, 1), found)
    with admin.connect() as conn:
        literal = json.dumps(asdict(stamp)).replace("'", "''")
        conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{literal}'"))
    admin.dispose()
    log(f"steady state: {name} built in {stamp.build_seconds:.0f} s: {found}")
    return stamp


def copy_of(server_url: str, template: str, name: str) -> str:
    """A fresh database copied from the template, migrated to this branch's head."""
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    url = database_url(server_url, name)
    upgrade(url)
    return url


def drop(server_url: str, name: str) -> None:
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def template_copy(server_url: str, template: str, sample: int, copies: int,
                  name: str) -> Iterator[str]:
    """A migrated copy of the steady-state template (built first if missing), dropped after."""
    ensure_template(server_url, template, sample, copies)
    url = copy_of(server_url, template, name)
    try:
        yield url
    finally:
        engine_for(url).dispose()
        drop(server_url, name)
